package controllers

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// homingReport holds the facts of one pass that the conditions are computed from.
type homingReport struct {
	suspended    bool
	poolMissing  bool
	poolNotReady bool
	// noServing: no server answers for the directory.
	noServing bool
	// gates holds the failover gate's objection for each down server that is not failed over.
	gates map[string]*gateObjection
	// running is the operation in progress after this pass, nil if none.
	running *ocsv1.Operation
	// pending is the number of moves the plan still has.
	pending int
	// heldBack is the number of users a failback would move while spec.failback is Manual.
	heldBack int
	// notServing describes the servers that do not serve, e.g. "ocs2 (Unreachable)".
	notServing []string
	// passError is the error of a pass that failed and is retried.
	passError string
	// stalledReason and stalledMessage are set when a human is needed.
	stalledReason, stalledMessage string
}

// operationReason is the Ready/Reconciling reason while op runs.
func operationReason(op *ocsv1.Operation) string {
	switch {
	case op.Type == ocsv1.OperationFailover && op.Step == stepRestoring:
		return ocsv1.ReasonRestoring
	case op.Type == ocsv1.OperationFailover:
		return ocsv1.ReasonFailingOver
	case op.Type == ocsv1.OperationDrain:
		return ocsv1.ReasonDraining
	case op.Type == ocsv1.OperationFailback:
		return ocsv1.ReasonFailingBack
	default:
		return ocsv1.ReasonRebalancing
	}
}

// operationProgress is the Reconciling message: what runs and how far it got.
func operationProgress(op *ocsv1.Operation) string {
	msg := fmt.Sprintf("%s %s: %d/%d users moved", op.Type, op.ID, op.Moved, op.Total)
	if len(op.From) > 0 {
		msg += " off " + strings.Join(op.From, ", ")
	}
	if op.Type == ocsv1.OperationFailover {
		msg += fmt.Sprintf(", %d forced, contacts of %d users restored", op.Forced, op.ContactsRestored)
	}
	if op.Failed > 0 {
		msg += fmt.Sprintf(", %d failed in the last pass", op.Failed)
	}
	return msg + "."
}

// sortedObjections returns the gate objections in server order.
func sortedObjections(gates map[string]*gateObjection) []string {
	names := make([]string, 0, len(gates))
	for n := range gates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// applyHomingStatus sets every condition of a UserHoming from the report. It is pure.
func applyHomingStatus(h *ocsv1.UserHoming, rep *homingReport) {
	if rep.suspended {
		markSuspended(h, "UserHoming")
		setCondition(h, ocsv1.ConditionFailoverRequired, metav1.ConditionFalse, ocsv1.ReasonSuspended, "")
		return
	}
	if rep.stalledReason != "" && rep.running == nil {
		markStalled(h, rep.stalledReason, rep.stalledMessage)
		return
	}
	if rep.stalledReason != "" {
		setCondition(h, ocsv1.ConditionStalled, metav1.ConditionTrue, rep.stalledReason, rep.stalledMessage)
	} else {
		clearStalled(h)
	}

	switch {
	case rep.poolMissing:
		msg := fmt.Sprintf("OCSPool %s/%s (spec.poolRef) does not exist.", h.Namespace, h.Spec.PoolRef.Name)
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonPoolNotFound, msg)
		setCondition(h, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonPoolNotFound, msg)
		setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionUnknown, ocsv1.ReasonPoolNotFound, msg)
		setCondition(h, ocsv1.ConditionFailoverRequired, metav1.ConditionUnknown, ocsv1.ReasonPoolNotFound, msg)
		return
	case rep.poolNotReady:
		msg := fmt.Sprintf("OCSPool %s/%s has not reported its servers' states yet.", h.Namespace, h.Spec.PoolRef.Name)
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonPoolNotReady, msg)
		setCondition(h, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonPoolNotReady, msg)
		setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionUnknown, ocsv1.ReasonPoolNotReady, msg)
		setCondition(h, ocsv1.ConditionFailoverRequired, metav1.ConditionUnknown, ocsv1.ReasonPoolNotReady, msg)
		return
	}

	// FailoverRequired: a human must decide for a server in Manual mode.
	var manual []string
	for _, name := range sortedObjections(rep.gates) {
		if o := rep.gates[name]; o.Reason == ocsv1.ReasonFailoverManual {
			manual = append(manual, o.Message)
		}
	}
	if len(manual) > 0 {
		setCondition(h, ocsv1.ConditionFailoverRequired, metav1.ConditionTrue, ocsv1.ReasonFailoverManual, strings.Join(manual, " "))
	} else {
		setCondition(h, ocsv1.ConditionFailoverRequired, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	}

	// Reconciling: True only while an operation runs.
	if op := rep.running; op != nil {
		setCondition(h, ocsv1.ConditionReconciling, metav1.ConditionTrue, operationReason(op), operationProgress(op))
	} else {
		setCondition(h, ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonIdle, "No operation is running.")
	}

	// Ready: users are where the policy wants them and nothing waits.
	switch {
	case rep.running != nil:
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, operationReason(rep.running), operationProgress(rep.running))
	case rep.passError != "":
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonInternalError,
			"The last pass failed and is retried: "+rep.passError)
	case rep.noServing:
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonNoServingServer,
			fmt.Sprintf("No server of OCSPool %s/%s serves: no user moves.", h.Namespace, h.Spec.PoolRef.Name))
	case firstBlocking(rep.gates) != nil:
		o := firstBlocking(rep.gates)
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, o.Reason, o.Message)
	case rep.pending > 0:
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonMovesPending, fmt.Sprintf("%d moves are pending.", rep.pending))
	default:
		msg := fmt.Sprintf("%d users are spread within policy.", h.Status.TotalUsers)
		setCondition(h, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBalanced, msg)
	}

	// Degraded: users run below the desired state.
	op := h.Status.LastOperation
	switch {
	case rep.heldBack > 0:
		setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonFailbackManual,
			fmt.Sprintf("%d users are on their failover home; set spec.failback: Automatic or move them.", rep.heldBack))
	case rep.running != nil && rep.running.Type == ocsv1.OperationFailover:
		setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonUsersFailedOver, operationProgress(rep.running))
	case len(rep.notServing) > 0:
		msg := fmt.Sprintf("Not serving: %s.", strings.Join(rep.notServing, ", "))
		if op != nil && op.Type == ocsv1.OperationFailover && op.Message != "" {
			msg += " Last failover: " + op.Message
		}
		setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionTrue, ocsv1.ReasonServerNotServing, msg)
	default:
		setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, "")
	}
}

// firstBlocking returns the first gate objection that keeps users unserved (a server merely
// not down is not one).
func firstBlocking(gates map[string]*gateObjection) *gateObjection {
	for _, name := range sortedObjections(gates) {
		if o := gates[name]; o.Reason != ocsv1.ReasonServerNotDown {
			return o
		}
	}
	return nil
}
