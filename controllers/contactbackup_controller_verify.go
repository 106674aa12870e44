package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// defaultVerifySchedule is spec.verify.schedule's default, for objects the API server has not
// defaulted (created before the field existed and not written since).
const defaultVerifySchedule = "30 3 * * *"

// verifyExamples is how many damaged users or files a drill's message names.
const verifyExamples = 3

// verifyOutcome is what one restore drill found: the Verified condition it earned.
type verifyOutcome struct {
	// Snapshot is the snapshot the drill read; "" when there was none to read.
	Snapshot string
	Status   metav1.ConditionStatus
	Reason   string
	Message  string
}

func (o verifyOutcome) failed() bool { return o.Status == metav1.ConditionFalse }

// verifyIfDue runs a restore drill when spec.verify.schedule or the verify-now annotation asks for
// one, and returns its outcome (nil when none ran) and the next scheduled drill.
func (r *ContactBackupReconciler) verifyIfDue(ctx context.Context, b *ocsv1.ContactBackup, status *statusWriter, now time.Time) (*verifyOutcome, time.Time, error) {
	spec := b.Spec.Verify.Schedule
	if spec == "" {
		spec = defaultVerifySchedule
	}
	sched, err := parseBackupSchedule(spec, now)
	if err != nil {
		setCondition(b, ocsv1.ConditionVerified, metav1.ConditionUnknown, ocsv1.ReasonInvalidVerifySchedule,
			"No restore drill runs: ContactBackup "+strings.Replace(err.Error(), "spec.schedule", "spec.verify.schedule", 1)+".")
		return nil, time.Time{}, nil
	}
	var last *time.Time
	if t := b.Status.LastVerifyScheduleTime; t != nil {
		last = &t.Time
	}
	scheduled, scheduledAt, next := decideBackupSchedule(sched, last, b.CreationTimestamp.Time, now)
	request := b.Annotations[ocsv1.AnnotationVerifyNow]
	if request == b.Status.LastHandledVerifyRequest {
		request = ""
	}
	if !scheduled && request == "" {
		return nil, next, nil
	}
	pool := &ocsv1.OCSPool{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: b.Spec.PoolRef.Name}, pool); err != nil {
		// The pool's product decides the import format: without it the drill waits (Ready
		// reports a missing pool).
		if apierrors.IsNotFound(err) {
			return nil, next, nil
		}
		return nil, next, fmt.Errorf("reading OCSPool %s/%s: %w", b.Namespace, b.Spec.PoolRef.Name, err)
	}

	setCondition(b, ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonVerifying,
		"Re-reading the newest snapshot of ContactBackup "+b.Name+" end to end (restore drill).")
	if err := status.Checkpoint(ctx, b); err != nil {
		return nil, next, err
	}
	o := r.runVerify(ctx, b, pool)
	if scheduled {
		b.Status.LastVerifyScheduleTime = &metav1.Time{Time: scheduledAt}
	}
	if request != "" {
		b.Status.LastHandledVerifyRequest = request
	}
	r.recordVerify(ctx, b, o, now)
	return &o, next, nil
}

