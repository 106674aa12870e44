package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// statusObject is an object of this group: it carries the common status fields.
type statusObject interface {
	client.Object
	GetCommonStatus() *ocsv1.CommonStatus
}

// ownedConditions are set on every object's first reconcile, even as Unknown, so that tools
// reading them never see a half-initialised status.
var ownedConditions = []string{
	ocsv1.ConditionReady, ocsv1.ConditionReconciling, ocsv1.ConditionStalled, ocsv1.ConditionDegraded,
}

// maxMessageLength keeps condition messages readable in kubectl and far below the API limit.
const maxMessageLength = 1024

// setCondition sets one condition, stamped with the object's generation. LastTransitionTime
// moves only when the status changes (meta.SetStatusCondition does that).
func setCondition(obj statusObject, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&obj.GetCommonStatus().Conditions, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            trimMessage(message),
		ObservedGeneration: obj.GetGeneration(),
	})
}

// initConditions sets every owned condition that is still absent to Unknown.
func initConditions(obj statusObject) {
	for _, t := range ownedConditions {
		if meta.FindStatusCondition(obj.GetCommonStatus().Conditions, t) == nil {
			setCondition(obj, t, metav1.ConditionUnknown, ocsv1.ReasonInitializing, "The controller has not finished its first reconcile.")
		}
	}
}

// markSuspended reports spec.suspend: nothing runs, nothing is wrong.
func markSuspended(obj statusObject, kind string) {
	msg := kind + " spec.suspend is true: no action runs until it is set to false."
	setCondition(obj, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonSuspended, msg)
	setCondition(obj, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonSuspended, msg)
	setCondition(obj, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonSuspended, msg)
}

// markStalled reports that a human must act; Ready is False for the same reason.
func markStalled(obj statusObject, reason, message string) {
	setCondition(obj, ocsv1.ConditionStalled, metav1.ConditionTrue, reason, message)
	setCondition(obj, ocsv1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(obj, ocsv1.ConditionReconciling, metav1.ConditionFalse, reason, "Waiting for a change of the spec or of a referenced object.")
}

// clearStalled reports that nothing needs a human.
func clearStalled(obj statusObject) {
	setCondition(obj, ocsv1.ConditionStalled, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
}

func isTrue(obj statusObject, condType string) bool {
	return meta.IsStatusConditionTrue(obj.GetCommonStatus().Conditions, condType)
}

// derivePhase is the single place the printer-column phase comes from, so it never drifts
// from the conditions.
func derivePhase(conds []metav1.Condition) string {
	ready := meta.FindStatusCondition(conds, ocsv1.ConditionReady)
	switch {
	case ready != nil && ready.Reason == ocsv1.ReasonSuspended:
		return "Suspended"
	case meta.IsStatusConditionTrue(conds, ocsv1.ConditionStalled):
		return "Stalled"
	case meta.IsStatusConditionTrue(conds, ocsv1.ConditionReconciling):
		return "Reconciling"
	case meta.IsStatusConditionTrue(conds, ocsv1.ConditionDegraded):
		return "Degraded"
	case ready != nil && ready.Status == metav1.ConditionTrue:
		return "Ready"
	default:
		return "Pending"
	}
}

func trimMessage(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessageLength {
		return s
	}
	cut := maxMessageLength - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// statusWriter is the one way a controller writes the status of its object, in two modes:
//
//   - Checkpoint, before a step that changes the world (a move batch, a contact import, a
//     backup run): the record of what is about to happen survives a crash during the step, and
//     a writer whose view is stale (another manager wrote since) is fenced off: it fails here
//     and does not act;
//   - Final, deferred at the end of every pass: everything the pass learned.
//
// Only Final claims observedGeneration, and only for a pass that ran to its end (a checkpoint
// is by definition in the middle of one).
type statusWriter struct {
	client client.Client
	kind   string
	// before is the object as last read or written: patches are computed against it.
	before client.Object
	// fenced: a checkpoint found that someone else wrote the object; Final writes nothing.
	fenced bool
}

func newStatusWriter(c client.Client, obj statusObject, kind string) *statusWriter {
	return &statusWriter{client: c, kind: kind, before: obj.DeepCopyObject().(client.Object)}
}

// Checkpoint writes the status now, with an optimistic lock and no retry, without claiming
// observedGeneration. A conflict (or the object gone) fences the writer. The object is
// replaced by the API server's answer: callers hold no pointer into its status across it.
func (w *statusWriter) Checkpoint(ctx context.Context, obj statusObject) error {
	cs := obj.GetCommonStatus()
	cs.Phase = derivePhase(cs.Conditions)
	err := w.client.Status().Patch(ctx, obj, client.MergeFromWithOptions(w.before, client.MergeFromWithOptimisticLock{}))
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			w.fenced = true
		}
		return fmt.Errorf("writing a status checkpoint of %s %s: %w", w.kind, client.ObjectKeyFromObject(obj), err)
	}
	w.before = obj.DeepCopyObject().(client.Object)
	return nil
}

// Final stamps observedGeneration (only when the pass succeeded or ended in a terminal error,
// whose Stalled condition does describe this generation; a pass that failed part way never
// claims to have seen the spec), derives the phase, and sends one optimistic-lock merge patch to
// the status subresource; nothing is sent when nothing changed or the writer is fenced. On a
// conflict it re-reads the object and re-applies the status this controller owns.
func (w *statusWriter) Final(ctx context.Context, obj statusObject, reconcileErr error) error {
	if w.fenced {
		// Another writer changed the object since it was read: this status is stale and must
		// not overwrite its record. The next pass reads the new one.
		return nil
	}
	cs := obj.GetCommonStatus()
	if reconcileErr == nil || errors.Is(reconcileErr, reconcile.TerminalError(nil)) {
		cs.ObservedGeneration = obj.GetGeneration()
	}
	cs.Phase = derivePhase(cs.Conditions)

	base := w.before
	for attempt := 0; ; attempt++ {
		data, err := client.MergeFrom(base).Data(obj)
		if err != nil {
			return fmt.Errorf("computing the status patch of %s %s: %w", w.kind, client.ObjectKeyFromObject(obj), err)
		}
		if string(data) == "{}" {
			return nil
		}
		err = w.client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if err == nil || apierrors.IsNotFound(err) {
			w.before = obj.DeepCopyObject().(client.Object)
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= retry.DefaultRetry.Steps {
			return fmt.Errorf("patching the status of %s %s: %w", w.kind, client.ObjectKeyFromObject(obj), err)
		}
		fresh := obj.DeepCopyObject().(statusObject)
		if err := w.client.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("re-reading %s %s after a conflict: %w", w.kind, client.ObjectKeyFromObject(obj), err)
		}
		base = fresh.DeepCopyObject().(client.Object)
		copyStatus(obj, fresh)
		// obj now carries the fresh metadata and spec with our status.
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	}
}

// copyStatus copies the Status field of src into dst (both pointers to the same kind). The
// controller owns the whole status of its kind, so re-applying all of it is correct.
func copyStatus(src, dst client.Object) {
	s := reflect.ValueOf(src).Elem().FieldByName("Status")
	reflect.ValueOf(dst).Elem().FieldByName("Status").Set(s)
}
