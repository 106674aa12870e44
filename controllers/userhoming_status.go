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
	// waitingSources are the sources a running failover waits for: their state is not known.
	waitingSources []string
	// restoreWaitsOn are the servers, down, holding users a running failover must still restore.
	restoreWaitsOn []string
	// heldBack is the number of users a failback would move while spec.failback is Manual.
	heldBack int
	// waiting is the failback or rebalance a day-2 gate holds, nil if none.
	waiting *waiting
	// notServing describes the servers that do not serve and are not drained for maintenance,
	// e.g. "ocs2 (Unreachable)".
	notServing []string
	// passError describes, in stable words, the error of a pass that failed and is retried.
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
		markPoolUnknown(h, ocsv1.ReasonPoolNotFound, fmt.Sprintf("OCSPool %s/%s (spec.poolRef) does not exist.", h.Namespace, h.Spec.PoolRef.Name))
		return
	case rep.poolNotReady:
		markPoolUnknown(h, ocsv1.ReasonPoolNotReady, fmt.Sprintf("OCSPool %s/%s has not reported its servers' states yet.", h.Namespace, h.Spec.PoolRef.Name))
		return
	}
	for _, c := range []homingCondition{failoverRequired(rep), homingReconciling(rep), homingReady(h, rep), homingDegraded(h, rep)} {
		setCondition(h, c.condType, c.status, c.reason, c.message)
	}
	h.Status.Progress, h.Status.Operation = progressColumns(h.Status.LastOperation, rep)
	if rep.waiting == nil {
		h.Status.NextActionTime = nil
	}
}

// progressColumns are status.progress (the last operation's moved/total) and status.operation
// (what runs, else what waits and why) for the printer columns.
func progressColumns(last *ocsv1.Operation, rep *homingReport) (progress, operation string) {
	if last != nil {
		progress = fmt.Sprintf("%d/%d", last.Moved, last.Total)
	}
	switch {
	case rep.running != nil:
		operation = string(rep.running.Type)
	case rep.waiting != nil:
		operation = fmt.Sprintf("%s (%s)", rep.waiting.op, rep.waiting.reason)
	}
	return progress, operation
}

// markPoolUnknown reports a pass that could not learn the pool's servers: nothing is known of
// the users.
func markPoolUnknown(h *ocsv1.UserHoming, reason, msg string) {
	setCondition(h, ocsv1.ConditionReady, metav1.ConditionFalse, reason, msg)
	setCondition(h, ocsv1.ConditionReconciling, metav1.ConditionFalse, reason, msg)
	setCondition(h, ocsv1.ConditionDegraded, metav1.ConditionUnknown, reason, msg)
	setCondition(h, ocsv1.ConditionFailoverRequired, metav1.ConditionUnknown, reason, msg)
}

// homingCondition is one condition to set.
type homingCondition struct {
	condType string
	status   metav1.ConditionStatus
	reason   string
	message  string
}

// failoverRequired: a human must decide for a server in Manual mode.
func failoverRequired(rep *homingReport) homingCondition {
	var manual []string
	for _, name := range sortedObjections(rep.gates) {
		if o := rep.gates[name]; o.Reason == ocsv1.ReasonFailoverManual {
			manual = append(manual, o.Message)
		}
	}
	if len(manual) > 0 {
		return homingCondition{ocsv1.ConditionFailoverRequired, metav1.ConditionTrue, ocsv1.ReasonFailoverManual, strings.Join(manual, " ")}
	}
	return homingCondition{ocsv1.ConditionFailoverRequired, metav1.ConditionFalse, ocsv1.ReasonAsExpected, ""}
}

// homingReconciling: True only while an operation runs.
func homingReconciling(rep *homingReport) homingCondition {
	if op := rep.running; op != nil {
		if len(rep.waitingSources) > 0 {
			return homingCondition{ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonWaitingForSource,
				operationProgress(op) + " Waiting for the state of " + strings.Join(rep.waitingSources, ", ") + " before moving on: nobody is left behind."}
		}
		if len(rep.restoreWaitsOn) > 0 {
			return homingCondition{ocsv1.ConditionReconciling, metav1.ConditionTrue, ocsv1.ReasonWaitingForSource,
				operationProgress(op) + " Users whose contacts are to be restored are homed on " + strings.Join(rep.restoreWaitsOn, ", ") +
					", which does not answer: they are restored once it answers, or by a failover of it."}
		}
		return homingCondition{ocsv1.ConditionReconciling, metav1.ConditionTrue, operationReason(op), operationProgress(op)}
	}
	return homingCondition{ocsv1.ConditionReconciling, metav1.ConditionFalse, ocsv1.ReasonIdle, "No operation is running."}
}

