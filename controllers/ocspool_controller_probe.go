package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
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
// means an object that bypassed validation; the settings returned then hold the defaults.
func healthSettingsOf(spec ocsv1.OCSPoolSpec) (healthSettings, error) {
	h := healthSettings{Interval: defaultProbeInterval, Timeout: defaultProbeTimeout,
		Threshold: spec.Health.FailureThreshold, Services: spec.Health.Services}
	if h.Threshold < 1 {
		h.Threshold = defaultFailureThreshold
	}
	if len(h.Services) == 0 {
		// Both products name their front-end service RtcSrv.
		h.Services = []string{ocs.DefaultService}
	}
	interval, err := positiveDuration(spec.Health.ProbeInterval, defaultProbeInterval)
	if err != nil {
		return h, fmt.Errorf("spec.health.probeInterval %q is not a positive duration", spec.Health.ProbeInterval)
	}
	h.Interval = interval
	timeout, err := positiveDuration(spec.Health.ProbeTimeout, defaultProbeTimeout)
	if err != nil {
		return h, fmt.Errorf("spec.health.probeTimeout %q is not a positive duration", spec.Health.ProbeTimeout)
	}
	h.Timeout = timeout
	return h, nil
}

// positiveDuration parses s, def when s is empty.
func positiveDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return def, err
	}
	if d <= 0 {
		return def, errors.New("not positive")
	}
	return d, nil
}

// probeServers probes every server of pool at once, each bounded by the probe timeout, then
// counts the users homed on each server with one ListUsers through a server that passed (the
// directory is shared). It returns one result per spec server, in spec order, and the
// directory's refusal of that listing when the account cannot reach it (nil otherwise).
func (r *OCSPoolReconciler) probeServers(ctx context.Context, pool *ocsv1.OCSPool, agent ocs.Agent, h healthSettings) ([]probeResult, *rejection) {
	results := make([]probeResult, len(pool.Spec.Servers))
	var wg sync.WaitGroup
	for i, s := range pool.Spec.Servers {
		wg.Go(func() {
			// A probe has its own slot in the WinRM pool: it must not wait behind a restore.
			pctx, cancel := context.WithTimeout(winrm.AsProbe(ctx), h.Timeout)
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
		return results, nil
	}
	lctx, cancel := context.WithTimeout(ctx, max(h.Interval, minListTimeout))
	defer cancel()
	users, err := agent.ListUsers(lctx, via)
	if errors.Is(err, ocs.ErrDirectoryAccessDenied) {
		// The servers answer, but no listing (and so no move) can work: a human must act.
		for i := range results {
			results[i].UsersUncountable = true
		}
		return results, &rejection{Server: via, Reason: ocsv1.ReasonDirectoryAccessDenied, Detail: directoryDeniedMessage(pool, via, err)}
	}
	if err != nil {
		// The counts of the previous round stay; the next round tries again.
		logf.FromContext(ctx).Info("Listing users failed; keeping the previous homed-user counts", "server", via, "error", err.Error())
		return results, nil
	}
	counts := map[string]int32{}
	for _, u := range users {
		counts[u.Server]++
	}
	for i, s := range pool.Spec.Servers {
		n := counts[s.Name]
		results[i].HomedUsers = &n
	}
	return results, nil
}

// directoryDeniedMessage says why the directory refused the listing through via and what fixes
// it, which depends on how the server was logged on to.
func directoryDeniedMessage(pool *ocsv1.OCSPool, via string, err error) string {
	auth := ocsv1.WinRMAuthCredSSP
	field := "spec.servers[].winrm.auth"
	for i, s := range pool.Spec.Servers {
		if s.Name == via {
			auth, field = s.WinRM.Auth, fmt.Sprintf("spec.servers[%d].winrm.auth", i)
		}
	}
	msg := fmt.Sprintf("Active Directory refused the user listing through server %s (%s).", via, trimDetail(err))
	switch auth {
	case ocsv1.WinRMAuthNTLM, ocsv1.WinRMAuthBasic:
		msg += fmt.Sprintf(" %s is %s: such a WinRM logon cannot pass the account's credentials on to a domain controller "+
			"(the second hop). Set it to CredSSP on every server and run Enable-WSManCredSSP -Role Server on each "+
			"(docs/windows-setup.md).", field, auth)
	default:
		msg += " The account logs on with CredSSP, so the directory refuses the account itself: add it to " +
			"RTCUniversalUserAdmins (Skype for Business: CsUserAdministrator) (docs/windows-setup.md)."
	}
	return msg + " No user is listed or moved until then."
}

// trimDetail keeps an error readable inside a condition message.
func trimDetail(err error) string {
	const max = 300
	s := err.Error()
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
