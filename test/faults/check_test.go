package faults

import (
	"context"
	"fmt"
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func (s *site) homes() map[string]int {
	GinkgoHelper()
	h, err := s.sim.Homes()
	Expect(err).NotTo(HaveOccurred())
	return h
}

func (s *site) usersNow() int {
	GinkgoHelper()
	u, err := s.sim.Users()
	Expect(err).NotTo(HaveOccurred())
	return len(u)
}

func (s *site) contacts() map[string]string {
	GinkgoHelper()
	c, err := s.sim.ContactLists()
	Expect(err).NotTo(HaveOccurred())
	return c
}

func (s *site) post(path string) {
	GinkgoHelper()
	Expect(s.sim.Post(path)).To(Succeed())
}

func (s *site) getHoming() *ocsv1.UserHoming { return s.getHomingNamed("homing") }

func (s *site) getHomingNamed(name string) *ocsv1.UserHoming {
	GinkgoHelper()
	h := &ocsv1.UserHoming{}
	Expect(suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: name}, h)).To(Succeed())
	return h
}

func (s *site) getPool() *ocsv1.OCSPool {
	GinkgoHelper()
	p := &ocsv1.OCSPool{}
	Expect(suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: pool}, p)).To(Succeed())
	return p
}

// serverState is the pool's state of server name, "" before its first probe.
func (s *site) serverState(name string) ocsv1.ServerState {
	GinkgoHelper()
	for _, st := range s.getPool().Status.Servers {
		if st.Name == name {
			return st.State
		}
	}
	return ""
}

// conditionOf renders a condition as "Status/Reason", "" when absent.
func conditionOf(conds []metav1.Condition, condType string) string {
	for _, c := range conds {
		if c.Type == condType {
			return string(c.Status) + "/" + c.Reason
		}
	}
	return ""
}

func messageOf(conds []metav1.Condition, condType string) string {
	for _, c := range conds {
		if c.Type == condType {
			return c.Message
		}
	}
	return ""
}

// completedFailover waits for the homing's failover to complete and returns it.
func (s *site) completedFailover() *ocsv1.Operation {
	GinkgoHelper()
	var op *ocsv1.Operation
	Eventually(func(g Gomega) {
		op = s.getHoming().Status.LastOperation
		g.Expect(op).NotTo(BeNil())
		g.Expect(op.Type).To(Equal(ocsv1.OperationFailover))
		g.Expect(op.CompletionTime).NotTo(BeNil(), "operation: %+v", op)
	}).Should(Succeed())
	return op
}

// expectEndState checks from the emulator that every user is homed exactly once, on a server
// that serves, with the contact lists of want.
func (s *site) expectEndState(want map[string]string) {
	GinkgoHelper()
	servers, err := s.sim.Servers()
	Expect(err).NotTo(HaveOccurred())
	up := map[string]bool{}
	for _, srv := range servers {
		up[srv.Name] = srv.State == "up"
	}
	users, err := s.sim.Users()
	Expect(err).NotTo(HaveOccurred())
	seen := map[string]int{}
	for _, u := range users {
		seen[u.SIP]++
		Expect(up[u.Home]).To(BeTrue(), "%s is homed on %s, which does not serve", u.SIP, u.Home)
	}
	for sip, n := range seen {
		Expect(n).To(Equal(1), "%s is listed %d times", sip, n)
	}
	Expect(users).To(HaveLen(len(want)), "nobody lost, nobody added")
	Expect(differing(s.contacts(), want)).To(BeEmpty(), "users whose contact list is not the expected one")
}

// differing lists, for each user whose contact list in got is not the one in want, both lists.
func differing(got, want map[string]string) []string {
	var out []string
	for sip, w := range want {
		if g := got[sip]; g != w {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", sip, g, w))
		}
	}
	sort.Strings(out)
	return out
}

// warnings returns the messages of the namespace's Warning events with reason.
func (s *site) warnings(reason string) []string {
	GinkgoHelper()
	var list corev1.EventList
	Expect(suite.k8s.List(context.Background(), &list, client.InNamespace(s.ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Type == corev1.EventTypeWarning && (reason == "" || e.Reason == reason) {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}
