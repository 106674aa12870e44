package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestNeedsPreflight(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }
	passed := &ocsv1.PreflightStatus{Result: ocsv1.PreflightPassed, LastCheckTime: at(time.Minute), ObservedGeneration: 3}
	answered := probeResult{Kind: probePassed}
	tests := map[string]struct {
		prev ocsv1.ServerStatus
		res  probeResult
		want bool
	}{
		"never checked, answers":                 {prev: ocsv1.ServerStatus{}, res: answered, want: true},
		"never checked, does not answer":         {prev: ocsv1.ServerStatus{}, res: probeResult{Kind: probeUnreachable}, want: false},
		"credentials refused":                    {prev: ocsv1.ServerStatus{}, res: probeResult{Kind: probeRejected}, want: false},
		"passed recently":                        {prev: ocsv1.ServerStatus{Preflight: passed}, res: answered, want: false},
		"passed, a service stopped":              {prev: ocsv1.ServerStatus{Preflight: passed}, res: probeResult{Kind: probeUnhealthy}, want: false},
		"passed, then a failed probe: reconnect": {prev: ocsv1.ServerStatus{Preflight: passed, ConsecutiveFailures: 2}, res: answered, want: true},
		"passed long ago":                        {prev: ocsv1.ServerStatus{Preflight: &ocsv1.PreflightStatus{Result: ocsv1.PreflightPassed, LastCheckTime: at(preflightMaxAge), ObservedGeneration: 3}}, res: answered, want: true},
		"passed for an older spec":               {prev: ocsv1.ServerStatus{Preflight: &ocsv1.PreflightStatus{Result: ocsv1.PreflightPassed, LastCheckTime: at(time.Minute), ObservedGeneration: 2}}, res: answered, want: true},
		"failed: checked every round":            {prev: ocsv1.ServerStatus{Preflight: &ocsv1.PreflightStatus{Result: ocsv1.PreflightFailed, LastCheckTime: at(time.Second), ObservedGeneration: 3}}, res: answered, want: true},
		"pending: checked again":                 {prev: ocsv1.ServerStatus{Preflight: &ocsv1.PreflightStatus{Result: ocsv1.PreflightPending, ObservedGeneration: 3}}, res: answered, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := needsPreflight(tc.prev, tc.res, 3, now); got != tc.want {
				t.Fatalf("needsPreflight = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPreflightStatusNamesTheFirstFailedCheck(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	ok := func(name string) ocs.PreflightCheck { return ocs.PreflightCheck{Name: name, Result: ocs.CheckPassed} }
	bad := func(name, msg string) ocs.PreflightCheck {
		return ocs.PreflightCheck{Name: name, Result: ocs.CheckFailed, Message: msg}
	}
	tests := map[string]struct {
		report     ocs.PreflightReport
		err        error
		result     ocsv1.PreflightResult
		reason     string
		inMessage  string
		checksList string
	}{
		"all passed": {report: ocs.PreflightReport{PowerShellVersion: "2.0", Checks: []ocs.PreflightCheck{ok(ocs.CheckPowerShellVersion), ok(ocs.CheckReadUsers)}},
			result: ocsv1.PreflightPassed, inMessage: "PowerShell 2.0", checksList: "PowerShellVersion=Passed,ReadUsers=Passed"},
		"PowerShell 1.0": {report: ocs.PreflightReport{PowerShellVersion: "1.0", Checks: []ocs.PreflightCheck{bad(ocs.CheckPowerShellVersion, "install Windows Management Framework 2.0 (KB968929).")}},
			result: ocsv1.PreflightFailed, reason: ocsv1.ReasonPowerShellTooOld, inMessage: "Management Framework 2.0"},
		"no PowerShell at all": {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{bad(ocs.CheckPowerShellVersion, "powershell.exe did not report its version")}},
			result: ocsv1.PreflightFailed, reason: ocsv1.ReasonPreflightError},
		"the first failure wins": {report: ocs.PreflightReport{PowerShellVersion: "2.0", Checks: []ocs.PreflightCheck{ok(ocs.CheckPowerShellVersion),
			bad(ocs.CheckDBImpExpPath, "DBImpExp.exe is not at C:\\x; install it there or set spec.tools.dbimpexpPath."), bad(ocs.CheckWMIClasses, "Invalid class")}},
			result: ocsv1.PreflightFailed, reason: ocsv1.ReasonDBImpExpNotFound, inMessage: "spec.tools.dbimpexpPath"},
		"lcscmd":      {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{bad(ocs.CheckLcscmdPath, "x")}}, result: ocsv1.PreflightFailed, reason: ocsv1.ReasonLcscmdNotFound},
		"WMI classes": {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{bad(ocs.CheckWMIClasses, "x")}}, result: ocsv1.PreflightFailed, reason: ocsv1.ReasonWMIClassesMissing},
		"SfB module":  {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{bad(ocs.CheckSfBModule, "x")}}, result: ocsv1.PreflightFailed, reason: ocsv1.ReasonSkypeForBusinessModuleMissing},
		"users unreadable": {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{bad(ocs.CheckReadUsers, "x")}},
			result: ocsv1.PreflightFailed, reason: ocsv1.ReasonUsersNotReadable},
		"the directory refuses the account": {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{{Name: ocs.CheckReadUsers, Result: ocs.CheckFailed, AccessDenied: true}}},
			result: ocsv1.PreflightFailed, reason: ocsv1.ReasonDirectoryAccessDenied},
		"directory writes": {report: ocs.PreflightReport{Checks: []ocs.PreflightCheck{bad(ocs.CheckDirectoryWrite, "no delegated credentials")}},
			result: ocsv1.PreflightFailed, reason: ocsv1.ReasonDirectoryAccessDenied},
		"a skipped check passes": {report: ocs.PreflightReport{PowerShellVersion: "5.1", Checks: []ocs.PreflightCheck{ok(ocs.CheckReadUsers), {Name: ocs.CheckDirectoryWrite, Result: ocs.CheckSkipped}}},
			result: ocsv1.PreflightPassed},
		"the check could not run": {err: errors.New("WinRM does not answer"), result: ocsv1.PreflightPending, reason: ocsv1.ReasonPreflightPending, inMessage: "could not run"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := preflightStatus("ocs2", tc.report, tc.err, 4, now)
			if st.Result != tc.result || st.Reason != tc.reason || !strings.Contains(st.Message, "ocs2") || !strings.Contains(st.Message, tc.inMessage) ||
				st.ObservedGeneration != 4 || !st.LastCheckTime.Equal(&now) {
				t.Fatalf("status %+v", st)
			}
			if tc.checksList != "" && strings.Join(st.Checks, ",") != tc.checksList {
				t.Fatalf("checks %v", st.Checks)
			}
		})
	}
}