// runVerify reads the newest snapshot end to end and, with spec.verify.roundTrip, restores the
// canary's list from it.
func (r *ContactBackupReconciler) runVerify(ctx context.Context, b *ocsv1.ContactBackup, pool *ocsv1.OCSPool) verifyOutcome {
	timeout := r.RunTimeout
	if timeout <= 0 {
		timeout = defaultBackupRunTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	store, err := openBackupStore(ctx, r.Secrets, b)
	if err != nil {
		return verifyUnavailable(b, err)
	}
	repo := backup.NewRepository(store, repositoryPrefix(b))
	ms, bad, err := repo.Snapshots(ctx)
	if err != nil {
		return verifyUnavailable(b, err)
	}
	m, o, done := drillTarget(b, ms, bad)
	if done {
		return o
	}
	logf.FromContext(ctx).V(1).Info("Verifying snapshot", "snapshot", m.Name)
	product := pool.Spec.Product
	rep, err := repo.Verify(ctx, m, func(key string, data []byte) error { return encodesForImport(product, key, data) })
	if err != nil {
		return verifyUnavailable(b, err)
	}
	if !rep.OK() {
		return drillFailure(rep)
	}
	o = verifyOutcome{Snapshot: m.Name, Status: metav1.ConditionTrue, Reason: ocsv1.ReasonSnapshotVerified,
		Message: fmt.Sprintf("Snapshot %s is restorable: %d users' contact lists and %d configuration files matched their digests, and every list encodes for %s.",
			m.Name, rep.Users, rep.Files, importFormatName(product))}
	if !b.Spec.Verify.RoundTrip {
		return o
	}
	note, err := r.roundTrip(ctx, b, pool, repo, m)
	if err != nil {
		return verifyOutcome{Snapshot: m.Name, Status: metav1.ConditionFalse, Reason: ocsv1.ReasonRoundTripFailed,
			Message: fmt.Sprintf("Snapshot %s matched its digests, but the round trip of spec.verify.canary %s failed: %v.", m.Name, b.Spec.Verify.Canary, err)}
	}
	o.Message += " " + note
	return o
}

// verifyUnavailable is the outcome of a drill the store stopped: nothing is known of the data.
func verifyUnavailable(b *ocsv1.ContactBackup, err error) verifyOutcome {
	return verifyOutcome{Status: metav1.ConditionUnknown, Reason: ocsv1.ReasonStorageUnavailable,
		Message: fmt.Sprintf("The restore drill could not read %s: %v.", describeStorage(b), err)}
}

// drillTarget picks the snapshot a drill reads: the newest. When the newest manifest cannot be
// read, that is the drill's finding (done is true): an older readable one would hide it.
func drillTarget(b *ocsv1.ContactBackup, ms []*backup.Manifest, bad []backup.SkippedSnapshot) (*backup.Manifest, verifyOutcome, bool) {
	if len(bad) > 0 && (len(ms) == 0 || bad[0].Name > ms[0].Name) {
		if !errors.Is(bad[0].Err, backup.ErrCorrupt) {
			return nil, verifyUnavailable(b, bad[0].Err), true
		}
		return nil, verifyOutcome{Snapshot: bad[0].Name, Status: metav1.ConditionFalse, Reason: ocsv1.ReasonSnapshotUnreadable,
			Message: fmt.Sprintf("The manifest of the newest snapshot %s cannot be read: %v.", bad[0].Name, bad[0].Err)}, true
	}
	if len(ms) == 0 {
		return nil, verifyOutcome{Status: metav1.ConditionUnknown, Reason: ocsv1.ReasonNoSnapshot,
			Message: "There is no snapshot to verify yet."}, true
	}
	return ms[0], verifyOutcome{}, false
}

// drillFailure describes what a drill found wrong: damage first, since no restore could use it.
func drillFailure(rep *backup.VerifyReport) verifyOutcome {
	o := verifyOutcome{Snapshot: rep.Snapshot, Status: metav1.ConditionFalse}
	var kind backup.ProblemKind
	switch {
	case rep.Corrupt > 0:
		o.Reason, kind = ocsv1.ReasonBlobCorrupt, backup.ProblemCorrupt
		o.Message = fmt.Sprintf("Snapshot %s has %d damaged object(s) (missing, or not matching their SHA-256 digest)", rep.Snapshot, rep.Corrupt)
	default:
		o.Reason, kind = ocsv1.ReasonDocumentNotEncodable, backup.ProblemDocument
		o.Message = fmt.Sprintf("Snapshot %s has %d contact list(s) that match their digest but would not import", rep.Snapshot, rep.Documents)
	}
	var examples []string
	for _, p := range rep.Problems {
		if p.Kind == kind && len(examples) < verifyExamples {
			examples = append(examples, p.String())
		}
	}
	o.Message += ", e.g. " + strings.Join(examples, "; ")
	if rep.Corrupt > 0 && rep.Documents > 0 {
		o.Message += fmt.Sprintf("; and %d contact list(s) that would not import", rep.Documents)
	}
	o.Message += "."
	return o
}

// importFormatName names the import format of a product, for messages.
func importFormatName(p ocsv1.Product) string {
	if p == ocsv1.ProductSkypeForBusiness {
		return "Update-CsUserData (DocItemSet ZIP)"
	}
	return "dbimpexp /import (homed-resources XML, UTF-16)"
}

// encodesForImport checks one user's stored list as a restore would use it: it decodes, belongs
// to the user it is stored under, has a SIP address the agent would send, and survives encoding
// into the import format of the product and parsing back unchanged.
func encodesForImport(product ocsv1.Product, key string, data []byte) error {
	res, err := contacts.UnmarshalResource(data)
	if err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if got := snapshotKey(res.UserAtHost); got != key {
		return fmt.Errorf("holds the list of %s", got)
	}
	if err := ocs.ValidateSIP("sip:" + res.UserAtHost); err != nil {
		return fmt.Errorf("would be refused by the import: %w", err)
	}
	doc := &contacts.Document{Resources: []contacts.Resource{res}}
	var back *contacts.Document
	if product == ocsv1.ProductSkypeForBusiness {
		var zip []byte
		if zip, err = contacts.WriteUserDataZip(doc); err == nil {
			back, err = contacts.ReadUserDataZip(zip)
		}
	} else {
		var xml []byte
		if xml, err = contacts.MarshalHomedResources(doc); err == nil {
			back, err = contacts.ParseHomedResources(xml)
		}
	}
	if err != nil {
		return fmt.Errorf("does not encode for %s: %w", importFormatName(product), err)
	}
	if len(back.Resources) != 1 || !reflect.DeepEqual(back.Resources[0], res) {
		return fmt.Errorf("changes when encoded for %s", importFormatName(product))
	}
	return nil
}

// recordVerify writes a drill's outcome into status, events and the log.
func (r *ContactBackupReconciler) recordVerify(ctx context.Context, b *ocsv1.ContactBackup, o verifyOutcome, now time.Time) {
	setCondition(b, ocsv1.ConditionVerified, o.Status, o.Reason, o.Message)
	log := logf.FromContext(ctx)
	switch o.Status {
	case metav1.ConditionTrue:
		b.Status.LastVerifiedTime = &metav1.Time{Time: now}
		b.Status.LastVerifiedSnapshot = o.Snapshot
		log.Info("Verified snapshot", "snapshot", o.Snapshot)
		r.Recorder.Eventf(b, nil, corev1.EventTypeNormal, o.Reason, "Verify", "%s", o.Message)
	case metav1.ConditionFalse:
		log.Info("Restore drill failed", "snapshot", o.Snapshot, "reason", o.Reason)
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, o.Reason, "Verify", "%s", o.Message)
	default:
		log.Info("Restore drill could not run", "reason", o.Reason, "error", o.Message)
		if o.Reason == ocsv1.ReasonStorageUnavailable {
			r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, o.Reason, "Verify", "%s", o.Message)
		}
	}
}

