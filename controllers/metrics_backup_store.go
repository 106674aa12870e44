package controllers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// The backup store's figures (status.store of a ContactBackup), kept apart from metrics.go.
var (
	backupStoreBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ocsha_backup_store_bytes",
		Help: "Bytes the backup store holds for the ContactBackup (compressed, each content once).",
	}, []string{"backup"})
	backupStoreDedupRatio = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ocsha_backup_store_deduplication_ratio",
		Help: "Uncompressed size of every snapshot's data over that of the distinct contents stored.",
	}, []string{"backup"})
)

func init() {
	metrics.Registry.MustRegister(backupStoreBytes, backupStoreDedupRatio)
}

// recordBackupStoreMetrics sets the store's series of a ContactBackup (key is namespace/name) from
// its status.store; nil leaves them as they were.
func recordBackupStoreMetrics(key string, st *ocsv1.BackupStoreStatus) {
	if st == nil {
		return
	}
	backupStoreBytes.WithLabelValues(key).Set(float64(st.Bytes))
	if r, err := strconv.ParseFloat(st.DeduplicationRatio, 64); err == nil {
		backupStoreDedupRatio.WithLabelValues(key).Set(r)
	}
}

func forgetBackupStoreMetrics(key string) {
	backupStoreBytes.DeleteLabelValues(key)
	backupStoreDedupRatio.DeleteLabelValues(key)
}
