package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestUserHomingFailoverGate(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	now := clk.Now()
	down := func(state ocsv1.ServerState, ago time.Duration) serverFact {
		return serverFact{name: "ocs2", state: state, since: now.Add(-ago), homed: 1000}
	}
	tests := map[string]struct {
		in         gateInput
		wantReason string // "" = fail over
		wantAfter  time.Duration
	}{
		"a healthy server is not failed over": {
			in:         gateInput{server: down(ocsv1.ServerHealthy, time.Hour), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1},
			wantReason: ocsv1.ReasonServerNotDown,
		},
		"a server in maintenance is drained, not failed over": {
			in:         gateInput{server: serverFact{name: "ocs2", state: ocsv1.ServerDraining, maintenance: true, since: now.Add(-time.Hour)}, delay: time.Minute, servingServers: 1},
			wantReason: ocsv1.ReasonServerNotDown,
		},
		"an unknown server is held": {
			in:         gateInput{server: serverFact{name: "ocs2", state: ocsv1.ServerUnknown}, delay: time.Minute, servingServers: 1},
			wantReason: ocsv1.ReasonServerNotDown,
		},
		"a server down shorter than the delay waits for exactly the remaining time": {
			in:         gateInput{server: down(ocsv1.ServerUnreachable, 20*time.Second), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1},
			wantReason: ocsv1.ReasonFailoverDelay,
			wantAfter:  40 * time.Second,
		},
		"an unhealthy server also waits for the delay": {
			in:         gateInput{server: down(ocsv1.ServerUnhealthy, 59*time.Second), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1},
			wantReason: ocsv1.ReasonFailoverDelay,
			wantAfter:  time.Second,
		},
		"a down server without transition time gets the whole delay": {
			in:         gateInput{server: serverFact{name: "ocs2", state: ocsv1.ServerUnreachable}, delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1},
			wantReason: ocsv1.ReasonFailoverDelay,
			wantAfter:  time.Minute,
		},
		"the delay comes before the manual mode": {
			in:         gateInput{server: down(ocsv1.ServerUnreachable, time.Second), delay: time.Minute, mode: ocsv1.FailoverManual, servingServers: 1},
			wantReason: ocsv1.ReasonFailoverDelay,
			wantAfter:  59 * time.Second,
		},
		"manual mode asks a human once the delay is over": {
			in:         gateInput{server: down(ocsv1.ServerUnreachable, time.Minute), delay: time.Minute, mode: ocsv1.FailoverManual, servingServers: 1},
			wantReason: ocsv1.ReasonFailoverManual,
		},
		"no serving server: the observer may be cut off, nothing moves": {
			in:         gateInput{server: down(ocsv1.ServerUnreachable, time.Hour), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 0},
			wantReason: ocsv1.ReasonNoServingServer,
		},
		"manual mode is reported before the lack of a serving server": {
			in:         gateInput{server: down(ocsv1.ServerUnreachable, time.Hour), delay: time.Minute, mode: ocsv1.FailoverManual, servingServers: 0},
			wantReason: ocsv1.ReasonFailoverManual,
		},
		"down for the delay, automatic, a serving server: fail over": {
			in: gateInput{server: down(ocsv1.ServerUnreachable, time.Minute), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1},
		},
		"respectWindows outside a window holds the failover until the window opens": {
			in: gateInput{server: down(ocsv1.ServerUnreachable, time.Hour), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1,
				window: &windowVerdict{next: now.Add(3 * time.Hour)}},
			wantReason: ocsv1.ReasonOutsideMaintenanceWindow,
			wantAfter:  3 * time.Hour,
		},
		"respectWindows inside a window: fail over": {
			in: gateInput{server: down(ocsv1.ServerUnreachable, time.Hour), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1,
				window: &windowVerdict{open: true}},
		},
		"the delay comes before the window": {
			in: gateInput{server: down(ocsv1.ServerUnreachable, 30*time.Second), delay: time.Minute, mode: ocsv1.FailoverAutomatic, servingServers: 1,
				window: &windowVerdict{next: now.Add(3 * time.Hour)}},
			wantReason: ocsv1.ReasonFailoverDelay,
			wantAfter:  30 * time.Second,
		},
		"unhealthy for longer than the delay: fail over": {
			in: gateInput{server: down(ocsv1.ServerUnhealthy, time.Hour), delay: 2 * time.Second, mode: ocsv1.FailoverAutomatic, servingServers: 3},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			tc.in.now = now
			o := evaluateGate(tc.in)
			if tc.wantReason == "" {
				g.Expect(o).To(BeNil())
				return
			}
			g.Expect(o).NotTo(BeNil())
			g.Expect(o.Reason).To(Equal(tc.wantReason))
			g.Expect(o.RequeueAfter).To(Equal(tc.wantAfter))
			g.Expect(o.Message).To(ContainSubstring("ocs2"))
		})
	}
}

