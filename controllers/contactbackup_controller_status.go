package controllers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
)

// maxSnapshotSummaries is the bound of status.snapshots (the CRD's maxItems).
const maxSnapshotSummaries = 20

// backupFacts is what one pass learned; the conditions are computed from it alone.
type backupFacts struct {
	// next is the next scheduled time.
	next time.Time
	// poolMissing: spec.poolRef names no OCSPool.
	poolMissing bool
	// waitingForPool: a run is due but the pool has not reported its servers yet.
	waitingForPool bool
	// outcome of the run of this pass, nil when none ran.
	outcome *backupOutcome
	// overdue: two scheduled times passed since the last success; overdueSince is the second.
	overdue      bool
	overdueSince time.Time
	// verify is the outcome of the restore drill of this pass, nil when none ran; nextVerify is
	// the next scheduled drill (zero when spec.verify.schedule is invalid).
	verify     *verifyOutcome
	nextVerify time.Time
}

// backupCondition is one condition to set.
type backupCondition struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

// lastOutcomeReasons are the Ready reasons that describe the last run; they stay until another
// run or a problem that blocks runs replaces them.
var lastOutcomeReasons = map[string]bool{
	ocsv1.ReasonBackupSucceeded: true, ocsv1.ReasonBackupPartial: true, ocsv1.ReasonBackupFailed: true,
	ocsv1.ReasonStorageUnavailable: true,
}

// backupReady computes Ready. prev is the current Ready condition (nil when absent).
func backupReady(b *ocsv1.ContactBackup, f backupFacts, prev *metav1.Condition) backupCondition {
	o := f.outcome
	switch {
	case f.poolMissing:
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonPoolNotFound,
			fmt.Sprintf("ContactBackup spec.poolRef.name %q names no OCSPool in namespace %s.", b.Spec.PoolRef.Name, b.Namespace)}
	case f.waitingForPool:
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonPoolNotReady,
			fmt.Sprintf("A backup is due but OCSPool %s has not reported the state of its servers yet.", b.Spec.PoolRef.Name)}
	case o != nil && o.Err != nil && o.StorageUnavailable:
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonStorageUnavailable, "The last run wrote no snapshot: " + o.Err.Error()}
	case f.overdue:
		last := "no snapshot was ever written"
		if t := b.Status.LastSuccessfulTime; t != nil {
			last = "the last snapshot was written at " + t.UTC().Format(time.RFC3339)
		}
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonBackupOverdue,
			fmt.Sprintf("Backups are overdue: %s, and two scheduled runs have passed since (the second at %s).", last, f.overdueSince.Format(time.RFC3339))}
	case o != nil && o.Err != nil:
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonBackupFailed,
			fmt.Sprintf("The last run wrote no snapshot: %s. The next run is at %s.", o.Err, f.next.Format(time.RFC3339))}
	case o != nil && len(o.Skipped) > 0:
		return backupCondition{metav1.ConditionTrue, ocsv1.ReasonBackupPartial,
			fmt.Sprintf("Snapshot %s was written without server(s) %s.", o.Manifest.Name, describeBackupSkips(o.Skipped))}
	case o != nil:
		return backupCondition{metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded,
			fmt.Sprintf("Snapshot %s holds %d users and %d contacts.", o.Manifest.Name, o.Manifest.Users, o.Manifest.Contacts)}
	case prev != nil && lastOutcomeReasons[prev.Reason]:
		return backupCondition{prev.Status, prev.Reason, prev.Message}
	case b.Status.LastSuccessfulTime != nil:
		return backupCondition{metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded,
			"The last snapshot was written at " + b.Status.LastSuccessfulTime.UTC().Format(time.RFC3339) + "."}
	default:
		return backupCondition{metav1.ConditionTrue, ocsv1.ReasonWaitingForSchedule,
			"No backup has run yet; the first is due at " + f.next.Format(time.RFC3339) + "."}
	}
}

// verifyFailureReasons are the Verified reasons of a failed drill; Degraded repeats them.
var verifyFailureReasons = map[string]bool{
	ocsv1.ReasonBlobCorrupt: true, ocsv1.ReasonDocumentNotEncodable: true,
	ocsv1.ReasonSnapshotUnreadable: true, ocsv1.ReasonRoundTripFailed: true,
}