// homingReady: users are where the policy wants them and nothing waits.
func homingReady(h *ocsv1.UserHoming, rep *homingReport) homingCondition {
	ready := func(status metav1.ConditionStatus, reason, msg string) homingCondition {
		return homingCondition{ocsv1.ConditionReady, status, reason, msg}
	}
	switch o := firstBlocking(rep.gates); {
	case rep.running != nil:
		return ready(metav1.ConditionFalse, operationReason(rep.running), operationProgress(rep.running))
	case rep.passError != "":
		return ready(metav1.ConditionFalse, ocsv1.ReasonInternalError, "The last pass failed and is retried: "+rep.passError)
	case rep.noServing:
		return ready(metav1.ConditionFalse, ocsv1.ReasonNoServingServer,
			fmt.Sprintf("No server of OCSPool %s/%s serves (%s): no user moves.", h.Namespace, h.Spec.PoolRef.Name, strings.Join(rep.notServing, ", ")))
	case o != nil:
		return ready(metav1.ConditionFalse, o.Reason, o.Message)
	case rep.waiting != nil:
		return ready(metav1.ConditionFalse, rep.waiting.reason, rep.waiting.message)
	case rep.heldBack > 0:
		// Served, but not as desired until a human decides: kstatus must not call this Current.
		return ready(metav1.ConditionFalse, ocsv1.ReasonFailbackManual,
			fmt.Sprintf("%d users are on their failover home and spec.failback is Manual.", rep.heldBack))
	case len(rep.notServing) > 0:
		// Users are served, but not as desired: kstatus must not call this Current.
		return ready(metav1.ConditionFalse, ocsv1.ReasonServerNotServing,
			fmt.Sprintf("Not serving: %s; %d users are served by the other servers.", strings.Join(rep.notServing, ", "), h.Status.TotalUsers))
	case rep.pending > 0:
		return ready(metav1.ConditionFalse, ocsv1.ReasonMovesPending, fmt.Sprintf("%d moves are pending.", rep.pending))
	default:
		return ready(metav1.ConditionTrue, ocsv1.ReasonBalanced, fmt.Sprintf("%d users are spread within policy.", h.Status.TotalUsers))
	}
}

// homingDegraded: users run below the desired state.
func homingDegraded(h *ocsv1.UserHoming, rep *homingReport) homingCondition {
	degraded := func(reason, msg string) homingCondition {
		return homingCondition{ocsv1.ConditionDegraded, metav1.ConditionTrue, reason, msg}
	}
	switch last := h.Status.LastOperation; {
	case rep.heldBack > 0:
		return degraded(ocsv1.ReasonFailbackManual,
			fmt.Sprintf("%d users are on their failover home; set spec.failback: Automatic or move them.", rep.heldBack))
	case rep.running != nil && rep.running.Type == ocsv1.OperationFailover:
		return degraded(ocsv1.ReasonUsersFailedOver, operationProgress(rep.running))
	case rep.waiting != nil && rep.waiting.op == ocsv1.OperationFailback:
		return degraded(ocsv1.ReasonUsersFailedOver, rep.waiting.message)
	case last != nil && last.Type == ocsv1.OperationFailover && last.Snapshot == "" && last.Forced > 0 && len(rep.notServing) > 0:
		return degraded(ocsv1.ReasonFailoverWithoutSnapshot, "The last failover had no snapshot: the contacts of its "+
			fmt.Sprintf("%d force-moved users are lost. ", last.Forced)+last.Message)
	case last != nil && last.Type == ocsv1.OperationFailover && last.CompletionTime != nil && last.Failed > 0:
		// Users are without contacts or on a failed server until a human looks.
		return degraded(ocsv1.ReasonFailoverIncomplete, "Last failover: "+last.Message)
	case len(rep.notServing) > 0:
		msg := fmt.Sprintf("Not serving: %s.", strings.Join(rep.notServing, ", "))
		if last != nil && last.Type == ocsv1.OperationFailover && last.Message != "" {
			msg += " Last failover: " + last.Message
		}
		return degraded(ocsv1.ReasonServerNotServing, msg)
	default:
		return homingCondition{ocsv1.ConditionDegraded, metav1.ConditionFalse, ocsv1.ReasonAsExpected, ""}
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

// notServingOf describes the servers that do not serve and are not drained for maintenance,
// e.g. "ocs2 (Unreachable)".
func notServingOf(v *poolView) []string {
	var out []string
	for _, f := range v.servers {
		if f.serving() || (f.maintenance && f.state == ocsv1.ServerDrained) {
			// A server drained for maintenance is where the admin wants it.
			continue
		}
		desc := string(f.state)
		if f.preflightHold != "" {
			desc = f.preflightHold
		}
		if f.maintenance {
			desc += ", maintenance"
		}
		out = append(out, fmt.Sprintf("%s (%s)", f.name, desc))
	}
	return out
}
