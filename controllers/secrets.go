package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// errSecretsOnly: the Secret reader reads single Secrets by name, nothing else.
var errSecretsOnly = errors.New("the Secret reader only gets Secrets by name")

// SecretReader reads the Secrets OCSPools name without ever caching Secret data in the manager:
// a cache of Secrets would hold every Secret of the watched namespaces (other applications'
// passwords and keys included) in the manager's memory. It keeps the Secrets it was asked for,
// by name, and reads one again from the API server only when the metadata-only watch of Secrets
// shows a new resourceVersion, so probes do not hit the API server every probeInterval.
type SecretReader struct {
	// Meta reads Secret metadata (PartialObjectMetadata) from the manager's cache.
	Meta client.Reader
	// Direct reads a Secret from the API server.
	Direct client.Reader

	mu   sync.Mutex
	held map[types.NamespacedName]*corev1.Secret
}

// NewSecretReader returns the reader the manager's controllers use.
func NewSecretReader(mgr ctrl.Manager) *SecretReader {
	return &SecretReader{Meta: mgr.GetClient(), Direct: mgr.GetAPIReader()}
}

// Get implements client.Reader for *corev1.Secret only.
func (r *SecretReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	out, ok := obj.(*corev1.Secret)
	if !ok {
		return fmt.Errorf("%w, not %T", errSecretsOnly, obj)
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	metaErr := r.Meta.Get(ctx, key, meta)
	if metaErr != nil && !apierrors.IsNotFound(metaErr) {
		return fmt.Errorf("reading the metadata of Secret %s: %w", key, metaErr)
	}
	r.mu.Lock()
	held := r.held[key]
	r.mu.Unlock()
	if metaErr == nil && held != nil && held.ResourceVersion == meta.ResourceVersion {
		held.DeepCopyInto(out)
		return nil
	}
	// Not held, changed, or not in the cache yet (a Secret created a moment ago): ask the API
	// server, which also settles whether it exists.
	fresh := &corev1.Secret{}
	err := r.Direct.Get(ctx, key, fresh)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held == nil {
		r.held = map[types.NamespacedName]*corev1.Secret{}
	}
	if err != nil {
		delete(r.held, key)
		return err
	}
	r.held[key] = fresh
	fresh.DeepCopyInto(out)
	return nil
}

// List implements client.Reader; Secrets are never listed.
func (r *SecretReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errSecretsOnly
}
