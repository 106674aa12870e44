package controllers

import (
	"fmt"
	"time"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// serverFact is what the UserHoming controller knows about one server, from the OCSPool's spec
// (maintenance) and status (state, lastTransitionTime).
type serverFact struct {
	name        string
	state       ocsv1.ServerState
	maintenance bool
	// since is when state last changed; the failover delay is measured from it.
	since time.Time
	// homed is the number of users homed on the server in this pass's directory listing.
	homed int
}

// serving: may receive and keep users.
func (f serverFact) serving() bool { return f.state == ocsv1.ServerHealthy && !f.maintenance }

// drainable: in maintenance and answering, so its users leave with planned moves.
func (f serverFact) drainable() bool {
	if !f.maintenance {
		return false
	}
	switch f.state {
	case ocsv1.ServerHealthy, ocsv1.ServerDraining, ocsv1.ServerDrained:
		return true
	}
	return false
}

// down: the pool reports that WinRM does not answer or a required service does not run.
func (f serverFact) down() bool {
	return f.state == ocsv1.ServerUnreachable || f.state == ocsv1.ServerUnhealthy
}

// gateInput is everything the failover gate decides on, for one server.
type gateInput struct {
	server serverFact
	now    time.Time
	delay  time.Duration
	mode   ocsv1.FailoverMode
	// servingServers is the number of servers that serve, excluding the one considered.
	servingServers int
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
var failoverGate = []gateCheck{serverNotDown, downShorterThanDelay, failoverIsManual, noServingServer}

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

func stateOrUnknown(s ocsv1.ServerState) ocsv1.ServerState {
	if s == "" {
		return ocsv1.ServerUnknown
	}
	return s
}
