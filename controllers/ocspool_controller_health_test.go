package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestOCSPoolNextServerStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	now := metav1.NewTime(t0.Add(time.Minute))
	users := func(n int32) *int32 { return &n }
	status := func(state ocsv1.ServerState, failures int32, homed int32) ocsv1.ServerStatus {
		return ocsv1.ServerStatus{Name: "ocs1", State: state, ConsecutiveFailures: failures, HomedUsers: homed,
			LastProbeTime: &t0, LastTransitionTime: &t0}
	}
	passed := probeResult{Kind: probePassed, Detail: "WinRM answers and RtcSrv is running."}
	down := probeResult{Kind: probeUnreachable, Detail: "WinRM does not answer: refused."}
	late := probeResult{Kind: probeTimedOut, Detail: "The probe did not finish within probeTimeout 5s; a timeout is not proof that the server is down."}
	stopped := probeResult{Kind: probeUnhealthy, Detail: "WinRM answers but a required service is not running: RtcSrv is STOPPED."}
	refused := probeResult{Kind: probeRejected, Reason: ocsv1.ReasonAuthenticationFailed, Detail: "WinRM refused the credentials of Secret ns/creds."}
	untrusted := probeResult{Kind: probeRejected, Reason: ocsv1.ReasonTLSFailed, Detail: "The certificate of https://ocs1:5986/wsman did not verify."}
	with := func(r probeResult, maintenance bool, homed *int32) probeResult {
		r.Maintenance, r.HomedUsers = maintenance, homed
		return r
	}
	uncountable := func(r probeResult) probeResult {
		r.UsersUncountable = true
		return r
	}

	tests := map[string]struct {
		prev      ocsv1.ServerStatus
		res       probeResult
		threshold int32
		want      ocsv1.ServerState
		failures  int32
		homed     int32
		moved     bool   // LastTransitionTime is now
		message   string // substring of the message
	}{
		"a first passed probe makes an unknown server Healthy": {
			prev: ocsv1.ServerStatus{Name: "ocs1"}, res: passed, threshold: 3, want: ocsv1.ServerHealthy, moved: true, message: "RtcSrv is running"},
		"a first failed probe below the threshold leaves the server Unknown": {
			prev: ocsv1.ServerStatus{Name: "ocs1"}, res: down, threshold: 3, want: ocsv1.ServerUnknown, failures: 1, moved: true, message: "failed probe 1 of 3"},
		"one lost probe does not make a Healthy server Unreachable": {
			prev: status(ocsv1.ServerHealthy, 0, 5), res: down, threshold: 2, want: ocsv1.ServerHealthy, failures: 1, homed: 5, message: "failed probe 1 of 2"},
		"one timed-out probe keeps Healthy and says a timeout is not proof": {
			prev: status(ocsv1.ServerHealthy, 0, 0), res: late, threshold: 2, want: ocsv1.ServerHealthy, failures: 1, message: "not proof"},
		"threshold failures make the server Unreachable": {
			prev: status(ocsv1.ServerHealthy, 1, 0), res: down, threshold: 2, want: ocsv1.ServerUnreachable, failures: 2, moved: true, message: "2 failed probes in a row"},
		"threshold timeouts make the server Unreachable and still say so": {
			prev: status(ocsv1.ServerHealthy, 2, 0), res: late, threshold: 3, want: ocsv1.ServerUnreachable, failures: 3, moved: true, message: "not proof"},
		"threshold stopped services make the server Unhealthy": {
			prev: status(ocsv1.ServerHealthy, 1, 0), res: stopped, threshold: 2, want: ocsv1.ServerUnhealthy, failures: 2, moved: true, message: "RtcSrv is STOPPED"},
		"refused credentials make the server AuthenticationFailed, never Unreachable": {
			prev: status(ocsv1.ServerHealthy, 1, 0), res: refused, threshold: 2, want: ocsv1.ServerAuthenticationFailed, failures: 2, moved: true, message: "Secret ns/creds"},
		"refused credentials say that they are no proof of death": {
			prev: status(ocsv1.ServerHealthy, 1, 0), res: refused, threshold: 2, want: ocsv1.ServerAuthenticationFailed, failures: 2, moved: true, message: "not proof that it is down"},
		"an untrusted certificate makes the server TLSFailed": {
			prev: status(ocsv1.ServerHealthy, 2, 0), res: untrusted, threshold: 3, want: ocsv1.ServerTLSFailed, failures: 3, moved: true, message: "did not verify"},
		"one refused login keeps a Healthy server Healthy below the threshold": {
			prev: status(ocsv1.ServerHealthy, 0, 4), res: refused, threshold: 2, want: ocsv1.ServerHealthy, failures: 1, homed: 4, message: "failed probe 1 of 2"},
		"an Unreachable server that answers with a refused login is AuthenticationFailed, no longer down": {
			prev: status(ocsv1.ServerUnreachable, 6, 0), res: refused, threshold: 2, want: ocsv1.ServerAuthenticationFailed, failures: 7, moved: true},
		"an AuthenticationFailed server stays so without moving its transition time": {
			prev: status(ocsv1.ServerAuthenticationFailed, 3, 0), res: refused, threshold: 2, want: ocsv1.ServerAuthenticationFailed, failures: 4},
		"an AuthenticationFailed server that stops answering becomes Unreachable": {
			prev: status(ocsv1.ServerAuthenticationFailed, 3, 0), res: down, threshold: 2, want: ocsv1.ServerUnreachable, failures: 4, moved: true},
		"one passed probe makes an AuthenticationFailed server Healthy": {
			prev: status(ocsv1.ServerAuthenticationFailed, 3, 0), res: passed, threshold: 2, want: ocsv1.ServerHealthy, moved: true},
		"a refused login on a server in maintenance is reported, not Drained": {
			prev: status(ocsv1.ServerDrained, 1, 0), res: with(refused, true, nil), threshold: 2, want: ocsv1.ServerAuthenticationFailed, failures: 2, moved: true},
		"a threshold of one acts on the first failure": {
			prev: status(ocsv1.ServerHealthy, 0, 0), res: down, threshold: 1, want: ocsv1.ServerUnreachable, failures: 1, moved: true},
		"a threshold of zero is read as one": {
			prev: status(ocsv1.ServerHealthy, 0, 0), res: down, threshold: 0, want: ocsv1.ServerUnreachable, failures: 1, moved: true},
		"an Unreachable server stays so without moving its transition time": {
			prev: status(ocsv1.ServerUnreachable, 4, 0), res: down, threshold: 2, want: ocsv1.ServerUnreachable, failures: 5},
		"an Unreachable server whose WinRM answers with a stopped service becomes Unhealthy": {
			prev: status(ocsv1.ServerUnreachable, 4, 0), res: stopped, threshold: 2, want: ocsv1.ServerUnhealthy, failures: 5, moved: true},
		"one passed probe makes an Unreachable server Healthy": {
			prev: status(ocsv1.ServerUnreachable, 7, 0), res: passed, threshold: 3, want: ocsv1.ServerHealthy, moved: true},
		"a Healthy server stays without moving its transition time": {
			prev: status(ocsv1.ServerHealthy, 0, 3), res: with(passed, false, users(4)), threshold: 3, want: ocsv1.ServerHealthy, homed: 4},
		"maintenance with users homed is Draining": {
			prev: status(ocsv1.ServerHealthy, 0, 3), res: with(passed, true, users(3)), threshold: 3, want: ocsv1.ServerDraining, homed: 3, moved: true, message: "3 users"},
		"maintenance keeps the previous count when users could not be listed": {
			prev: status(ocsv1.ServerDraining, 0, 2), res: with(passed, true, nil), threshold: 3, want: ocsv1.ServerDraining, homed: 2},
		"maintenance is never Drained while the directory refuses to count the users": {
			prev: status(ocsv1.ServerHealthy, 0, 0), res: uncountable(with(passed, true, nil)), threshold: 3, want: ocsv1.ServerDraining,
			moved: true, message: "directory refuses"},
		"maintenance with no user homed is Drained": {
			prev: status(ocsv1.ServerDraining, 0, 1), res: with(passed, true, users(0)), threshold: 3, want: ocsv1.ServerDrained, moved: true, message: "no user"},
		"a Drained server that loses one probe stays Drained": {
			prev: status(ocsv1.ServerDrained, 0, 0), res: with(down, true, nil), threshold: 2, want: ocsv1.ServerDrained, failures: 1},
		"health wins over maintenance": {
			prev: status(ocsv1.ServerDraining, 1, 2), res: with(down, true, nil), threshold: 2, want: ocsv1.ServerUnreachable, failures: 2, homed: 2, moved: true},
		"maintenance is not reported for a server never seen healthy": {
			prev: ocsv1.ServerStatus{Name: "ocs1"}, res: with(down, true, nil), threshold: 2, want: ocsv1.ServerUnknown, failures: 1, moved: true},
		"leaving maintenance returns a Drained server to Healthy": {
			prev: status(ocsv1.ServerDrained, 0, 0), res: with(passed, false, users(0)), threshold: 2, want: ocsv1.ServerHealthy, moved: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := nextServerStatus(tt.prev, tt.res, tt.threshold, now)
			if got.State != tt.want {
				t.Errorf("State = %s, want %s (message %q)", got.State, tt.want, got.Message)
			}
			if got.ConsecutiveFailures != tt.failures {
				t.Errorf("ConsecutiveFailures = %d, want %d", got.ConsecutiveFailures, tt.failures)
			}
			if got.HomedUsers != tt.homed {
				t.Errorf("HomedUsers = %d, want %d", got.HomedUsers, tt.homed)
			}
			if got.LastProbeTime == nil || !got.LastProbeTime.Equal(&now) {
				t.Errorf("LastProbeTime = %v, want %v", got.LastProbeTime, now)
			}
			wantLTT := t0
			if tt.moved {
				wantLTT = now
			}
			if got.LastTransitionTime == nil || !got.LastTransitionTime.Equal(&wantLTT) {
				t.Errorf("LastTransitionTime = %v, want %v", got.LastTransitionTime, wantLTT)
			}
			if !strings.Contains(got.Message, tt.message) {
				t.Errorf("Message = %q, want it to contain %q", got.Message, tt.message)
			}
			if got.Name != "ocs1" {
				t.Errorf("Name = %q", got.Name)
			}
		})
	}
}

