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

// statusPatcher writes an object's status once per reconcile, from a deferred call.
type statusPatcher struct {
	client client.Client
	before client.Object
}

func newStatusPatcher(c client.Client, obj statusObject) *statusPatcher {
	return &statusPatcher{client: c, before: obj.DeepCopyObject().(client.Object)}
}

// Patch stamps observedGeneration (only when the pass succeeded or ended in a terminal error,
// whose Stalled condition does describe this generation; a pass that failed part way never
// claims to have seen the spec), derives the phase, and sends one optimistic-lock merge patch to the
// status subresource; nothing is sent when nothing changed. On a conflict it re-reads the object
// and re-applies the status this controller owns.
func (p *statusPatcher) Patch(ctx context.Context, obj statusObject, reconcileErr error) error {
	cs := obj.GetCommonStatus()
	if reconcileErr == nil || errors.Is(reconcileErr, reconcile.TerminalError(nil)) {
		cs.ObservedGeneration = obj.GetGeneration()
	}
	cs.Phase = derivePhase(cs.Conditions)

	base := p.before
	for attempt := 0; ; attempt++ {
		data, err := client.MergeFrom(base).Data(obj)
		if err != nil {
			return fmt.Errorf("computing status patch of %s: %w", client.ObjectKeyFromObject(obj), err)
		}
		if string(data) == "{}" {
			return nil
		}
		err = p.client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if err == nil || apierrors.IsNotFound(err) {
			p.before = obj.DeepCopyObject().(client.Object)
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= retry.DefaultRetry.Steps {
			return fmt.Errorf("patching status of %s: %w", client.ObjectKeyFromObject(obj), err)
		}
		fresh := obj.DeepCopyObject().(statusObject)
		if err := p.client.Get(ctx, client.ObjectKeyFromObject(obj), fresh); err != nil {
			return client.IgnoreNotFound(err)
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
