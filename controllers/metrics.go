package controllers

import (
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/version"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// Every metric of the operator is declared here or in metrics_status.go and served on the
// manager's metrics endpoint. Naming follows the Prometheus conventions: base units (seconds,
// bytes), `_total` on counters only, `_timestamp_seconds` for points in time, and the object's
// namespace and pool as two labels so that queries can select and join on either.
//
// This file holds the series that count events (probes, WinRM commands, moves, runs): the
// reconcilers feed them through the helpers below. Series that state what an object's status
// says are computed at scrape time by statusCollector (metrics_status.go).

// Label names.
const (
	labelNamespace = "namespace"
	labelPool      = "pool"
	labelServer    = "server"
	labelBackup    = "backup"
	labelHoming    = "userhoming"
	labelResult    = "result"
	labelKind      = "kind"
	labelType      = "type"
)

// Values of the result label of ocsha_user_moves_total and ocsha_backup_runs_total.
const (
	resultOK        = "ok"
	resultFailed    = "failed"
	resultPartial   = "partial"
	moveKindPlanned = "planned"
	moveKindForced  = "forced"
)

// winrmResults are the values of ocsha_winrm_requests_total's result label, each initialised at
// zero so that rate() and increase() see the first failure.
var winrmResults = []string{
	winrm.ResultOK, winrm.ResultUnreachable, winrm.ResultUnauthorized, winrm.ResultTLS,
	winrm.ResultTimeout, winrm.ResultCanceled, winrm.ResultFault, winrm.ResultError,
}

var (
	serverProbeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ocsha_server_probe_duration_seconds",
		Help:    "Duration of one health probe of a server.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{labelNamespace, labelPool, labelServer})
	winrmRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_winrm_requests_total",
		Help: "WinRM commands run on a server, by result (ok, unreachable, unauthorized, tls, timeout, canceled, fault, error).",
	}, []string{labelNamespace, labelPool, labelServer, labelResult})

	userMoves = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_user_moves_total",
		Help: "Users moved between the servers of a pool, by kind (planned or forced) and result (ok or failed).",
	}, []string{labelNamespace, labelPool, labelKind, labelResult})
	failovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_failovers_total",
		Help: "Failovers started in a pool.",
	}, []string{labelNamespace, labelPool})
	contactsRestored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_contacts_restored_total",
		Help: "Users whose contacts were restored from a snapshot after a forced move.",
	}, []string{labelNamespace, labelPool})
	operationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ocsha_operation_duration_seconds",
		Help:    "Duration of finished UserHoming operations, by type (Rebalance, Drain, Failover, Failback).",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 14),
	}, []string{labelNamespace, labelPool, labelType})

	backupRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_backup_runs_total",
		Help: "ContactBackup runs, by result (ok, partial: a server was skipped, failed: no snapshot written).",
	}, []string{labelNamespace, labelPool, labelBackup, labelResult})
	backupDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ocsha_backup_duration_seconds",
		Help:    "Duration of one ContactBackup run.",
		Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
	}, []string{labelNamespace, labelPool, labelBackup})
)

// buildInfo names the running build, as Prometheus' own *_build_info series do.
var buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "ocsha_build_info",
	Help: "Always 1; the labels name the manager's version, source revision and Go version.",
}, []string{"version", "revision", "goversion"})

// eventMetrics are the collectors fed by the reconcilers.
var eventMetrics = []prometheus.Collector{
	serverProbeDuration, winrmRequests,
	userMoves, failovers, contactsRestored, operationDuration,
	backupRuns, backupDuration,
}

func init() {
	metrics.Registry.MustRegister(eventMetrics...)
	metrics.Registry.MustRegister(statusMetrics, buildInfo)
	buildInfo.WithLabelValues(version.Version, version.Revision, runtime.Version()).Set(1)
}

