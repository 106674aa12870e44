package controllers

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretStore answers Secret reads as the API server (Direct) or the metadata cache (Meta) would,
// counting the full reads.
type secretStore struct {
	secrets map[client.ObjectKey]*corev1.Secret
	// metaRV overrides the resourceVersion the cache reports (cache lag); "" uses the Secret's.
	metaRV    map[client.ObjectKey]string
	fullReads int
}

type secretMeta struct{ *secretStore }

func (s secretMeta) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	m := obj.(*metav1.PartialObjectMetadata)
	sec, ok := s.secrets[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	m.ResourceVersion = sec.ResourceVersion
	if rv, lag := s.metaRV[key]; lag {
		m.ResourceVersion = rv
	}
	return nil
}

func (s secretMeta) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

type secretDirect struct{ *secretStore }

func (s secretDirect) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	s.fullReads++
	sec, ok := s.secrets[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	sec.DeepCopyInto(obj.(*corev1.Secret))
	return nil
}

func (s secretDirect) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return nil
}

func TestSecretReaderReadsAgainOnlyWhenTheSecretChanged(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	key := client.ObjectKey{Namespace: "ns", Name: "creds"}
	store := &secretStore{
		secrets: map[client.ObjectKey]*corev1.Secret{key: {
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds", ResourceVersion: "1"},
			Data:       map[string][]byte{"password": []byte("one")},
		}},
		metaRV: map[client.ObjectKey]string{},
	}
	r := &SecretReader{Meta: secretMeta{store}, Direct: secretDirect{store}}
	read := func() string {
		s := &corev1.Secret{}
		g.Expect(r.Get(ctx, key, s)).To(Succeed())
		return string(s.Data["password"])
	}

	g.Expect(read()).To(Equal("one"))
	g.Expect(read()).To(Equal("one"))
	g.Expect(store.fullReads).To(Equal(1), "an unchanged Secret is not read again")

	store.secrets[key].ResourceVersion, store.secrets[key].Data["password"] = "2", []byte("two")
	g.Expect(read()).To(Equal("two"))
	g.Expect(store.fullReads).To(Equal(2))

	// The cache lags behind the API server: the reader asks the API server, never serves stale.
	store.metaRV[key] = "1"
	g.Expect(read()).To(Equal("two"))
	g.Expect(store.fullReads).To(Equal(3))
	delete(store.metaRV, key)

	// Handing out a copy: a caller's change does not reach the held Secret.
	s := &corev1.Secret{}
	g.Expect(r.Get(ctx, key, s)).To(Succeed())
	s.Data["password"] = []byte("changed by a caller")
	g.Expect(read()).To(Equal("two"))

	delete(store.secrets, key)
	err := r.Get(ctx, key, &corev1.Secret{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
	g.Expect(r.held).NotTo(HaveKey(key), "a deleted Secret is forgotten")
}

func TestSecretReaderReadsSecretsOnly(t *testing.T) {
	g := NewWithT(t)
	r := &SecretReader{}
	g.Expect(r.Get(context.Background(), client.ObjectKey{Name: "x"}, &corev1.ConfigMap{})).To(MatchError(errSecretsOnly))
	g.Expect(r.List(context.Background(), &corev1.SecretList{})).To(MatchError(errSecretsOnly))
}
