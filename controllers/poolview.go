package controllers

import (
	"time"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// The failover-delay contract between OCSPool and UserHoming.
//
// OCSPool (nextServerStatus) writes status.servers[].state with hysteresis: a server becomes
// Unreachable or Unhealthy only after spec.health.failureThreshold failed probes in a row, and
// Healthy again after one passed probe. It moves status.servers[].lastTransitionTime only when
// the state changes, and keeps status.servers[].downSince while the server goes from one down
// state to the other. UserHoming reads them through poolView: a down server has been down since
// its downSince, and its users are force-moved once that is longer ago than
// spec.failover.delay (the failover gate) and a direct check confirms it (stillDown), since the
// status may be stale. UserHoming wakes on a change of a state or of a transition time
// (poolFactsChanged), never on a probe alone, and requeues itself for the moment a delay ends
// (soonestGateRequeue). So the shortest time from a crash to a forced move is
// failureThreshold × probeInterval (to turn Unreachable) plus spec.failover.delay.
//
// The other way, OCSPool wakes when a UserHoming's drain completes and probes at once when a
// server in maintenance it last saw Draining may be empty now (ocspool_drained.go), so Drained
// does not wait for the next probe round.

// serverFact is what the controllers know about one server of a pool, from its spec
// (maintenance) and status (state, lastTransitionTime).
type serverFact struct {
	name        string
	state       ocsv1.ServerState
	maintenance bool
	// reported: the pool's status has an entry for the server (it was probed at least once).
	reported bool
	// preflightHold says why a server that answers is held Unknown: its preflight has not
	// passed (empty when it has, or when the server is down).
	preflightHold string
	// directoryHold: the only check that failed is the directory's refusal (the second hop);
	// the server's own database still exports.
	directoryHold bool
	// since is when state last changed, or for a down server when it went down
	// (status.servers[].downSince); the failover delay is measured from it.
	since time.Time
	// homed is the number of users homed on the server in a UserHoming pass's directory
	// listing; 0 until the pass counts them.
	homed int
}

// serving: may receive and keep users.
func (f serverFact) serving() bool { return f.state == ocsv1.ServerHealthy && !f.maintenance }

// answers: WinRM answers and the services run, in maintenance or not (Draining and Drained are
// Healthy servers in maintenance), so its contacts can be exported.
func (f serverFact) answers() bool { return healthOf(f.state) == ocsv1.ServerHealthy }

// drainable: in maintenance and answering, so its users leave with planned moves.
func (f serverFact) drainable() bool { return f.maintenance && f.answers() }

// down: the pool reports that WinRM does not answer or a required service does not run.
func (f serverFact) down() bool {
	return f.state == ocsv1.ServerUnreachable || f.state == ocsv1.ServerUnhealthy
}

// poolView is an OCSPool as the three controllers decide on it: spec.health parsed once with
// its defaults, and one fact per spec server, in spec order. A server without status is
// Unknown: neither serving nor down, so its users are held where they are.
type poolView struct {
	pool *ocsv1.OCSPool
	// health is spec.health with defaults; healthErr is set when it does not parse (an object
	// that bypassed validation), and health then holds the defaults.
	health    healthSettings
	healthErr error
	servers   []serverFact
}

func newPoolView(pool *ocsv1.OCSPool) *poolView {
	v := &poolView{pool: pool}
	v.health, v.healthErr = healthSettingsOf(pool.Spec)
	status := make(map[string]ocsv1.ServerStatus, len(pool.Status.Servers))
	for _, st := range pool.Status.Servers {
		status[st.Name] = st
	}
	for _, sp := range pool.Spec.Servers {
		f := serverFact{name: sp.Name, maintenance: sp.Maintenance, state: ocsv1.ServerUnknown}
		if st, ok := status[sp.Name]; ok {
			f.reported = true
			f.state = stateOrUnknown(preflightGatedState(st))
			if f.state != stateOrUnknown(st.State) {
				f.preflightHold = "preflight " + string(st.Preflight.Result) + " (" + st.Preflight.Reason + ")"
				f.directoryHold = st.Preflight.Reason == ocsv1.ReasonDirectoryAccessDenied
			}
			if st.LastTransitionTime != nil {
				f.since = st.LastTransitionTime.Time
			}
			if f.down() && st.DownSince != nil {
				// Down all along, whichever down state it went through.
				f.since = st.DownSince.Time
			}
		}
		v.servers = append(v.servers, f)
	}
	return v
}

// key is the pool's namespace/name, as logs and metrics name it.
func (v *poolView) key() string { return v.pool.Namespace + "/" + v.pool.Name }

// fact returns the fact of the named server, nil if it is not in the pool.
func (v *poolView) fact(name string) *serverFact {
	for i := range v.servers {
		if v.servers[i].name == name {
			return &v.servers[i]
		}
	}
	return nil
}

// servingNames lists the servers that serve, in spec order.
func (v *poolView) servingNames() []string {
	var out []string
	for _, f := range v.servers {
		if f.serving() {
			out = append(out, f.name)
		}
	}
	return out
}

// reported: the pool's status has a known state for at least one server (its first probe round
// is in); a server held Unknown by its preflight was probed and counts.
func (v *poolView) reported() bool {
	for _, f := range v.servers {
		if f.reported && (f.state != ocsv1.ServerUnknown || f.preflightHold != "") {
			return true
		}
	}
	return false
}

// recheckInterval is how soon a fact the probes report may have changed: spec.health.probeInterval.
func (v *poolView) recheckInterval() time.Duration { return v.health.Interval }

func stateOrUnknown(s ocsv1.ServerState) ocsv1.ServerState {
	if s == "" {
		return ocsv1.ServerUnknown
	}
	return s
}
