package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// What a running failover does with each of its sources, and which users it leaves behind.
// The gate decides once, when a failover starts; from then on a source stays evacuated for as
// long as it is down, whatever happens to its "down since" clock (a change from Unreachable to
// Unhealthy, an OCSPool re-created mid-failover). A failover moves on to its restore only once
// nobody it can move is left on a source that does not answer.

// sourceAction is what a running failover does with one of its sources in this pass.
type sourceAction int

const (
	// evacuateSource: the source is down; its users are force-moved.
	evacuateSource sourceAction = iota
	// sourceBack: the source answers again (or left the pool); its users stay.
	sourceBack
	// waitForSource: nothing is known of the source (its state is Unknown, its credentials are
	// refused) or no user can go anywhere: the failover neither moves its users nor moves on.
	waitForSource
)

// failoverSourceAction decides for one source of a running failover. gate is the failover
// gate's objection for the source in this pass, nil if none.
func failoverSourceAction(f *serverFact, gate *gateObjection) sourceAction {
	switch {
	case f == nil:
		return sourceBack
	case gate != nil && gate.Reason == ocsv1.ReasonServerAnswering:
		// A direct check found it working: its users keep their contacts where they are.
		return sourceBack
	case f.answers():
		return sourceBack
	case !f.down():
		return waitForSource
	case gate != nil && (gate.Reason == ocsv1.ReasonFailoverManual || gate.Reason == ocsv1.ReasonNoServingServer):
		// A human took the decision back, or no server can take the users.
		return waitForSource
	default:
		// Down: the delay was served when the failover started, even if the clock restarted.
		return evacuateSource
	}
}

// failoverSources sorts the sources of a running failover: those to evacuate and those the
// failover waits for.
func (s *homingScope) failoverSources(op *ocsv1.Operation) (evacuate map[string]bool, waiting []string) {
	evacuate = map[string]bool{}
	for _, name := range op.From {
		switch failoverSourceAction(s.pool.fact(name), s.report.gates[name]) {
		case evacuateSource:
			evacuate[name] = true
		case waitForSource:
			waiting = append(waiting, name)
		}
	}
	return evacuate, waiting
}

// unmovable reports a user the agent refuses to send to a server (ocs.ValidateSIP): no move can
// take it anywhere, so plans leave it where it is and failovers report it.
func unmovable(sip string) bool { return ocs.ValidateSIP(sip) != nil }

// usersOn lists the users homed on the named servers, sorted; movable only when movableOnly.
func usersOn(users []ocs.HomedUser, servers map[string]bool, movableOnly bool) []string {
	var out []string
	for _, u := range users {
		if servers[u.Server] && (!movableOnly || !unmovable(u.SIP)) {
			out = append(out, u.SIP)
		}
	}
	sort.Strings(out)
	return out
}

// failureDigest identifies a set of failing users (status.lastOperation.failureDigest).
func failureDigest(sips []string) string {
	sorted := append([]string(nil), sips...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, sip := range sorted {
		h.Write([]byte(sip))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// givenUp reports that every user left is one that failed, the same set, in stalledAfter passes
// in a row: they are reported and skipped so that the operation goes on for everyone else.
func givenUp(op *ocsv1.Operation, left []string) bool {
	return len(left) > 0 && op.FailedPasses >= stalledAfter && op.FailureDigest == failureDigest(left)
}

// setOfNames turns a list of names into a set.
func setOfNames(names []string) map[string]bool {
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out
}

// A failover can lose the server it moved users onto: their contacts, restored there or not
// yet, are gone with it, and the snapshot still homes them on the first failover's sources. So
// a running failover does not end while users it restores wait on a server that does not answer
// (restoreWaitsOn); when that server passes the gate, a new failover takes over
// (failoverSourcesToAdd) and keeps the old one's sources that are still down
// (inheritedSources), so that its restore covers those users too.

// failoverSourcesToAdd are the servers past the failover gate that the running operation does
// not fail over: all of them when no failover runs.
func failoverSourcesToAdd(running *ocsv1.Operation, failFrom []string) []string {
	if running == nil || running.Type != ocsv1.OperationFailover {
		return failFrom
	}
	own := setOfNames(running.From)
	var out []string
	for _, name := range failFrom {
		if !own[name] {
			out = append(out, name)
		}
	}
	return out
}

// inheritedSources are the sources of a running failover a new one takes over from that still
// do not answer. A completed failover or a planned operation leaves nothing to inherit: its
// restore ended, and an older snapshot would only widen the loss window.
func inheritedSources(running *ocsv1.Operation, answers func(server string) bool) []string {
	if running == nil || running.Type != ocsv1.OperationFailover || running.CompletionTime != nil {
		return nil
	}
	var out []string
	for _, name := range running.From {
		if !answers(name) {
			out = append(out, name)
		}
	}
	return out
}

// restoreWaitsOn are the servers, in name order, that do not answer and hold users the restore
// must still reach (waiting, by SIP; homes maps a SIP to its home now). The failover's own
// sources are not among them: a user left there could not be moved, and is reported so.
func restoreWaitsOn(waiting []string, homes map[string]string, sources []string, answers func(server string) bool) []string {
	own := setOfNames(sources)
	seen := map[string]bool{}
	var out []string
	for _, sip := range waiting {
		home, ok := homes[sip]
		if !ok || seen[home] || own[home] || answers(home) {
			continue
		}
		seen[home] = true
		out = append(out, home)
	}
	sort.Strings(out)
	return out
}

// unionOf merges lists of names into one sorted list without repeats.
func unionOf(lists ...[]string) []string {
	set := map[string]bool{}
	for _, l := range lists {
		for _, n := range l {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// serverAnswers reports that the pool's server answers (Healthy, in maintenance or not); a
// server not in the pool does not.
func (s *homingScope) serverAnswers(name string) bool {
	f := s.pool.fact(name)
	return f != nil && f.answers()
}

// homes maps each user of this pass's directory listing to its home.
func (s *homingScope) homes() map[string]string {
	out := make(map[string]string, len(s.users))
	for _, u := range s.users {
		out[u.SIP] = u.Server
	}
	return out
}
