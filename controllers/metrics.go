package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Every metric of the operator, in one place. They are served on the manager's metrics endpoint.
var (
	serverUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ocsha_server_up",
		Help: "1 when the server is Healthy (WinRM answers and every service runs), else 0.",
	}, []string{"pool", "server"})
	serverProbeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ocsha_server_probe_duration_seconds",
		Help:    "Duration of one health probe of a server.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"pool", "server"})
	serverHomedUsers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ocsha_server_homed_users",
		Help: "Users homed on the server.",
	}, []string{"pool", "server"})
	winrmRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_winrm_requests_total",
		Help: "WinRM commands run, by outcome (ok, failed, unreachable, unauthorized, timeout, tls).",
	}, []string{"pool", "server", "result"})

	userMoves = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_user_moves_total",
		Help: "Users moved, by kind (planned or forced) and result (ok or failed).",
	}, []string{"pool", "kind", "result"})
	failovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_failovers_total",
		Help: "Failovers started.",
	}, []string{"pool"})
	contactsRestored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ocsha_contacts_restored_total",
		Help: "Users whose contacts were restored from a snapshot after a forced move.",
	}, []string{"pool"})
	operationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ocsha_operation_duration_seconds",
		Help:    "Duration of UserHoming operations, by type.",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 14),
	}, []string{"type"})

	backupLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ocsha_backup_last_success_timestamp",
		Help: "Unix time of the last successful snapshot.",
	}, []string{"backup"})
	backupBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ocsha_backup_bytes",
		Help: "Bytes the last snapshot added to the store.",
	}, []string{"backup"})
	backupDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ocsha_backup_duration_seconds",
		Help:    "Duration of one backup run.",
		Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
	}, []string{"backup"})
)

func init() {
	metrics.Registry.MustRegister(
		serverUp, serverProbeDuration, serverHomedUsers, winrmRequests,
		userMoves, failovers, contactsRestored, operationDuration,
		backupLastSuccess, backupBytes, backupDuration,
	)
}

// countWinRMRequest is the WinRMProvider's OnRequest hook.
func countWinRMRequest(pool, server, result string, _ time.Duration) {
	winrmRequests.WithLabelValues(pool, server, result).Inc()
}