func TestUserHomingFailoverManualMessageNamesTheCommand(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	o := evaluateGate(gateInput{
		server: serverFact{name: "ocs2", state: ocsv1.ServerUnreachable, since: now.Add(-time.Hour), homed: 1000},
		now:    now, delay: time.Minute, mode: ocsv1.FailoverManual, servingServers: 1,
	})
	g.Expect(o.Message).To(ContainSubstring("spec.failover.mode to Automatic"))
	g.Expect(o.Message).To(ContainSubstring("1000 users"))
}

func TestUserHomingSoonestGateRequeue(t *testing.T) {
	g := NewWithT(t)
	gates := map[string]*gateObjection{
		"ocs2": {Reason: ocsv1.ReasonFailoverDelay, RequeueAfter: 40 * time.Second},
		"ocs3": {Reason: ocsv1.ReasonFailoverDelay, RequeueAfter: 7 * time.Second},
		"ocs4": {Reason: ocsv1.ReasonFailoverManual},
	}
	g.Expect(soonestGateRequeue(ctrl.Result{RequeueAfter: time.Minute}, gates).RequeueAfter).To(Equal(7 * time.Second))
	g.Expect(soonestGateRequeue(ctrl.Result{RequeueAfter: time.Millisecond}, gates).RequeueAfter).To(Equal(time.Millisecond))
	g.Expect(soonestGateRequeue(ctrl.Result{}, gates).RequeueAfter).To(Equal(7 * time.Second))
	g.Expect(soonestGateRequeue(ctrl.Result{RequeueAfter: time.Minute}, nil).RequeueAfter).To(Equal(time.Minute))
}

func TestUserHomingPoolFactsChanged(t *testing.T) {
	since := metav1.NewTime(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC))
	later := metav1.NewTime(since.Add(time.Second))
	pool := func(gen int64, state ocsv1.ServerState, probe *metav1.Time) *ocsv1.OCSPool {
		return &ocsv1.OCSPool{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Status: ocsv1.OCSPoolStatus{Servers: []ocsv1.ServerStatus{
				{Name: "ocs1", State: state, LastTransitionTime: &since, LastProbeTime: probe},
			}},
		}
	}
	tests := map[string]struct {
		old, new *ocsv1.OCSPool
		want     bool
	}{
		"a probe that changes nothing is ignored": {pool(1, ocsv1.ServerHealthy, &since), pool(1, ocsv1.ServerHealthy, &later), false},
		"a state change wakes":                    {pool(1, ocsv1.ServerHealthy, &since), pool(1, ocsv1.ServerUnreachable, &later), true},
		"a spec change (maintenance) wakes":       {pool(1, ocsv1.ServerHealthy, &since), pool(2, ocsv1.ServerHealthy, &since), true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(poolFactsChanged.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new})).To(Equal(tc.want))
		})
	}
}

// deadlineAgent answers ServiceHealth as a server that refuses connections, noting the deadline
// the check was given.
type deadlineAgent struct {
	ocs.Agent
	deadline    time.Time
	hadDeadline bool
}

func (a *deadlineAgent) ServiceHealth(ctx context.Context, _ string, _ []string) ([]ocs.ServiceStatus, error) {
	a.deadline, a.hadDeadline = ctx.Deadline()
	return nil, errors.New("connection refused")
}

// The direct check before a failover is bounded as a probe is, by spec.health.probeTimeout: the
// transport's own retries would hold a failover for seconds (a refused connection) or tens of
// seconds (dropped packets).
func TestStillDownAsksWithinTheProbeTimeout(t *testing.T) {
	g := NewWithT(t)
	const timeout = time.Hour // far from anything the test's own pace could reach
	agent := &deadlineAgent{}
	s := &homingScope{agent: agent, pool: &poolView{health: healthSettings{Timeout: timeout}}, report: homingReport{gates: map[string]*gateObjection{}}}
	before := time.Now()
	down := (&UserHomingReconciler{}).stillDown(context.Background(), s, []string{"ocs2"})
	after := time.Now()
	g.Expect(down).To(Equal([]string{"ocs2"}), "a server that does not answer is still down")
	g.Expect(agent.hadDeadline).To(BeTrue(), "the check had no deadline")
	g.Expect(agent.deadline).To(BeTemporally(">=", before.Add(timeout)))
	g.Expect(agent.deadline).To(BeTemporally("<=", after.Add(timeout)))
}
