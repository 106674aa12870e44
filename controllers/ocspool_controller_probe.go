package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// Defaults of spec.health when the API server did not fill them (objects created before the
// defaults existed, or unit tests).
const (
	defaultProbeInterval    = 10 * time.Second
	defaultProbeTimeout     = 5 * time.Second
	defaultFailureThreshold = 3
	// minListTimeout bounds the per-round ListUsers from below: listing thousands of users takes
	// longer than a service query, and the server has just answered its probe.
	minListTimeout = 10 * time.Second
)

// healthSettings is spec.health with defaults applied and durations parsed.
type healthSettings struct {
	Interval  time.Duration
	Timeout   time.Duration
	Threshold int32
	Services  []string
}

// healthSettingsOf parses spec.health. The API server validates the durations, so an error
// means an object that bypassed validation.
func healthSettingsOf(spec ocsv1.OCSPoolSpec) (healthSettings, error) {
	h := healthSettings{Interval: defaultProbeInterval, Timeout: defaultProbeTimeout,
		Threshold: spec.Health.FailureThreshold, Services: spec.Health.Services}
	var err error
	if spec.Health.ProbeInterval != "" {
		if h.Interval, err = time.ParseDuration(spec.Health.ProbeInterval); err != nil || h.Interval <= 0 {
			return h, fmt.Errorf("spec.health.probeInterval %q is not a positive duration", spec.Health.ProbeInterval)
		}
	}
	if spec.Health.ProbeTimeout != "" {
		if h.Timeout, err = time.ParseDuration(spec.Health.ProbeTimeout); err != nil || h.Timeout <= 0 {
			return h, fmt.Errorf("spec.health.probeTimeout %q is not a positive duration", spec.Health.ProbeTimeout)
		}
	}
	if h.Threshold < 1 {
		h.Threshold = defaultFailureThreshold
	}
	if len(h.Services) == 0 {
		// Both products name their front-end service RtcSrv.
		h.Services = []string{ocs.DefaultService}
	}
	return h, nil
}

// probeServers probes every server of pool at once, each bounded by the probe timeout, then
// counts the users homed on each server with one ListUsers through a server that passed (the
// directory is shared). It returns one result per spec server, in spec order.
func (r *OCSPoolReconciler) probeServers(ctx context.Context, pool *ocsv1.OCSPool, agent ocs.Agent, h healthSettings) []probeResult {
	results := make([]probeResult, len(pool.Spec.Servers))
	var wg sync.WaitGroup
	for i, s := range pool.Spec.Servers {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, h.Timeout)
			defer cancel()
			start := time.Now()
			statuses, err := agent.ServiceHealth(pctx, s.Name, h.Services)
			observeProbe(pool, s.Name, time.Since(start))
			results[i] = classifyProbe(pool.Namespace, s, h.Services, statuses, err, h.Timeout)
		})
	}
	wg.Wait()

	via := ""
	for i, s := range pool.Spec.Servers {
		if results[i].Kind == probePassed && (via == "" || !s.Maintenance) {
			via = s.Name
			if !s.Maintenance {
				break
			}
		}
	}
	if via == "" {
		return results
	}
	lctx, cancel := context.WithTimeout(ctx, max(h.Interval, minListTimeout))
	defer cancel()
	users, err := agent.ListUsers(lctx, via)
	if err != nil {
		// The counts of the previous round stay; the next round tries again.
		logf.FromContext(ctx).Info("Listing users failed; keeping the previous homed-user counts", "server", via, "error", err.Error())
		return results
	}
	counts := map[string]int32{}
	for _, u := range users {
		counts[u.Server]++
	}
	for i, s := range pool.Spec.Servers {
		n := counts[s.Name]
		results[i].HomedUsers = &n
	}
	return results
}
