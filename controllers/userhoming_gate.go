package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// The failover gate: every check that stands between a down server and the forced move of its
// users. The pool's facts pass the chain failoverGate (pure), then stillDown asks the sources
// directly. What the gate reads of the pool is the contract written in poolview.go.

// defaultFailoverDelay applies when spec.failover.delay is empty (the API defaults it).
const defaultFailoverDelay = 60 * time.Second

// gateInput is everything the failover gate decides on, for one server.
type gateInput struct {
	server serverFact
	now    time.Time
	delay  time.Duration
	mode   ocsv1.FailoverMode
	// servingServers is the number of servers that serve, excluding the one considered.
	servingServers int
	// window is what spec.maintenanceWindows say now when spec.failover.respectWindows is set;
	// nil: open.
	window *windowVerdict
}

// gateObjection is the first reason not to fail over from a server.
type gateObjection struct {
	Reason  string
	Message string
	// RequeueAfter is when the objection may lift by itself (0: only a watched change lifts it).
	RequeueAfter time.Duration
}

// gateCheck returns an objection, or nil to let the next check decide.
type gateCheck func(gateInput) *gateObjection

// failoverGate is the chain a forced move must pass; the first objection wins. The order matters:
// a server that is up needs no further thought, the delay comes before the mode so that Manual
// mode only asks a human once a failover would really run, and a pool with no serving server is
// checked last because it is the observer that is probably cut off.
var failoverGate = []gateCheck{serverNotDown, downShorterThanDelay, failoverIsManual, outsideWindow, noServingServer}

// evaluateGate runs the failover gate; nil means fail over.
func evaluateGate(in gateInput) *gateObjection {
	for _, check := range failoverGate {
		if o := check(in); o != nil {
			return o
		}
	}
	return nil
}

func serverNotDown(in gateInput) *gateObjection {
	if in.server.down() {
		return nil
	}
	return &gateObjection{Reason: ocsv1.ReasonServerNotDown, Message: fmt.Sprintf("Server %s is %s.", in.server.name, stateOrUnknown(in.server.state))}
}

func downShorterThanDelay(in gateInput) *gateObjection {
	if in.server.since.IsZero() {
		// No transition time: the clock starts now, so the server gets the whole delay.
		return &gateObjection{
			Reason:       ocsv1.ReasonFailoverDelay,
			Message:      fmt.Sprintf("Server %s is %s since an unknown time; waiting spec.failover.delay (%s) before force-moving its users.", in.server.name, in.server.state, in.delay),
			RequeueAfter: in.delay,
		}
	}
	down := in.now.Sub(in.server.since)
	if down >= in.delay {
		return nil
	}
	remaining := in.delay - down
	return &gateObjection{
		Reason: ocsv1.ReasonFailoverDelay,
		Message: fmt.Sprintf("Server %s is %s for %s; its users are force-moved when it has been down for spec.failover.delay (%s), in %s.",
			in.server.name, in.server.state, down.Round(time.Second), in.delay, remaining.Round(time.Second)),
		RequeueAfter: remaining,
	}
}

func failoverIsManual(in gateInput) *gateObjection {
	if in.mode != ocsv1.FailoverManual {
		return nil
	}
	return &gateObjection{
		Reason: ocsv1.ReasonFailoverManual,
		Message: fmt.Sprintf("Server %s is %s since %s and its %d users are not served; spec.failover.mode is Manual: "+
			"set spec.failover.mode to Automatic to force-move them (contacts are restored from the newest backup), or bring the server back.",
			in.server.name, in.server.state, in.server.since.UTC().Format(time.RFC3339), in.server.homed),
	}
}

func noServingServer(in gateInput) *gateObjection {
	if in.servingServers > 0 {
		return nil
	}
	return &gateObjection{
		Reason: ocsv1.ReasonNoServingServer,
		Message: fmt.Sprintf("Server %s is %s but no other server serves: no user moves, since the operator itself may be the one cut off.",
			in.server.name, in.server.state),
	}
}

// evaluateGates runs the failover gate for every down server. It returns the objections by server
// and the servers to fail over from now.
func (s *homingScope) evaluateGates() (map[string]*gateObjection, []string) {
	serving := len(s.pool.servingNames())
	delay := defaultFailoverDelay
	if d, err := time.ParseDuration(s.homing.Spec.Failover.Delay); err == nil && d > 0 {
		delay = d
	}
	mode := s.homing.Spec.Failover.Mode
	if mode == "" {
		mode = ocsv1.FailoverAutomatic
	}
	objections := map[string]*gateObjection{}
	var from []string
	for _, f := range s.pool.servers {
		if !f.down() {
			continue
		}
		o := evaluateGate(gateInput{server: f, now: s.now, delay: delay, mode: mode, servingServers: serving, window: s.failoverWindow()})
		switch {
		case o == nil && f.homed > 0:
			from = append(from, f.name)
		case o == nil:
			// Down for good but nobody left on it: nothing to fail over (Degraded says it is down).
		default:
			objections[f.name] = o
		}
	}
	return objections, from
}

// stillDown asks each source directly whether it answers with every service running, and keeps
// those that do not. The pool status may be stale, and force-moving the users of a server that
// works would strand their contacts for nothing.
func (r *UserHomingReconciler) stillDown(ctx context.Context, s *homingScope, from []string) []string {
	var down []string
	for _, name := range from {
		// Asked as a probe is, within spec.health.probeTimeout: a server whose packets are
		// dropped would otherwise hold the failover for the transport's connect attempts and
		// back-offs (three 10 s dials), and a refused one for its back-offs.
		pctx, cancel := context.WithTimeout(asDirectCheck(winrm.AsProbe(ctx)), s.pool.health.Timeout)
		st, err := s.agent.ServiceHealth(pctx, name, s.pool.health.Services)
		cancel()
		if err != nil || !servicesAllRunning(st) {
			down = append(down, name)
			continue
		}
		s.report.gates[name] = &gateObjection{
			Reason:       ocsv1.ReasonServerAnswering,
			Message:      fmt.Sprintf("OCSPool %s reports server %s down, but it answered with every service running: no user is force-moved.", s.pool.key(), name),
			RequeueAfter: s.pool.recheckInterval(),
		}
		if c := meta.FindStatusCondition(s.homing.Status.Conditions, ocsv1.ConditionReady); c == nil || c.Reason != ocsv1.ReasonServerAnswering {
			r.event(s, true, ocsv1.ReasonServerAnswering, "Failover", "Server %s answered a direct check with every service running; no user is force-moved.", name)
		}
	}
	return down
}

type directCheckKey struct{}

// asDirectCheck marks the context of a direct check, so that an agent (a test double standing
// for a pool whose status is stale) can tell it from the OCSPool's probes, which it resembles.
func asDirectCheck(ctx context.Context) context.Context {
	return context.WithValue(ctx, directCheckKey{}, true)
}

func isDirectCheck(ctx context.Context) bool { v, _ := ctx.Value(directCheckKey{}).(bool); return v }

func servicesAllRunning(st []ocs.ServiceStatus) bool {
	for _, s := range st {
		if !s.Running {
			return false
		}
	}
	return len(st) > 0
}

// soonestGateRequeue brings the requeue forward to the moment a failover delay ends: no watch
// fires then.
func soonestGateRequeue(res ctrl.Result, gates map[string]*gateObjection) ctrl.Result {
	for _, o := range gates {
		if o.RequeueAfter > 0 && (res.RequeueAfter == 0 || o.RequeueAfter < res.RequeueAfter) {
			res.RequeueAfter = o.RequeueAfter
		}
	}
	return res
}