// setVerifiedBeforeDrill sets Verified when no drill ran in this pass: a previous drill's
// finding stays; before the first, it is Unknown until next.
func setVerifiedBeforeDrill(b *ocsv1.ContactBackup, next time.Time) {
	prev := meta.FindStatusCondition(b.Status.Conditions, ocsv1.ConditionVerified)
	if prev != nil && prev.Reason != ocsv1.ReasonWaitingForVerify && prev.Reason != ocsv1.ReasonInvalidVerifySchedule {
		return
	}
	if next.IsZero() {
		return // an invalid schedule, already reported
	}
	setCondition(b, ocsv1.ConditionVerified, metav1.ConditionUnknown, ocsv1.ReasonWaitingForVerify,
		"No restore drill has run yet; the first is due at "+next.UTC().Format(time.RFC3339)+".")
}

// roundTrip imports the canary's list from snapshot m into the canary's current home and reads it
// back. The import merges (dbimpexp /import, Update-CsUserData), so the read-back list must hold
// every group, contact and access entry of the snapshot. It returns a sentence for the message.
func (r *ContactBackupReconciler) roundTrip(ctx context.Context, b *ocsv1.ContactBackup, pool *ocsv1.OCSPool, repo *backup.Repository, m *backup.Manifest) (string, error) {
	canary := b.Spec.Verify.Canary
	data, err := repo.ReadUser(ctx, m, snapshotKey(canary))
	if errors.Is(err, backup.ErrNotFound) {
		return "", fmt.Errorf("the canary is not in the snapshot")
	}
	if err != nil {
		return "", err
	}
	want, err := contacts.UnmarshalResource(data)
	if err != nil {
		return "", err
	}
	serving, _ := backupServers(pool)
	if len(serving) == 0 {
		return "The round trip did not run: no server of OCSPool " + pool.Name + " serves.", nil
	}
	agent, err := r.Agents.AgentFor(ctx, pool)
	if err != nil {
		return "", fmt.Errorf("getting the agent of OCSPool %s: %w", pool.Name, err)
	}
	home, err := canaryHome(ctx, agent, serving[0], canary)
	if err != nil {
		return "", err
	}
	if !slices.Contains(serving, home) {
		return fmt.Sprintf("The round trip did not run: the canary's home %s does not serve.", home), nil
	}
	logf.FromContext(ctx).Info("Restoring the canary's contacts for the round trip", "user", canary, "server", home,
		"OCSPool", klog.KObj(pool))
	got, err := importAndReadBack(ctx, agent, home, canary, want)
	if err != nil {
		return "", err
	}
	if missing := missingAfterMerge(want, got); len(missing) > 0 {
		return "", fmt.Errorf("read back from %s without %s", home, strings.Join(missing, ", "))
	}
	return fmt.Sprintf("The canary's list (%d contacts) was imported into %s and read back intact.", want.Count(), home), nil
}