func TestServersCompatibleCondition(t *testing.T) {
	passed := &ocsv1.PreflightStatus{Result: ocsv1.PreflightPassed}
	failed := func(reason string) *ocsv1.PreflightStatus {
		return &ocsv1.PreflightStatus{Result: ocsv1.PreflightFailed, Reason: reason, Message: "Server fails " + reason + "."}
	}
	tests := map[string]struct {
		preflights []*ocsv1.PreflightStatus
		status     metav1.ConditionStatus
		reason     string
	}{
		"all passed":                 {[]*ocsv1.PreflightStatus{passed, passed}, metav1.ConditionTrue, ocsv1.ReasonPreflightPassed},
		"one failed, one unchecked":  {[]*ocsv1.PreflightStatus{nil, failed(ocsv1.ReasonLcscmdNotFound)}, metav1.ConditionFalse, ocsv1.ReasonLcscmdNotFound},
		"the first server in order":  {[]*ocsv1.PreflightStatus{failed(ocsv1.ReasonPowerShellTooOld), failed(ocsv1.ReasonLcscmdNotFound)}, metav1.ConditionFalse, ocsv1.ReasonPowerShellTooOld},
		"one unchecked":              {[]*ocsv1.PreflightStatus{passed, nil}, metav1.ConditionUnknown, ocsv1.ReasonPreflightPending},
		"one pending after an error": {[]*ocsv1.PreflightStatus{{Result: ocsv1.PreflightPending}, passed}, metav1.ConditionUnknown, ocsv1.ReasonPreflightPending},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pool := &ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{{Name: "ocs1"}, {Name: "ocs2"}}}}
			for i, p := range tc.preflights {
				pool.Status.Servers = append(pool.Status.Servers, ocsv1.ServerStatus{Name: pool.Spec.Servers[i].Name, State: ocsv1.ServerHealthy, Preflight: p})
			}
			setCompatibleCondition(pool)
			c := meta.FindStatusCondition(pool.Status.Conditions, ocsv1.ConditionServersCompatible)
			if c == nil || c.Status != tc.status || c.Reason != tc.reason {
				t.Fatalf("condition %+v", c)
			}
		})
	}
}

