package controllers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/sipprobe"
)

// GatewayProber asks one gateway SIP OPTIONS; sipprobe.Prober in the manager.
type GatewayProber interface {
	Options(ctx context.Context, t sipprobe.Target) (sipprobe.Response, error)
}

// gatewayResult is what one probe observed about one gateway.
type gatewayResult struct {
	// OK: a final response came.
	OK bool
	// TLSFailed: the certificate did not verify (or its CA could not be read).
	TLSFailed bool
	// Response is the final response's status line, e.g. "200 OK".
	Response string
	// Detail is a sentence on what the probe saw.
	Detail string
}

// probeGateways sends OPTIONS to every gateway at once, each bounded by the probe timeout.
func (r *OCSPoolReconciler) probeGateways(ctx context.Context, pool *ocsv1.OCSPool, h healthSettings) []gatewayResult {
	results := make([]gatewayResult, len(pool.Spec.Gateways))
	prober := r.Gateways
	if prober == nil {
		prober = sipprobe.Prober{}
	}
	var wg sync.WaitGroup
	for i, g := range pool.Spec.Gateways {
		wg.Go(func() {
			target, err := r.gatewayTarget(ctx, pool, i)
			if err != nil {
				results[i] = gatewayResult{TLSFailed: true, Detail: err.Error() + "."}
				return
			}
			pctx, cancel := context.WithTimeout(ctx, h.Timeout)
			defer cancel()
			res, err := prober.Options(pctx, target)
			results[i] = classifyGatewayProbe(g, res, err, h.Timeout)
		})
	}
	wg.Wait()
	return results
}

// gatewayTarget builds the probe target of spec.gateways[i], reading its CA Secret.
func (r *OCSPoolReconciler) gatewayTarget(ctx context.Context, pool *ocsv1.OCSPool, i int) (sipprobe.Target, error) {
	g := pool.Spec.Gateways[i]
	t := sipprobe.Target{Address: g.Address, Port: int(g.Port), Transport: string(g.Transport)}
	if t.Port == 0 {
		t.Port = 5061
	}
	if t.Transport == "" {
		t.Transport = sipprobe.TransportTLS
	}
	if g.CASecretRef == nil || t.Transport != sipprobe.TransportTLS {
		return t, nil
	}
	key := types.NamespacedName{Namespace: pool.Namespace, Name: g.CASecretRef.Name}
	field := fmt.Sprintf("spec.gateways[%d].caSecretRef", i)
	reader := r.Secrets
	if reader == nil {
		reader = r.Client
	}
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return t, &SecretError{Field: field, Secret: key.String(), Reason: ocsv1.ReasonCASecretMissing}
		}
		return t, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	pem := secret.Data[secretKeyCA]
	roots := x509.NewCertPool()
	if len(pem) == 0 || !roots.AppendCertsFromPEM(pem) {
		return t, &SecretError{Field: field, Secret: key.String(), Key: secretKeyCA, Reason: ocsv1.ReasonCASecretMissing}
	}
	t.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return t, nil
}

// classifyGatewayProbe turns an OPTIONS outcome into a result: any final response is alive.
func classifyGatewayProbe(g ocsv1.GatewaySpec, res sipprobe.Response, err error, timeout time.Duration) gatewayResult {
	where := fmt.Sprintf("%s:%d over %s", g.Address, g.Port, g.Transport)
	switch {
	case err == nil:
		line := strings.TrimSpace(fmt.Sprintf("%d %s", res.StatusCode, res.Reason))
		return gatewayResult{OK: true, Response: line, Detail: fmt.Sprintf("Gateway %s at %s answered OPTIONS with %s.", g.Name, where, line)}
	case errors.Is(err, sipprobe.ErrTLS):
		return gatewayResult{TLSFailed: true, Detail: fmt.Sprintf("The TLS handshake with gateway %s at %s failed: %s", g.Name, where, trimDetail(err))}
	case errors.Is(err, sipprobe.ErrRefused):
		return gatewayResult{Detail: fmt.Sprintf("Gateway %s at %s refuses connections: nothing listens there.", g.Name, where)}
	case errors.Is(err, sipprobe.ErrNoAnswer):
		return gatewayResult{Detail: fmt.Sprintf("Gateway %s at %s sent no final response to OPTIONS within probeTimeout %s.", g.Name, where, timeout)}
	default:
		return gatewayResult{Detail: fmt.Sprintf("Gateway %s at %s cannot be reached: %s.", g.Name, where, trimDetail(err))}
	}
}

// nextGatewayStatus applies one probe result with hysteresis: NotAnswering or TLSFailed after
// threshold failed probes in a row, Answering after one final response.
func nextGatewayStatus(prev ocsv1.GatewayStatus, spec ocsv1.GatewaySpec, res gatewayResult, threshold int32, now metav1.Time) ocsv1.GatewayStatus {
	next := *prev.DeepCopy()
	next.Name, next.Path = spec.Name, spec.Path
	if next.State == "" {
		next.State = ocsv1.GatewayUnknown
	}
	threshold = max(threshold, 1)
	next.LastProbeTime = &now
	state := next.State
	if res.OK {
		next.ConsecutiveFailures = 0
		state = ocsv1.GatewayAnswering
		next.LastResponse = res.Response
		next.Message = res.Detail
	} else {
		next.ConsecutiveFailures = min(prev.ConsecutiveFailures+1, maxFailures)
		if next.ConsecutiveFailures >= threshold {
			state = ocsv1.GatewayNotAnswering
			if res.TLSFailed {
				state = ocsv1.GatewayTLSFailed
			}
			next.Message = fmt.Sprintf("%s (%d failed probes in a row).", strings.TrimSuffix(res.Detail, "."), next.ConsecutiveFailures)
		} else {
			next.Message = fmt.Sprintf("%s (failed probe %d of %d before the state changes; the state is kept until then).",
				strings.TrimSuffix(res.Detail, "."), next.ConsecutiveFailures, threshold)
		}
	}
	if state != next.State || prev.LastTransitionTime == nil {
		next.LastTransitionTime = &now
	}
	next.State = state
	next.Message = trimMessage(next.Message)
	return next
}

// gatewaySecretRefs lists the CA Secrets the gateways of pool name, for the Secret index.
func gatewaySecretRefs(pool *ocsv1.OCSPool) []string {
	var names []string
	for _, g := range pool.Spec.Gateways {
		if g.CASecretRef != nil {
			names = append(names, g.CASecretRef.Name)
		}
	}
	for _, s := range pool.Spec.Roles {
		names = append(names, s.WinRM.CredentialsSecretRef.Name)
		if s.WinRM.CASecretRef != nil {
			names = append(names, s.WinRM.CASecretRef.Name)
		}
	}
	return names
}