func TestOCSPoolNextServerStatusDoesNotAliasPrevious(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	prev := ocsv1.ServerStatus{Name: "ocs1", State: ocsv1.ServerHealthy, LastProbeTime: &t0, LastTransitionTime: &t0}
	got := nextServerStatus(prev, probeResult{Kind: probeUnreachable, Detail: "x"}, 1, metav1.NewTime(t0.Add(time.Hour)))
	got.LastTransitionTime.Time = time.Time{}
	if !prev.LastTransitionTime.Equal(&t0) {
		t.Fatal("the new status shares LastTransitionTime with the previous one")
	}
}

func TestOCSPoolClassifyProbe(t *testing.T) {
	server := ocsv1.ServerSpec{Name: "ocs1", FQDN: "ocs1.corp.example.com", WinRM: ocsv1.WinRMSpec{
		Endpoint: "https://ocs1:5986/wsman", CredentialsSecretRef: ocsv1.LocalObjectReference{Name: "creds"},
		CASecretRef: &ocsv1.LocalObjectReference{Name: "ca"}}}
	running := []ocs.ServiceStatus{{Name: "RtcSrv", Running: true, State: ocs.StateRunning}}
	tests := map[string]struct {
		statuses []ocs.ServiceStatus
		services []string
		err      error
		kind     probeKind
		reason   string
		detail   string
	}{
		"every service running passes":           {statuses: running, kind: probePassed, detail: "RtcSrv is running"},
		"service names compare without case":     {statuses: []ocs.ServiceStatus{{Name: "rtcsrv", Running: true}}, kind: probePassed},
		"a stopped service is named":             {statuses: []ocs.ServiceStatus{{Name: "RtcSrv", State: ocs.StateStopped}}, kind: probeUnhealthy, detail: "RtcSrv is STOPPED"},
		"a missing service is named":             {statuses: []ocs.ServiceStatus{{Name: "RtcSrv", State: ocs.StateNotFound}}, kind: probeUnhealthy, detail: "RtcSrv is NOT_FOUND"},
		"a service left out of the answer fails": {statuses: running, services: []string{"RtcSrv", "W3SVC"}, kind: probeUnhealthy, detail: "W3SVC was not reported"},
		"unreachable":                            {err: fmt.Errorf("ServiceHealth on ocs1: %w", ocs.ErrUnreachable), kind: probeUnreachable, detail: "does not answer"},
		"timeout is not proof":                   {err: fmt.Errorf("x: %w", ocs.ErrTimeout), kind: probeTimedOut, detail: "not proof"},
		"context deadline is a timeout":          {err: context.DeadlineExceeded, kind: probeTimedOut, detail: "within probeTimeout 2s"},
		"401 names the credentials Secret": {err: fmt.Errorf("x: %w", ocs.ErrUnauthorized), kind: probeRejected,
			reason: ocsv1.ReasonAuthenticationFailed, detail: "Secret ns/creds"},
		"TLS names the CA Secret": {err: fmt.Errorf("x: %w", ocs.ErrTLS), kind: probeRejected, reason: ocsv1.ReasonTLSFailed, detail: "Secret ns/ca"},
		"a failed command means WinRM answers": {err: &ocs.CommandError{Server: "ocs1", Op: "ServiceHealth", ExitCode: 5, Message: "Access is denied."},
			kind: probeUnhealthy, detail: "Access is denied"},
		"unreadable output means WinRM answers": {err: fmt.Errorf("x: %w", ocs.ErrBadOutput), kind: probeUnhealthy},
		"any other error means WinRM answers":   {err: errors.New("boom"), kind: probeUnhealthy},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			services := tt.services
			if services == nil {
				services = []string{"RtcSrv"}
			}
			got := classifyProbe("ns", server, services, tt.statuses, tt.err, 2*time.Second)
			if got.Kind != tt.kind || got.Reason != tt.reason {
				t.Errorf("got kind %d reason %q, want %d %q (%s)", got.Kind, got.Reason, tt.kind, tt.reason, got.Detail)
			}
			if !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("Detail = %q, want it to contain %q", got.Detail, tt.detail)
			}
		})
	}
}

