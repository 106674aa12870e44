package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// restoreScope is the state of one ContactRestore pass.
type restoreScope struct {
	cr     *ocsv1.ContactRestore
	status *statusWriter
	now    time.Time
	report restoreReport
}

// restoreReport is what a pass learned, turned into conditions by applyRestoreStatus.
type restoreReport struct {
	// done: the restore had completed before this pass; its conditions stay as they are.
	done bool
	// completed: this pass ended the restore.
	completed bool
	// waitReason and waitMessage: the restore waits for something that ends by itself (a
	// UserHoming operation, a missing reference, a pool with no serving server).
	waitReason, waitMessage string
	// stalledReason and stalledMessage: a human must act (a new ContactRestore is needed).
	stalledReason, stalledMessage string
	// passError describes, in stable words, the error of a pass that failed and is retried.
	passError string
}

// checkpoint writes the status before an import (the status writer's fenced mode).
func (s *restoreScope) checkpoint(ctx context.Context) error {
	applyRestoreStatus(s.cr, &s.report)
	return s.status.Checkpoint(ctx, s.cr)
}

// applyRestoreStatus sets every condition of a ContactRestore from the report. It is pure.
func applyRestoreStatus(cr *ocsv1.ContactRestore, rep *restoreReport) {
	if rep.done {
		return
	}
	set := func(t string, st metav1.ConditionStatus, reason, msg string) { setCondition(cr, t, st, reason, msg) }
	switch {
	case rep.stalledReason != "":
		markStalled(cr, rep.stalledReason, rep.stalledMessage)
		set(ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	case rep.completed:
		reason, msg := restoreSummary(cr)
		set(ocsv1.ConditionReady, metav1.ConditionTrue, reason, msg)
		set(ocsv1.ConditionReconciling, metav1.ConditionFalse, reason, "The restore has ended; a ContactRestore runs once.")
		clearStalled(cr)
		if cr.Status.Users.Failed > 0 {
			set(ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonUsersFailed, failedUsersMessage(cr))
		} else {
			set(ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
		}
	case rep.passError != "":
		msg := "The last pass failed and is retried: " + rep.passError
		set(ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonInternalError, msg)
		set(ocsv1.ConditionReconciling, boolStatus(cr.Status.StartTime != nil), ocsv1.ReasonInternalError, msg)
		clearStalled(cr)
		set(ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	case rep.waitReason != "":
		set(ocsv1.ConditionReady, metav1.ConditionFalse, rep.waitReason, rep.waitMessage)
		set(ocsv1.ConditionReconciling, metav1.ConditionFalse, rep.waitReason, rep.waitMessage)
		clearStalled(cr)
		set(ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	default:
		reason, msg := restoreProgress(cr)
		set(ocsv1.ConditionReady, metav1.ConditionFalse, reason, msg)
		set(ocsv1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
		clearStalled(cr)
		set(ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	}
}

func boolStatus(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// restoreProgress is the Reconciling reason and message of a running restore.
func restoreProgress(cr *ocsv1.ContactRestore) (string, string) {
	if cr.Status.VerifiedTime == nil {
		return ocsv1.ReasonVerifyingSnapshot, fmt.Sprintf("Reading the copies of the targeted users in snapshot %s of ContactBackup %s; nothing is written before they all check.",
			orUnknown(cr.Status.Snapshot), cr.Spec.BackupRef.Name)
	}
	u := cr.Status.Users
	return ocsv1.ReasonRestoringContacts, fmt.Sprintf("Restoring from snapshot %s (%s): %d of %d users settled (%d restored, %d unchanged, %d failed).",
		cr.Status.Snapshot, cr.Spec.Mode, u.Restored+u.Unchanged+u.Failed, u.Targeted, u.Restored, u.Unchanged, u.Failed)
}

// restoreSummary is the Ready reason and message of a completed restore.
func restoreSummary(cr *ocsv1.ContactRestore) (string, string) {
	u := cr.Status.Users
	if cr.Spec.DryRun {
		var parts []string
		for _, p := range cr.Status.DryRun {
			parts = append(parts, fmt.Sprintf("%s: %d of %d users would gain %d contacts", p.Server, p.UsersToRestore, p.Users, p.Contacts))
		}
		if len(parts) == 0 {
			parts = append(parts, "no user to restore")
		}
		return ocsv1.ReasonDryRunCompleted, fmt.Sprintf("Dry run of snapshot %s, nothing written: %s.", cr.Status.Snapshot, strings.Join(parts, "; "))
	}
	msg := fmt.Sprintf("Restored from snapshot %s: %d users targeted, %d restored, %d unchanged, %d failed.",
		cr.Status.Snapshot, u.Targeted, u.Restored, u.Unchanged, u.Failed)
	if u.WithoutCopy > 0 {
		msg += fmt.Sprintf(" %d users homed there are not in the snapshot and were left alone.", u.WithoutCopy)
	}
	return ocsv1.ReasonRestoreCompleted, msg
}

// failedUsersMessage names the first failed users.
func failedUsersMessage(cr *ocsv1.ContactRestore) string {
	var names []string
	for i, f := range cr.Status.FailedUsers {
		if i == failedUsersShown {
			break
		}
		names = append(names, f.User)
	}
	msg := fmt.Sprintf("%d users could not be restored (%s", cr.Status.Users.Failed, strings.Join(names, ", "))
	if int(cr.Status.Users.Failed) > len(names) {
		msg += ", …"
	}
	msg += "); status.failedUsers says why."
	if len(cr.Status.FailedUsers) > 0 {
		msg += " First: " + cr.Status.FailedUsers[0].Reason
	}
	return msg
}

func orUnknown(s string) string {
	if s == "" {
		return "(not chosen yet)"
	}
	return s
}

func toTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
