package controllers

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func TestPoolViewServerFacts(t *testing.T) {
	g := NewWithT(t)
	since := metav1.NewTime(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC))
	pool := &ocsv1.OCSPool{
		Spec: ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{{Name: "a"}, {Name: "b", Maintenance: true}, {Name: "c"}, {Name: "d", Maintenance: true}, {Name: "e"}}},
		Status: ocsv1.OCSPoolStatus{Servers: []ocsv1.ServerStatus{
			{Name: "a", State: ocsv1.ServerHealthy},
			{Name: "b", State: ocsv1.ServerDraining},
			{Name: "c", State: ocsv1.ServerUnreachable, LastTransitionTime: &since},
			{Name: "d", State: ocsv1.ServerUnhealthy},
		}},
	}
	v := newPoolView(pool)
	g.Expect(v.servers).To(HaveLen(5))
	type want struct{ serving, answers, drainable, down, reported bool }
	got := map[string]want{}
	for _, f := range v.servers {
		got[f.name] = want{f.serving(), f.answers(), f.drainable(), f.down(), f.reported}
	}
	g.Expect(got).To(Equal(map[string]want{
		"a": {serving: true, answers: true, reported: true},
		"b": {answers: true, drainable: true, reported: true},
		"c": {down: true, reported: true},
		// In maintenance but not answering: its users can only leave by a failover.
		"d": {down: true, reported: true},
		// Never probed: Unknown, neither serving nor down, so its users are held.
		"e": {},
	}))
	g.Expect(v.fact("c").since).To(Equal(since.Time))
	g.Expect(v.fact("e").state).To(Equal(ocsv1.ServerUnknown))
	g.Expect(v.fact("x")).To(BeNil())
	g.Expect(v.servingNames()).To(Equal([]string{"a"}))
	g.Expect(v.reported()).To(BeTrue())
	g.Expect(newPoolView(&ocsv1.OCSPool{Spec: pool.Spec}).reported()).To(BeFalse())
}

func TestPoolViewHealthSettings(t *testing.T) {
	g := NewWithT(t)
	v := newPoolView(&ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Health: ocsv1.HealthSpec{ProbeInterval: "3s"}}})
	g.Expect(v.healthErr).NotTo(HaveOccurred())
	g.Expect(v.recheckInterval()).To(Equal(3 * time.Second))
	g.Expect(v.health.Services).To(Equal([]string{"RtcSrv"}))

	// An object that bypassed validation keeps the defaults where it cannot be read.
	v = newPoolView(&ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Health: ocsv1.HealthSpec{ProbeInterval: "soon", ProbeTimeout: "1s"}}})
	g.Expect(v.healthErr).To(HaveOccurred())
	g.Expect(v.recheckInterval()).To(Equal(defaultProbeInterval))
	g.Expect(v.health.Services).To(Equal([]string{"RtcSrv"}))
	v = newPoolView(&ocsv1.OCSPool{Spec: ocsv1.OCSPoolSpec{Health: ocsv1.HealthSpec{ProbeInterval: "2s", ProbeTimeout: "-1s"}}})
	g.Expect(v.healthErr).To(HaveOccurred())
	g.Expect(v.recheckInterval()).To(Equal(2 * time.Second))
}