// backupDegraded computes Degraded. A failed restore drill (verified is the Verified condition
// after this pass) degrades the backup until a drill passes: the snapshots may not restore.
// Otherwise Degraded describes the last snapshot written, so a failed run leaves it as it was
// (Ready says the run failed).
func backupDegraded(f backupFacts, prev, verified *metav1.Condition) backupCondition {
	if verified != nil && verified.Status == metav1.ConditionFalse {
		return backupCondition{metav1.ConditionTrue, verified.Reason, "The last restore drill failed: " + verified.Message}
	}
	if prev != nil && verifyFailureReasons[prev.Reason] {
		prev = nil // the drill passed since: what the snapshots say is decided below
	}
	o := f.outcome
	switch {
	case o != nil && o.Manifest != nil && len(o.Skipped) > 0:
		return backupCondition{metav1.ConditionTrue, ocsv1.ReasonBackupPartial,
			fmt.Sprintf("Snapshot %s skipped server(s) %s: their users' contacts are only in older snapshots.", o.Manifest.Name, describeBackupSkips(o.Skipped))}
	case o != nil && o.Manifest != nil && len(o.ConfigFailed) > 0:
		return backupCondition{metav1.ConditionTrue, ocsv1.ReasonBackupPartial,
			fmt.Sprintf("Snapshot %s lacks the configuration of server(s) %s: the export failed.", o.Manifest.Name, strings.Join(o.ConfigFailed, ", "))}
	case o != nil && o.Manifest != nil:
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonAsExpected, ""}
	case prev != nil && prev.Status != metav1.ConditionUnknown:
		return backupCondition{prev.Status, prev.Reason, prev.Message}
	default:
		return backupCondition{metav1.ConditionFalse, ocsv1.ReasonAsExpected, ""}
	}
}

// setBackupConditions sets Ready, Degraded, Stalled and Reconciling from the facts of one pass
// that ran to its end (an invalid schedule is reported apart).
func setBackupConditions(b *ocsv1.ContactBackup, f backupFacts) {
	if f.verify == nil {
		setVerifiedBeforeDrill(b, f.nextVerify)
	}
	conds := b.Status.Conditions
	ready := backupReady(b, f, meta.FindStatusCondition(conds, ocsv1.ConditionReady))
	degraded := backupDegraded(f, meta.FindStatusCondition(conds, ocsv1.ConditionDegraded), meta.FindStatusCondition(conds, ocsv1.ConditionVerified))
	setCondition(b, ocsv1.ConditionReady, ready.status, ready.reason, ready.message)
	setCondition(b, ocsv1.ConditionDegraded, degraded.status, degraded.reason, degraded.message)

	stalled := meta.FindStatusCondition(conds, ocsv1.ConditionStalled)
	switch {
	case f.outcome != nil && f.outcome.StorageUnavailable:
		setCondition(b, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonStorageUnavailable,
			"ContactBackup spec.storage.path cannot be written: "+f.outcome.Err.Error()+". Runs are retried on schedule.")
	case f.outcome != nil,
		stalled == nil || stalled.Reason != ocsv1.ReasonStorageUnavailable:
		// Storage is known to be unwritable until a run finds otherwise.
		clearStalled(b)
	}
	setCondition(b, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonIdle,
		"No backup is running; the next is due at "+f.next.Format(time.RFC3339)+".")
}

// backupStoreStatus turns a store's figures into status.store; added is what the newest snapshot
// added. With the figures unknown (statsErr and nothing measured) it returns nil.
func backupStoreStatus(st backup.Stats, added int64, statsErr error) *ocsv1.BackupStoreStatus {
	if statsErr != nil && st.Objects == 0 {
		return nil
	}
	out := &ocsv1.BackupStoreStatus{
		Bytes:                st.StoredBytes,
		Objects:              int64(st.Objects),
		LastSnapshotNewBytes: added,
		LogicalBytes:         st.LogicalBytes,
	}
	if r := st.DeduplicationRatio(); r > 0 {
		out.DeduplicationRatio = strconv.FormatFloat(r, 'f', 1, 64)
	}
	return out
}

// snapshotSummary describes a snapshot for status.snapshots; added is what it added to the store.
func snapshotSummary(m *backup.Manifest, added int64) ocsv1.SnapshotSummary {
	s := ocsv1.SnapshotSummary{
		Name:     m.Name,
		Time:     metav1.NewTime(m.Time),
		Users:    int32(min(m.Users, 1<<31-1)),
		Contacts: int32(min(m.Contacts, 1<<31-1)),
		Bytes:    added,
	}
	for _, srv := range m.Servers {
		if srv.Skipped {
			s.SkippedServers = append(s.SkippedServers, srv.Name)
		}
	}
	return s
}

// mergeSnapshotSummaries returns status.snapshots after a run wrote newest: the snapshots
// retention kept (newest first, as many as status holds), with what status already knew of each.
// A kept snapshot status never listed (status was lost) shows 0 bytes added: that number is
// known only when the snapshot is written. With kept unknown, newest goes before prev.
func mergeSnapshotSummaries(prev []ocsv1.SnapshotSummary, newest ocsv1.SnapshotSummary, kept []*backup.Manifest) []ocsv1.SnapshotSummary {
	var out []ocsv1.SnapshotSummary
	if kept == nil {
		out = append(out, newest)
		for _, p := range prev {
			if p.Name != newest.Name {
				out = append(out, p)
			}
		}
		return out[:min(len(out), maxSnapshotSummaries)]
	}
	known := map[string]ocsv1.SnapshotSummary{}
	for _, p := range prev {
		known[p.Name] = p
	}
	known[newest.Name] = newest
	for _, m := range kept {
		if len(out) == maxSnapshotSummaries {
			break
		}
		if s, ok := known[m.Name]; ok {
			out = append(out, s)
		} else {
			out = append(out, snapshotSummary(m, 0))
		}
	}
	return out
}
