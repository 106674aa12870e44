package controllers

import (
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestDerivePhase(t *testing.T) {
	cond := func(t string, s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: t, Status: s, Reason: reason}
	}
	tests := map[string]struct {
		conds []metav1.Condition
		want  string
	}{
		"no conditions is Pending": {nil, "Pending"},
		"suspended wins over everything": {[]metav1.Condition{
			cond(ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonSuspended),
			cond(ocsv1.ConditionStalled, metav1.ConditionTrue, "X"),
		}, "Suspended"},
		"stalled wins over reconciling": {[]metav1.Condition{
			cond(ocsv1.ConditionStalled, metav1.ConditionTrue, "X"),
			cond(ocsv1.ConditionReconciling, metav1.ConditionTrue, "Y"),
		}, "Stalled"},
		"reconciling wins over degraded": {[]metav1.Condition{
			cond(ocsv1.ConditionReconciling, metav1.ConditionTrue, "Y"),
			cond(ocsv1.ConditionDegraded, metav1.ConditionTrue, "Z"),
		}, "Reconciling"},
		"degraded and ready is Degraded": {[]metav1.Condition{
			cond(ocsv1.ConditionDegraded, metav1.ConditionTrue, "Z"),
			cond(ocsv1.ConditionReady, metav1.ConditionTrue, "R"),
		}, "Degraded"},
		"ready alone is Ready": {[]metav1.Condition{cond(ocsv1.ConditionReady, metav1.ConditionTrue, "R")}, "Ready"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := derivePhase(tt.conds); got != tt.want {
				t.Errorf("derivePhase() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTrimMessageKeepsUTF8Whole(t *testing.T) {
	msg := strings.Repeat("é", maxMessageLength)
	got := trimMessage(msg)
	if len(got) > maxMessageLength {
		t.Fatalf("len = %d, want <= %d", len(got), maxMessageLength)
	}
	if !strings.HasSuffix(got, "...") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("message not cut on a rune boundary: %q", got[len(got)-8:])
	}
}

var _ = Describe("Status of every kind", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		startManager(ns, Options{Agents: StaticProvider{Agent: ocs.NewFake("ocs1", "ocs2")}})
	})

	It("sets every owned condition and observedGeneration on the first reconcile", func() {
		objs := []statusObject{validPool(ns), validHoming(ns), validBackup(ns)}
		for _, obj := range objs {
			Expect(k8sClient.Create(testCtx, obj)).To(Succeed())
		}
		for _, obj := range objs {
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				cs := obj.GetCommonStatus()
				g.Expect(cs.ObservedGeneration).To(Equal(obj.GetGeneration()))
				for _, t := range ownedConditions {
					c := meta.FindStatusCondition(cs.Conditions, t)
					g.Expect(c).NotTo(BeNil(), "condition %s of %T", t, obj)
					g.Expect(c.ObservedGeneration).To(Equal(obj.GetGeneration()))
				}
				g.Expect(cs.Phase).NotTo(BeEmpty())
			}).Should(Succeed())
		}
	})

	It("reports spec.suspend as Ready=False reason Suspended", func() {
		homing := validHoming(ns)
		homing.Spec.Suspend = true
		Expect(k8sClient.Create(testCtx, homing)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(homing), homing)).To(Succeed())
			ready := meta.FindStatusCondition(homing.Status.Conditions, ocsv1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(ocsv1.ReasonSuspended))
			g.Expect(homing.Status.Phase).To(Equal("Suspended"))
		}).Should(Succeed())
	})
})