func TestOCSPoolProbeDue(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		last time.Time
		now  time.Time
		due  bool
		wait time.Duration
	}{
		"never probed is due":           {now: t0, due: true},
		"within the interval waits":     {last: t0, now: t0.Add(3 * time.Second), wait: 7 * time.Second},
		"at the interval is due":        {last: t0, now: t0.Add(10 * time.Second), due: true},
		"past the interval is due":      {last: t0, now: t0.Add(time.Hour), due: true},
		"a clock behind the last waits": {last: t0, now: t0.Add(-time.Second), wait: 11 * time.Second},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			due, wait := probeDue(tt.last, 10*time.Second, tt.now)
			if due != tt.due || wait != tt.wait {
				t.Errorf("probeDue = %v, %v; want %v, %v", due, wait, tt.due, tt.wait)
			}
		})
	}
}

func TestOCSPoolHealthSettings(t *testing.T) {
	h, err := healthSettingsOf(ocsv1.OCSPoolSpec{})
	if err != nil || h.Interval != 10*time.Second || h.Timeout != 5*time.Second || h.Threshold != 3 ||
		len(h.Services) != 1 || h.Services[0] != ocs.DefaultService {
		t.Fatalf("defaults = %+v, %v", h, err)
	}
	h, err = healthSettingsOf(ocsv1.OCSPoolSpec{Health: ocsv1.HealthSpec{ProbeInterval: "200ms", ProbeTimeout: "150ms",
		FailureThreshold: 2, Services: []string{"RtcSrv", "W3SVC"}}})
	if err != nil || h.Interval != 200*time.Millisecond || h.Timeout != 150*time.Millisecond || h.Threshold != 2 || len(h.Services) != 2 {
		t.Fatalf("settings = %+v, %v", h, err)
	}
	if _, err := healthSettingsOf(ocsv1.OCSPoolSpec{Health: ocsv1.HealthSpec{ProbeInterval: "soon"}}); err == nil {
		t.Fatal("an unparsable interval was accepted")
	}
}
