package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// Keys of the Secrets an OCSPool references.
const (
	secretKeyUsername = "username"
	secretKeyPassword = "password"
	secretKeyCA       = "ca.crt"
)

// AgentProvider gives the admin agent of a pool. One provider is shared by all controllers so
// that the per-server limit on concurrent WinRM commands holds across them.
type AgentProvider interface {
	// AgentFor returns the agent of pool, with credentials read afresh from its Secrets.
	// A *SecretError means a referenced Secret or key is missing: a human must act.
	AgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error)
}

// SecretError reports a missing Secret or key referenced by an OCSPool.
type SecretError struct {
	// Field is the spec path that references the Secret.
	Field string
	// Secret is namespace/name.
	Secret string
	// Key is the missing key, empty when the whole Secret is missing.
	Key string
	// Reason is ReasonCredentialsSecretMissing or ReasonCASecretMissing.
	Reason string
}

func (e *SecretError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("Secret %s referenced by %s does not exist", e.Secret, e.Field)
	}
	return fmt.Sprintf("Secret %s referenced by %s has no key %q", e.Secret, e.Field, e.Key)
}

// WinRMProvider builds agents that talk WinRM, one winrm.Pool per OCSPool.
type WinRMProvider struct {
	// Reader reads Secrets by name: a SecretReader in the manager (Secret data is never cached),
	// any client in tests.
	Reader client.Reader
	// Options tune every winrm.Pool; Metrics is set per pool by the provider.
	Options winrm.Options
	// OnRequest, when set, is called per WinRM command with pool (namespace/name), server,
	// result class and duration.
	OnRequest func(pool, server, result string, d time.Duration)

	mu     sync.Mutex
	agents map[types.UID]*poolAgent
}

type poolAgent struct {
	shape [32]byte // product and servers: a change rebuilds the agent
	pool  *winrm.Pool
	agent ocs.Agent
}

// AgentFor implements AgentProvider.
func (p *WinRMProvider) AgentFor(ctx context.Context, pool *ocsv1.OCSPool) (ocs.Agent, error) {
	members := make([]winrmMember, 0, len(pool.Spec.Servers))
	for i, s := range pool.Spec.Servers {
		members = append(members, winrmMember{Name: s.Name, FQDN: s.FQDN, WinRM: s.WinRM, Field: fmt.Sprintf("spec.servers[%d]", i)})
	}
	return p.agentFor(ctx, pool, pool.UID, members)
}

// winrmMember is one server an agent reaches over WinRM; Field is its spec path.
type winrmMember struct {
	Name, FQDN, Field string
	WinRM             ocsv1.WinRMSpec
}

// agentFor returns the agent kept under key for members, built or rebuilt when the product,
// servers or tools changed, with its WinRM targets refreshed from the Secrets.
func (p *WinRMProvider) agentFor(ctx context.Context, pool *ocsv1.OCSPool, key types.UID, members []winrmMember) (ocs.Agent, error) {
	targets, err := p.targets(ctx, pool, members)
	if err != nil {
		return nil, err
	}
	servers := make([]ocs.Server, 0, len(members))
	for _, s := range members {
		servers = append(servers, ocs.Server{Name: s.Name, FQDN: s.FQDN})
	}
	tools := ocs.Tools{LcscmdPath: pool.Spec.Tools.LcscmdPath, DBImpExpPath: pool.Spec.Tools.DBImpExpPath}
	shape := hashJSON(struct {
		Product ocsv1.Product
		Servers []ocs.Server
		Tools   ocs.Tools
	}{pool.Spec.Product, servers, tools})

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.agents == nil {
		p.agents = map[types.UID]*poolAgent{}
	}
	pa := p.agents[key]
	if pa == nil || pa.shape != shape {
		if pa != nil {
			pa.pool.Close()
		}
		opts := p.Options
		poolKey := pool.Namespace + "/" + pool.Name
		if p.OnRequest != nil {
			onRequest := p.OnRequest
			opts.Metrics = func(server, result string, d time.Duration) { onRequest(poolKey, server, result, d) }
		}
		wp := winrm.NewPool(opts)
		agent, err := ocs.NewAgent(ocs.Product(pool.Spec.Product), servers, wp, ocs.WithTools(tools))
		if err != nil {
			wp.Close()
			return nil, fmt.Errorf("building the agent of OCSPool %s: %w", poolKey, err)
		}
		pa = &poolAgent{shape: shape, pool: wp, agent: agent}
		p.agents[key] = pa
	}
	// SetTargets keeps unchanged clients and rebuilds those whose credentials or CA changed.
	if err := pa.pool.SetTargets(targets); err != nil {
		if se := winrmSetupError(pool, err); se != nil {
			return nil, se
		}
		return nil, fmt.Errorf("configuring WinRM for OCSPool %s/%s: %w", pool.Namespace, pool.Name, err)
	}
	return pa.agent, nil
}

