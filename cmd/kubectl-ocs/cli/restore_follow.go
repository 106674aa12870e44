package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// followOptions are the --wait flags.
type followOptions struct {
	wait    bool
	timeout time.Duration
}

// restoreState is what --wait reports of a ContactRestore at one read.
type restoreState struct {
	// line is the progress line printed when it changes.
	line string
	// done: the restore ended (status.completionTime) or needs a human (Stalled).
	done bool
	// failed: it ended with failed users, or stalled.
	failed bool
}

// restoreStateOf reads a ContactRestore's progress; it is pure.
func restoreStateOf(cr *ocsv1.ContactRestore) restoreState {
	u := cr.Status.Users
	st := restoreState{line: fmt.Sprintf("%s: %d/%d users settled (%d restored, %d unchanged, %d failed)",
		orDash(cr.Status.Phase), u.Restored+u.Unchanged+u.Failed, u.Targeted, u.Restored, u.Unchanged, u.Failed)}
	if c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionReady); c != nil {
		st.line += fmt.Sprintf("; Ready %s %s: %s", c.Status, c.Reason, oneLine(c.Message))
	}
	if c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		st.line += fmt.Sprintf("; Stalled %s: %s", c.Reason, oneLine(c.Message))
		st.done, st.failed = true, true
	}
	if cr.Status.CompletionTime != nil {
		st.done = true
		st.failed = st.failed || u.Failed > 0
	}
	return st
}

// followRestore prints a restore's progress lines until it ends, then its outcome.
func (o *options) followRestore(ctx context.Context, name string, f followOptions) error {
	res := o.dyn.Resource(restoreGVR).Namespace(o.namespace)
	var (
		u    *unstructured.Unstructured
		cr   ocsv1.ContactRestore
		last restoreState
	)
	err := wait.PollUntilContextTimeout(ctx, o.poll, f.timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		if u, err = res.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("reading ContactRestore %s/%s: %w", o.namespace, name, err)
		}
		cr = ocsv1.ContactRestore{}
		if err := fromUnstructured(u, &cr); err != nil {
			return false, err
		}
		st := restoreStateOf(&cr)
		if st.line != last.line {
			fmt.Fprintf(o.streams.ErrOut, "ContactRestore %s: %s\n", name, st.line)
		}
		last = st
		return st.done, nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("ContactRestore %s/%s has not ended within %s (%s): is the manager running?", o.namespace, name, f.timeout, last.line)
		}
		return err
	}
	if o.output != outputTable {
		if err := o.printObject(u); err != nil {
			return err
		}
	} else if err := printRestoreOutcome(o.streams.Out, &cr); err != nil {
		return err
	}
	if last.failed {
		return fmt.Errorf("ContactRestore %s/%s: %w", o.namespace, name, errRequestFailed)
	}
	return nil
}

// printRestoreOutcome writes the counters of an ended restore, a dry run's findings per server,
// and the first failed users.
func printRestoreOutcome(w io.Writer, cr *ocsv1.ContactRestore) error {
	u := cr.Status.Users
	reason, msg := "-", ""
	if c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		reason, msg = c.Reason, c.Message
	} else if c := meta.FindStatusCondition(cr.Status.Conditions, ocsv1.ConditionReady); c != nil {
		reason, msg = c.Reason, c.Message
	}
	t := newTable(w, "NAME", "SNAPSHOT", "TARGETED", "RESTORED", "UNCHANGED", "FAILED", "NOT IN SNAPSHOT", "REASON", "MESSAGE")
	t.add(cr.Name, orDash(cr.Status.Snapshot), itoa(u.Targeted), itoa(u.Restored), itoa(u.Unchanged), itoa(u.Failed),
		itoa(u.WithoutCopy), reason, oneLine(msg))
	if err := t.flush(); err != nil {
		return err
	}
	if len(cr.Status.DryRun) > 0 {
		fmt.Fprintln(w)
		p := newTable(w, "SERVER", "USERS", "TO RESTORE", "CONTACTS TO ADD")
		for _, d := range cr.Status.DryRun {
			p.add(d.Server, itoa(d.Users), itoa(d.UsersToRestore), itoa(d.Contacts))
		}
		if err := p.flush(); err != nil {
			return err
		}
	}
	if len(cr.Status.FailedUsers) > 0 {
		fmt.Fprintln(w)
		f := newTable(w, "FAILED USER", "WHY")
		for _, fu := range cr.Status.FailedUsers {
			f.add(fu.User, oneLine(fu.Reason))
		}
		return f.flush()
	}
	return nil
}