// initPoolMetrics creates the counters of a pool and its servers at zero: a counter that
// appears only with its first increment hides that increment from rate() and increase().
func initPoolMetrics(pool *ocsv1.OCSPool) {
	ns, name := pool.Namespace, pool.Name
	for _, s := range pool.Spec.Servers {
		for _, result := range winrmResults {
			winrmRequests.WithLabelValues(ns, name, s.Name, result)
		}
	}
	for _, kind := range []string{moveKindPlanned, moveKindForced} {
		for _, result := range []string{resultOK, resultFailed} {
			userMoves.WithLabelValues(ns, name, kind, result)
		}
	}
	failovers.WithLabelValues(ns, name)
	contactsRestored.WithLabelValues(ns, name)
}

// forgetPoolMetrics drops the series of one server of a pool, or of the whole pool when server
// is empty: a deleted object's series would otherwise report a stale state forever.
func forgetPoolMetrics(namespace, pool, server string) {
	labels := prometheus.Labels{labelNamespace: namespace, labelPool: pool}
	if server != "" {
		labels[labelServer] = server
		serverProbeDuration.DeletePartialMatch(labels)
		winrmRequests.DeletePartialMatch(labels)
		return
	}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{serverProbeDuration, winrmRequests, userMoves, failovers, contactsRestored, operationDuration} {
		v.DeletePartialMatch(labels)
	}
}

// observeProbe records the duration of one health probe.
func observeProbe(pool *ocsv1.OCSPool, server string, d time.Duration) {
	serverProbeDuration.WithLabelValues(pool.Namespace, pool.Name, server).Observe(d.Seconds())
}

// countWinRMRequest is the WinRMProvider's OnRequest hook; poolKey is namespace/name.
func countWinRMRequest(poolKey, server, result string, _ time.Duration) {
	ns, name, _ := strings.Cut(poolKey, "/")
	winrmRequests.WithLabelValues(ns, name, server, result).Inc()
}

// countMoves adds n users moved with the kind (planned or forced) and result (ok or failed).
func countMoves(pool metav1.Object, kind, result string, n int) {
	userMoves.WithLabelValues(pool.GetNamespace(), pool.GetName(), kind, result).Add(float64(n))
}

// countFailover counts one failover started in pool.
func countFailover(pool metav1.Object) {
	failovers.WithLabelValues(pool.GetNamespace(), pool.GetName()).Inc()
}

// countContactsRestored adds n users whose contacts were restored.
func countContactsRestored(pool metav1.Object, n int) {
	contactsRestored.WithLabelValues(pool.GetNamespace(), pool.GetName()).Add(float64(n))
}

// observeOperation records the duration of a finished UserHoming operation.
func observeOperation(pool metav1.Object, t ocsv1.OperationType, d time.Duration) {
	operationDuration.WithLabelValues(pool.GetNamespace(), pool.GetName(), string(t)).Observe(d.Seconds())
}

// initBackupMetrics creates the run counters of a ContactBackup at zero.
func initBackupMetrics(b *ocsv1.ContactBackup) {
	for _, result := range []string{resultOK, resultPartial, resultFailed} {
		backupRuns.WithLabelValues(b.Namespace, b.Spec.PoolRef.Name, b.Name, result)
	}
}

// observeBackupRun counts one run by its outcome and records its duration.
func observeBackupRun(b *ocsv1.ContactBackup, o *backupOutcome, d time.Duration) {
	result := resultOK
	switch {
	case o.Err != nil:
		result = resultFailed
	case len(o.Skipped) > 0:
		result = resultPartial
	}
	backupRuns.WithLabelValues(b.Namespace, b.Spec.PoolRef.Name, b.Name, result).Inc()
	backupDuration.WithLabelValues(b.Namespace, b.Spec.PoolRef.Name, b.Name).Observe(d.Seconds())
}

// forgetBackupMetrics drops the series of a deleted ContactBackup.
func forgetBackupMetrics(namespace, name string) {
	labels := prometheus.Labels{labelNamespace: namespace, labelBackup: name}
	backupRuns.DeletePartialMatch(labels)
	backupDuration.DeletePartialMatch(labels)
}