// Forget drops the agent of a deleted pool and closes its connections.
func (p *WinRMProvider) Forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, key := range []types.UID{uid, roleAgentKey(uid)} {
		if pa := p.agents[key]; pa != nil {
			pa.pool.Close()
			delete(p.agents, key)
		}
	}
}

func (p *WinRMProvider) targets(ctx context.Context, pool *ocsv1.OCSPool, members []winrmMember) ([]winrm.Target, error) {
	secrets := map[string]*corev1.Secret{}
	get := func(name, field, reason string) (*corev1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s := &corev1.Secret{}
		err := p.Reader.Get(ctx, types.NamespacedName{Namespace: pool.Namespace, Name: name}, s)
		if apierrors.IsNotFound(err) {
			return nil, &SecretError{Field: field, Secret: pool.Namespace + "/" + name, Reason: reason}
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", pool.Namespace, name, err)
		}
		secrets[name] = s
		return s, nil
	}
	key := func(s *corev1.Secret, k, field, reason string) ([]byte, error) {
		v, ok := s.Data[k]
		if !ok || len(v) == 0 {
			return nil, &SecretError{Field: field, Secret: s.Namespace + "/" + s.Name, Key: k, Reason: reason}
		}
		return v, nil
	}

	targets := make([]winrm.Target, 0, len(members))
	for _, s := range members {
		field := s.Field + ".winrm.credentialsSecretRef"
		creds, err := get(s.WinRM.CredentialsSecretRef.Name, field, ocsv1.ReasonCredentialsSecretMissing)
		if err != nil {
			return nil, err
		}
		user, err := key(creds, secretKeyUsername, field, ocsv1.ReasonCredentialsSecretMissing)
		if err != nil {
			return nil, err
		}
		password, err := key(creds, secretKeyPassword, field, ocsv1.ReasonCredentialsSecretMissing)
		if err != nil {
			return nil, err
		}
		t := winrm.Target{
			Server:             s.Name,
			Endpoint:           s.WinRM.Endpoint,
			Auth:               winrmAuth(s.WinRM.Auth),
			Username:           string(user),
			Password:           string(password),
			InsecureSkipVerify: s.WinRM.InsecureSkipVerify,
			// winrm refuses Basic over plain http again unless allowed, whatever the scheme's case.
			AllowUnencryptedBasic: s.WinRM.AllowUnencryptedBasic,
		}
		if s.WinRM.CASecretRef != nil {
			caField := s.Field + ".winrm.caSecretRef"
			caSecret, err := get(s.WinRM.CASecretRef.Name, caField, ocsv1.ReasonCASecretMissing)
			if err != nil {
				return nil, err
			}
			if t.CACert, err = key(caSecret, secretKeyCA, caField, ocsv1.ReasonCASecretMissing); err != nil {
				return nil, err
			}
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// winrmAuth maps spec.servers[].winrm.auth to the transport's scheme. An empty value (an object
// that bypassed the API server's defaulting) takes the API default, CredSSP.
func winrmAuth(a ocsv1.WinRMAuth) string {
	switch a {
	case ocsv1.WinRMAuthBasic:
		return winrm.AuthBasic
	case ocsv1.WinRMAuthNTLM:
		return winrm.AuthNTLM
	case "", ocsv1.WinRMAuthCredSSP:
		return winrm.AuthCredSSP
	}
	// The API server refuses other values; the transport names this one in its error.
	return string(a)
}

func hashJSON(v any) [32]byte {
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}

// asSecretError reports whether err is a *SecretError.
func asSecretError(err error) (*SecretError, bool) {
	var se *SecretError
	ok := errors.As(err, &se)
	return se, ok
}

// StaticProvider hands out one agent for every pool; tests use it with ocs.Fake.
type StaticProvider struct{ Agent ocs.Agent }

// AgentFor implements AgentProvider.
func (s StaticProvider) AgentFor(context.Context, *ocsv1.OCSPool) (ocs.Agent, error) {
	return s.Agent, nil
}