// canaryHome asks the directory, through server via, for the canary's home server.
func canaryHome(ctx context.Context, agent ocs.Agent, via, canary string) (string, error) {
	users, err := agent.ListUsers(ctx, via)
	if err != nil {
		return "", fmt.Errorf("listing the users: %w", err)
	}
	for _, u := range users {
		if snapshotKey(u.SIP) == snapshotKey(canary) {
			if u.Server == "" {
				return "", fmt.Errorf("the canary is homed outside the pool")
			}
			return u.Server, nil
		}
	}
	return "", fmt.Errorf("the canary is not in the directory")
}

// importAndReadBack imports want into home and exports the canary's list from there.
func importAndReadBack(ctx context.Context, agent ocs.Agent, home, canary string, want contacts.Resource) (contacts.Resource, error) {
	results, err := agent.ImportContacts(ctx, home, &contacts.Document{Resources: []contacts.Resource{want}})
	if err != nil {
		return contacts.Resource{}, fmt.Errorf("importing into %s: %w", home, err)
	}
	if len(results) != 1 || !results[0].OK {
		msg := "no result"
		if len(results) == 1 {
			msg = results[0].Message
		}
		return contacts.Resource{}, fmt.Errorf("importing into %s: %s", home, msg)
	}
	doc, err := agent.ExportContacts(ctx, home, []string{canary})
	if err != nil {
		return contacts.Resource{}, fmt.Errorf("reading back from %s: %w", home, err)
	}
	for _, res := range doc.Resources {
		if snapshotKey(res.UserAtHost) == snapshotKey(canary) {
			return res, nil
		}
	}
	return contacts.Resource{}, fmt.Errorf("reading back from %s: the export holds no list for the canary", home)
}

// missingAfterMerge lists what of want is not in got: after a merge, every group (by number and
// name), contact (by buddy, with its groups and presence flag) and access entry must be there.
func missingAfterMerge(want, got contacts.Resource) []string {
	var missing []string
	groups := map[int]contacts.Group{}
	for _, g := range got.Groups {
		groups[g.Number] = g
	}
	for _, g := range want.Groups {
		if groups[g.Number] != g {
			missing = append(missing, fmt.Sprintf("group %d", g.Number))
		}
	}
	buddies := map[string]contacts.Contact{}
	for _, c := range got.Contacts {
		buddies[strings.ToLower(c.Buddy)] = c
	}
	for _, c := range want.Contacts {
		g, ok := buddies[strings.ToLower(c.Buddy)]
		g.Buddy = c.Buddy // SIP addresses compare without case
		if !ok || !reflect.DeepEqual(g, c) {
			missing = append(missing, "contact "+c.Buddy)
		}
	}
	members := map[string]bool{}
	for _, ct := range got.Containers {
		for _, m := range ct.Members {
			members[fmt.Sprintf("%d/%s", ct.Number, strings.ToLower(m))] = true
		}
	}
	for _, ct := range want.Containers {
		for _, m := range ct.Members {
			if !members[fmt.Sprintf("%d/%s", ct.Number, strings.ToLower(m))] {
				missing = append(missing, fmt.Sprintf("access entry %s in container %d", m, ct.Number))
			}
		}
	}
	return missing
}
