package controllers

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// newWriterFixture stores a ContactBackup at generation 2, never observed, and returns a client,
// the object as read and a writer for it.
func newWriterFixture(t *testing.T) (client.Client, *ocsv1.ContactBackup, *statusWriter) {
	t.Helper()
	stored := &ocsv1.ContactBackup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "backup", Generation: 2}}
	sch := runtime.NewScheme()
	if err := ocsv1.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(stored).WithStatusSubresource(stored).Build()
	b := &ocsv1.ContactBackup{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(stored), b); err != nil {
		t.Fatal(err)
	}
	return c, b, newStatusWriter(c, b, "ContactBackup")
}

func readBackup(t *testing.T, c client.Client) *ocsv1.ContactBackup {
	t.Helper()
	b := &ocsv1.ContactBackup{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "backup"}, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusWriterModes(t *testing.T) {
	ctx := context.Background()
	tests := map[string]struct {
		write func(w *statusWriter, b *ocsv1.ContactBackup) error
		// observed is the observedGeneration stored afterwards; reason the stored Ready reason.
		observed int64
		reason   string
	}{
		"a checkpoint writes the status but never claims the generation": {
			write: func(w *statusWriter, b *ocsv1.ContactBackup) error {
				setCondition(b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackingUp, "running")
				return w.Checkpoint(ctx, b)
			},
			reason: ocsv1.ReasonBackingUp,
		},
		"the final write of a pass that ran to its end claims the generation": {
			write: func(w *statusWriter, b *ocsv1.ContactBackup) error {
				setCondition(b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded, "done")
				return w.Final(ctx, b, nil)
			},
			observed: 2, reason: ocsv1.ReasonBackupSucceeded,
		},
		"the final write of a pass that failed part way does not": {
			write: func(w *statusWriter, b *ocsv1.ContactBackup) error {
				setCondition(b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackupFailed, "failed")
				return w.Final(ctx, b, errors.New("listing failed"))
			},
			reason: ocsv1.ReasonBackupFailed,
		},
		"a terminal error describes this generation: it is claimed": {
			write: func(w *statusWriter, b *ocsv1.ContactBackup) error {
				setCondition(b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonInvalidSchedule, "bad")
				return w.Final(ctx, b, reconcile.TerminalError(errors.New("bad schedule")))
			},
			observed: 2, reason: ocsv1.ReasonInvalidSchedule,
		},
		"a checkpoint then the final write: the generation comes with the end": {
			write: func(w *statusWriter, b *ocsv1.ContactBackup) error {
				setCondition(b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackingUp, "running")
				if err := w.Checkpoint(ctx, b); err != nil {
					return err
				}
				setCondition(b, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded, "done")
				return w.Final(ctx, b, nil)
			},
			observed: 2, reason: ocsv1.ReasonBackupSucceeded,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			c, b, w := newWriterFixture(t)
			g.Expect(tt.write(w, b)).To(Succeed())
			stored := readBackup(t, c)
			g.Expect(stored.Status.ObservedGeneration).To(Equal(tt.observed))
			g.Expect(stored.Status.Conditions).To(ContainElement(HaveField("Reason", tt.reason)))
			g.Expect(stored.Status.Phase).NotTo(BeEmpty())
		})
	}
}

func TestStatusWriterFencesAStaleWriter(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c, b, w := newWriterFixture(t)
	// Another manager writes first: this writer's copy is stale.
	other := readBackup(t, c)
	setCondition(other, ocsv1.ConditionReady, metav1.ConditionTrue, ocsv1.ReasonBackupSucceeded, "theirs")
	g.Expect(c.Status().Update(ctx, other)).To(Succeed())

	setCondition(b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackingUp, "ours")
	g.Expect(w.Checkpoint(ctx, b)).To(HaveOccurred())
	g.Expect(w.fenced).To(BeTrue())
	setCondition(b, ocsv1.ConditionReady, metav1.ConditionFalse, ocsv1.ReasonBackupFailed, "ours again")
	g.Expect(w.Final(ctx, b, nil)).To(Succeed())
	// The other writer's record stands.
	stored := readBackup(t, c)
	g.Expect(stored.Status.Conditions).To(ConsistOf(HaveField("Message", "theirs")))
	g.Expect(stored.Status.ObservedGeneration).To(BeZero())
}