func TestPreflightGatesWhatTheOtherControllersSee(t *testing.T) {
	failed := &ocsv1.PreflightStatus{Result: ocsv1.PreflightFailed, Reason: ocsv1.ReasonPowerShellTooOld}
	tests := map[string]struct {
		st      ocsv1.ServerStatus
		state   ocsv1.ServerState
		allowed bool
	}{
		"healthy and passed":                   {ocsv1.ServerStatus{State: ocsv1.ServerHealthy, Preflight: &ocsv1.PreflightStatus{Result: ocsv1.PreflightPassed}}, ocsv1.ServerHealthy, true},
		"healthy, failed: held":                {ocsv1.ServerStatus{State: ocsv1.ServerHealthy, Preflight: failed}, ocsv1.ServerUnknown, false},
		"draining, pending: held":              {ocsv1.ServerStatus{State: ocsv1.ServerDraining, Preflight: &ocsv1.PreflightStatus{Result: ocsv1.PreflightPending}}, ocsv1.ServerUnknown, false},
		"unreachable, failed: still down":      {ocsv1.ServerStatus{State: ocsv1.ServerUnreachable, Preflight: failed}, ocsv1.ServerUnreachable, false},
		"no preflight recorded (older status)": {ocsv1.ServerStatus{State: ocsv1.ServerHealthy}, ocsv1.ServerHealthy, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := preflightGatedState(tc.st); got != tc.state {
				t.Fatalf("state %s, want %s", got, tc.state)
			}
			if got := preflightAllows(tc.st); got != tc.allowed {
				t.Fatalf("allows %v, want %v", got, tc.allowed)
			}
		})
	}
}

func TestBackupSkipsAServerThatFailedItsPreflight(t *testing.T) {
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	pool.Status.Servers[1].Preflight = &ocsv1.PreflightStatus{Result: ocsv1.PreflightFailed, Reason: ocsv1.ReasonDBImpExpNotFound}
	serving, skipped := backupServers(pool)
	if len(serving) != 1 || serving[0] != "ocs1" || len(skipped) != 1 || skipped[0].Reason != "preflight Failed (DBImpExpNotFound)" {
		t.Fatalf("serving %v, skipped %v", serving, skipped)
	}
}

func TestBackupExportsAServerOnlyTheDirectoryRefused(t *testing.T) {
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	for i := range pool.Status.Servers {
		pool.Status.Servers[i].Preflight = &ocsv1.PreflightStatus{Result: ocsv1.PreflightFailed, Reason: ocsv1.ReasonDirectoryAccessDenied}
	}
	serving, skipped := backupServers(pool)
	if len(serving) != 2 || len(skipped) != 0 {
		t.Fatalf("serving %v, skipped %v: the second hop does not stop an export of the server's own database", serving, skipped)
	}
	if v := newPoolView(pool); v.fact("ocs1").serving() || v.fact("ocs1").down() {
		t.Fatal("a server whose directory refuses the account must be held: neither serving nor down")
	}
}

func TestAPoolWhoseServersAllWaitForTheirPreflightHasReported(t *testing.T) {
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	for i := range pool.Status.Servers {
		pool.Status.Servers[i].Preflight = &ocsv1.PreflightStatus{Result: ocsv1.PreflightFailed, Reason: ocsv1.ReasonDirectoryAccessDenied}
	}
	if !newPoolView(pool).reported() {
		t.Fatal("probed servers held by their preflight count as reported: a backup must not wait for the pool forever")
	}
}
