package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// A server that goes from Unreachable to Unhealthy (WinRM back, RtcSrv still stopped) has been
// down all along: downSince keeps the first time, so the failover delay does not start again.
func TestOCSPoolDownSinceSurvivesAChangeBetweenDownStates(t *testing.T) {
	g := NewWithT(t)
	t0 := metav1.NewTime(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	st := ocsv1.ServerStatus{Name: "a", State: ocsv1.ServerHealthy, LastTransitionTime: &t0}
	steps := []struct {
		res       probeResult
		state     ocsv1.ServerState
		downSince *metav1.Time
	}{
		{probeResult{Kind: probeUnreachable, Detail: "refused"}, ocsv1.ServerUnreachable, ptrTime(at(time.Second))},
		{probeResult{Kind: probeUnhealthy, Detail: "RtcSrv stopped"}, ocsv1.ServerUnhealthy, ptrTime(at(time.Second))},
		{probeResult{Kind: probeUnreachable, Detail: "refused"}, ocsv1.ServerUnreachable, ptrTime(at(time.Second))},
		{probeResult{Kind: probePassed, Detail: "ok"}, ocsv1.ServerHealthy, nil},
		{probeResult{Kind: probeUnhealthy, Detail: "RtcSrv stopped"}, ocsv1.ServerUnhealthy, ptrTime(at(5 * time.Second))},
	}
	for i, step := range steps {
		st = nextServerStatus(st, step.res, 1, at(time.Duration(i+1)*time.Second))
		g.Expect(st.State).To(Equal(step.state), "step %d", i)
		if step.downSince == nil {
			g.Expect(st.DownSince).To(BeNil(), "step %d", i)
			continue
		}
		g.Expect(st.DownSince).NotTo(BeNil(), "step %d", i)
		g.Expect(st.DownSince.Time).To(BeTemporally("==", step.downSince.Time), "step %d", i)
	}
	// The pool view measures the delay of a down server from downSince.
	pool := &ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{{Name: "a"}}}}
	st = nextServerStatus(ocsv1.ServerStatus{Name: "a", State: ocsv1.ServerUnreachable, LastTransitionTime: ptrTime(at(time.Second)), DownSince: ptrTime(at(time.Second))},
		probeResult{Kind: probeUnhealthy, Detail: "RtcSrv stopped"}, 1, at(time.Minute))
	pool.Status.Servers = []ocsv1.ServerStatus{st}
	g.Expect(newPoolView(pool).servers[0].since).To(BeTemporally("==", at(time.Second).Time))
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }
