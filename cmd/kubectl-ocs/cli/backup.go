package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// request is an on-demand run asked of a ContactBackup by an annotation; the controller echoes the
// annotation's value into a status field once it has handled it.
type request struct {
	use, short, long string
	annotation       string
	handled          func(*ocsv1.ContactBackupStatus) string
	print            func(io.Writer, *ocsv1.ContactBackup) error
}

var (
	requestBackup = request{
		use:   "backup <contactbackup>",
		short: "Take a snapshot now (the ocs.ocsha.io/backup-now annotation)",
		long: "backup sets the ocs.ocsha.io/backup-now annotation of the ContactBackup to the current time; the operator\n" +
			"takes a snapshot and records the value in status.lastHandledRequest. With --wait the command\n" +
			"waits for that and prints the snapshot.",
		annotation: ocsv1.AnnotationBackupNow,
		handled:    func(s *ocsv1.ContactBackupStatus) string { return s.LastHandledRequest },
		print:      printSnapshot,
	}
	requestVerify = request{
		use:   "verify <contactbackup>",
		short: "Run a restore drill now (the ocs.ocsha.io/verify-now annotation)",
		long: "verify sets the ocs.ocsha.io/verify-now annotation of the ContactBackup to the current time; the operator\n" +
			"re-reads the newest snapshot end to end and records the value in status.lastHandledVerifyRequest.\n" +
			"With --wait the command waits for that and prints the drill's outcome.",
		annotation: ocsv1.AnnotationVerifyNow,
		handled:    func(s *ocsv1.ContactBackupStatus) string { return s.LastHandledVerifyRequest },
		print:      printVerified,
	}
)

func newBackupCommand(o *options, r request) *cobra.Command {
	var (
		waitFor bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use: r.use, Short: r.short, Long: r.long,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.runRequest(cmd.Context(), r, args[0], waitFor, timeout)
		},
	}
	cmd.Flags().BoolVar(&waitFor, "wait", false, "Wait until the operator has handled the request, then print its outcome.")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "How long --wait waits.")
	return cmd
}

// requestPatch is the merge patch setting the annotation to stamp.
func requestPatch(annotation, stamp string) ([]byte, error) {
	return json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotation: stamp}}})
}

func (o *options) runRequest(ctx context.Context, r request, name string, waitFor bool, timeout time.Duration) error {
	res := o.dyn.Resource(backupGVR).Namespace(o.namespace)
	// The value only has to differ from the last one; the time tells the admin when it was asked.
	stamp := o.now().UTC().Format(time.RFC3339Nano)
	patch, err := requestPatch(r.annotation, stamp)
	if err != nil {
		return fmt.Errorf("encoding the request: %w", err)
	}
	u, err := res.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("setting %s on ContactBackup %s/%s: %w", r.annotation, o.namespace, name, err)
	}
	if !waitFor {
		if o.output != outputTable {
			return o.printObject(u)
		}
		fmt.Fprintf(o.streams.Out, "ContactBackup %s: requested %s=%s.\n", name, r.annotation, stamp)
		return nil
	}
	fmt.Fprintf(o.streams.ErrOut, "ContactBackup %s: requested %s=%s; waiting for the operator.\n", name, r.annotation, stamp)
	var cb ocsv1.ContactBackup
	err = wait.PollUntilContextTimeout(ctx, o.poll, timeout, true, func(ctx context.Context) (bool, error) {
		if u, err = res.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("reading ContactBackup %s/%s: %w", o.namespace, name, err)
		}
		if err := fromUnstructured(u, &cb); err != nil {
			return false, err
		}
		return r.handled(&cb.Status) == stamp, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("ContactBackup %s/%s has not handled %s=%s within %s: is the manager running?", o.namespace, name, r.annotation, stamp, timeout)
		}
		return err
	}
	if o.output != outputTable {
		return o.printObject(u)
	}
	return r.print(o.streams.Out, &cb)
}

// errRequestFailed is returned, after its outcome is printed, when the operator handled a request
// and the run failed: scripts see a non-zero exit.
var errRequestFailed = errors.New("the run failed")

// printSnapshot writes the snapshot a handled backup request wrote, or why it wrote none (the
// run's outcome is in Ready, written with lastHandledRequest).
func printSnapshot(w io.Writer, cb *ocsv1.ContactBackup) error {
	ready := meta.FindStatusCondition(cb.Status.Conditions, ocsv1.ConditionReady)
	if len(cb.Status.Snapshots) == 0 || (ready != nil && ready.Status == metav1.ConditionFalse) {
		fmt.Fprintf(w, "ContactBackup %s: no snapshot was written: %s\n", cb.Name, readyMessage(cb))
		return fmt.Errorf("ContactBackup %s/%s: %w", cb.Namespace, cb.Name, errRequestFailed)
	}
	s := cb.Status.Snapshots[0]
	t := newTable(w, "SNAPSHOT", "TIME", "USERS", "CONTACTS", "BYTES", "SKIPPED SERVERS")
	skipped := "-"
	if len(s.SkippedServers) > 0 {
		skipped = strings.Join(s.SkippedServers, ",")
	}
	t.add(s.Name, s.Time.UTC().Format(time.RFC3339), itoa(s.Users), itoa(s.Contacts), fmt.Sprint(s.Bytes), skipped)
	return t.flush()
}

// printVerified writes the outcome of a handled restore drill.
func printVerified(w io.Writer, cb *ocsv1.ContactBackup) error {
	c := meta.FindStatusCondition(cb.Status.Conditions, ocsv1.ConditionVerified)
	if c == nil {
		fmt.Fprintf(w, "ContactBackup %s: no Verified condition yet.\n", cb.Name)
		return nil
	}
	t := newTable(w, "VERIFIED", "REASON", "SNAPSHOT", "MESSAGE")
	t.add(string(c.Status), c.Reason, orDash(cb.Status.LastVerifiedSnapshot), oneLine(c.Message))
	if err := t.flush(); err != nil {
		return err
	}
	if c.Status == metav1.ConditionFalse {
		return fmt.Errorf("ContactBackup %s/%s restore drill: %w", cb.Namespace, cb.Name, errRequestFailed)
	}
	return nil
}

func readyMessage(cb *ocsv1.ContactBackup) string {
	if c := meta.FindStatusCondition(cb.Status.Conditions, ocsv1.ConditionReady); c != nil {
		return fmt.Sprintf("Ready %s (%s) %s", c.Status, c.Reason, oneLine(c.Message))
	}
	return "no Ready condition yet"
}
