package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// A server is checked before anything changes on it: PowerShell 2.0 or later, the tools at
// spec.tools, the product's management interface, reading users, and (through the agent's
// hook) directory writes. The OCSPool controller runs the preflight in its probe round, so the
// result lands in status.servers[].preflight in the same write as the server's state; the
// UserHoming and ContactBackup controllers then act only on servers preflightAllows.

// preflightMaxAge is how long a passed preflight stands: a tool deleted or a module removed
// later is noticed within it.
const preflightMaxAge = 10 * time.Minute

// Event reasons of preflight transitions.
const (
	eventPreflightFailed = "PreflightFailed"
	eventPreflightPassed = "PreflightPassed"
)

// preflightAllows reports whether moves, exports and imports may run on a server: not while its
// preflight failed or is pending. A status without a preflight was written before preflights
// existed (or by a test) and does not block.
func preflightAllows(st ocsv1.ServerStatus) bool {
	return st.Preflight == nil || st.Preflight.Result == ocsv1.PreflightPassed
}

// preflightGatedState is a server's state as the UserHoming controller must see it: a server
// that answers but has not passed its preflight is Unknown, neither serving nor down, so that
// no user moves to, from or through it. A server that is down keeps its state: its users may
// be failed over by moves that run on the servers that passed.
func preflightGatedState(st ocsv1.ServerStatus) ocsv1.ServerState {
	if healthOf(st.State) == ocsv1.ServerHealthy && !preflightAllows(st) {
		return ocsv1.ServerUnknown
	}
	return st.State
}

// needsPreflight decides whether a server is checked this round: only when WinRM answered its
// probe, and then when it was never checked or did not pass, when the spec changed (tool
// paths), after a probe that failed (a reconnection), or when the last pass is old.
func needsPreflight(prev ocsv1.ServerStatus, res probeResult, generation int64, now time.Time) bool {
	if res.Kind != probePassed && res.Kind != probeUnhealthy {
		return false
	}
	p := prev.Preflight
	switch {
	case p == nil || p.Result != ocsv1.PreflightPassed:
		return true
	case p.ObservedGeneration != generation, prev.ConsecutiveFailures > 0:
		return true
	case p.LastCheckTime == nil:
		return true
	}
	return now.Sub(p.LastCheckTime.Time) >= preflightMaxAge
}

// preflightServers checks, at once, the servers that need it this round and returns their new
// preflight status by server name.
func (r *OCSPoolReconciler) preflightServers(ctx context.Context, pool *ocsv1.OCSPool, agent ocs.Agent,
	previous []ocsv1.ServerStatus, results []probeResult, h healthSettings, now time.Time) map[string]*ocsv1.PreflightStatus {
	prev := map[string]ocsv1.ServerStatus{}
	for _, st := range previous {
		prev[st.Name] = st
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string]*ocsv1.PreflightStatus{}
	)
	for i, s := range pool.Spec.Servers {
		if !needsPreflight(prev[s.Name], results[i], pool.Generation, now) {
			continue
		}
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, max(h.Interval, minListTimeout))
			defer cancel()
			report, err := agent.Preflight(pctx, s.Name)
			st := preflightStatus(s.Name, report, err, pool.Generation, metav1.NewTime(now))
			mu.Lock()
			out[s.Name] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// preflightStatus turns a preflight report (or the error that stopped it) into the status.
func preflightStatus(server string, report ocs.PreflightReport, err error, generation int64, now metav1.Time) *ocsv1.PreflightStatus {
	st := &ocsv1.PreflightStatus{PowerShellVersion: report.PowerShellVersion, LastCheckTime: &now, ObservedGeneration: generation}
	if err != nil {
		st.Result, st.Reason = ocsv1.PreflightPending, ocsv1.ReasonPreflightPending
		st.Message = trimMessage(fmt.Sprintf("The preflight of server %s could not run: %v. Nothing changes on it until it passes.", server, err))
		return st
	}
	for _, c := range report.Checks {
		st.Checks = append(st.Checks, c.Name+"="+string(c.Result))
	}
	failed, ok := report.FirstFailure()
	if !ok {
		st.Result, st.Message = ocsv1.PreflightPassed, fmt.Sprintf("Server %s passed its preflight (PowerShell %s).", server, report.PowerShellVersion)
		return st
	}
	st.Result, st.Reason = ocsv1.PreflightFailed, preflightReason(report, failed)
	st.Message = trimMessage(fmt.Sprintf("Server %s failed its preflight check %s: %s Nothing is moved, exported or imported on it until it passes.",
		server, failed.Name, strings.TrimSpace(failed.Message)))
	return st
}

// preflightReason is the condition reason naming a failed check.
func preflightReason(report ocs.PreflightReport, c ocs.PreflightCheck) string {
	switch c.Name {
	case ocs.CheckPowerShellVersion:
		if report.PowerShellVersion == "1.0" {
			return ocsv1.ReasonPowerShellTooOld
		}
	case ocs.CheckLcscmdPath:
		return ocsv1.ReasonLcscmdNotFound
	case ocs.CheckDBImpExpPath:
		return ocsv1.ReasonDBImpExpNotFound
	case ocs.CheckWMIClasses:
		return ocsv1.ReasonWMIClassesMissing
	case ocs.CheckSfBModule:
		return ocsv1.ReasonSkypeForBusinessModuleMissing
	case ocs.CheckReadUsers:
		if c.AccessDenied {
			return ocsv1.ReasonDirectoryAccessDenied
		}
		return ocsv1.ReasonUsersNotReadable
	case ocs.CheckDirectoryWrite:
		return ocsv1.ReasonDirectoryAccessDenied
	}
	return ocsv1.ReasonPreflightError
}

// setCompatibleCondition sets ServersCompatible from status.servers: False with the first
// failure (spec order), Unknown while a server is unchecked, True when all passed.
func setCompatibleCondition(pool *ocsv1.OCSPool) {
	byName := map[string]ocsv1.ServerStatus{}
	for _, st := range pool.Status.Servers {
		byName[st.Name] = st
	}
	var pending []string
	for _, s := range pool.Spec.Servers {
		p := byName[s.Name].Preflight
		switch {
		case p != nil && p.Result == ocsv1.PreflightFailed:
			setCondition(pool, ocsv1.ConditionServersCompatible, metav1.ConditionFalse, p.Reason, p.Message)
			return
		case p == nil || p.Result != ocsv1.PreflightPassed:
			pending = append(pending, s.Name)
		}
	}
	if len(pending) > 0 {
		setCondition(pool, ocsv1.ConditionServersCompatible, metav1.ConditionUnknown, ocsv1.ReasonPreflightPending,
			fmt.Sprintf("Not checked yet (the server must answer WinRM first): %s.", strings.Join(pending, ", ")))
		return
	}
	setCondition(pool, ocsv1.ConditionServersCompatible, metav1.ConditionTrue, ocsv1.ReasonPreflightPassed,
		fmt.Sprintf("All %d servers passed their preflight.", len(pool.Spec.Servers)))
}

// preflightEvent returns the event of a preflight change, "" for none: a new failure, or a pass
// after a failure.
func preflightEvent(before, after *ocsv1.PreflightStatus) (eventType, reason string) {
	if after == nil || before != nil && before.Result == after.Result && before.Reason == after.Reason {
		return "", ""
	}
	switch {
	case after.Result == ocsv1.PreflightFailed:
		return corev1.EventTypeWarning, eventPreflightFailed
	case after.Result == ocsv1.PreflightPassed && before != nil && before.Result == ocsv1.PreflightFailed:
		return corev1.EventTypeNormal, eventPreflightPassed
	}
	return "", ""
}
