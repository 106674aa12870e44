package controllers

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// statusMetrics states what the objects' status says. It reads the objects from the manager's
// cache at scrape time, as kube-state-metrics and cert-manager do: the series follow every
// object as it is created, changed and deleted without a call in any reconciler, and a new
// leader reports at once what its predecessor wrote.
var statusMetrics = &statusCollector{sources: map[*statusSource]struct{}{}, gaps: map[string]time.Duration{}}

// statusListTimeout bounds one scrape's reads of the cache (which block until it has synced).
const statusListTimeout = 5 * time.Second

// maxScheduleGapCacheSize bounds the schedules whose longest gap is remembered.
const maxScheduleGapCacheSize = 1024

func newStatusDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	serverLabels = []string{labelNamespace, labelPool, labelServer}
	homingLabels = []string{labelNamespace, labelPool, labelHoming}
	opLabels     = []string{labelNamespace, labelPool, labelHoming, labelType}
	backupLabels = []string{labelNamespace, labelPool, labelBackup}
)

// The status series. Every one is a gauge.
var (
	descCondition = newStatusDesc("ocsha_condition",
		"1 for each status condition of an OCSPool, UserHoming or ContactBackup, labelled with its type, status and reason.",
		labelKind, labelNamespace, "name", labelPool, labelType, "status", "reason")

	descServerUp = newStatusDesc("ocsha_server_up",
		"1 when the server answers WinRM and runs its services (state Healthy, Draining or Drained), else 0.", serverLabels...)
	descServerState = newStatusDesc("ocsha_server_state",
		"1 for the server's current state (Healthy, Unhealthy, Unreachable, Draining, Drained, Unknown), 0 for the others.",
		labelNamespace, labelPool, labelServer, "state")
	descServerMaintenance = newStatusDesc("ocsha_server_maintenance",
		"1 when spec.servers[].maintenance is true: the server is drained on purpose.", serverLabels...)
	descServerHomedUsers = newStatusDesc("ocsha_server_homed_users",
		"Users homed on the server.", serverLabels...)
	descServerFailures = newStatusDesc("ocsha_server_consecutive_failures",
		"Failed health probes of the server since its last successful one.", serverLabels...)
	descServerLastProbe = newStatusDesc("ocsha_server_last_probe_timestamp_seconds",
		"Unix time of the server's last health probe.", serverLabels...)

	descHomingDesired = newStatusDesc("ocsha_server_desired_users",
		"Users the UserHoming placement wants on the server.", labelNamespace, labelPool, labelHoming, labelServer)
	descHomingPending = newStatusDesc("ocsha_homing_pending_moves",
		"Moves the UserHoming's current plan still has.", homingLabels...)
	descOpInProgress = newStatusDesc("ocsha_operation_in_progress",
		"1 while the UserHoming's last operation runs, 0 once it completed.", opLabels...)
	descOpStart = newStatusDesc("ocsha_operation_start_timestamp_seconds",
		"Unix time the UserHoming's last operation started.", opLabels...)
	descOpUsers = newStatusDesc("ocsha_operation_users",
		"Users the UserHoming's last operation moves.", opLabels...)
	descOpPending = newStatusDesc("ocsha_operation_users_pending",
		"Users the UserHoming's last operation has neither moved nor given up on; 0 once it completed.", opLabels...)
	descOpDone = newStatusDesc("ocsha_operation_users_done",
		"Users the UserHoming's last operation moved (planned and forced).", opLabels...)
	descOpForced = newStatusDesc("ocsha_operation_users_forced",
		"Users the UserHoming's last operation force-moved (their contacts stayed on the dead server).", opLabels...)
	descOpFailed = newStatusDesc("ocsha_operation_users_failed",
		"Users whose move or contact restore failed in the UserHoming's last operation.", opLabels...)
	descOpRestored = newStatusDesc("ocsha_operation_contacts_restored",
		"Users whose contacts the UserHoming's last operation restored from a snapshot.", opLabels...)

	descBackupLastSuccess = newStatusDesc("ocsha_backup_last_success_timestamp_seconds",
		"Unix time the ContactBackup last wrote a snapshot.", backupLabels...)
	descBackupNextSchedule = newStatusDesc("ocsha_backup_next_schedule_timestamp_seconds",
		"Unix time of the ContactBackup's next scheduled run.", backupLabels...)
	descBackupInterval = newStatusDesc("ocsha_backup_schedule_interval_seconds",
		"Longest time between two runs of the ContactBackup's spec.schedule (over a week of runs).", backupLabels...)
	descSnapshotTime = newStatusDesc("ocsha_backup_newest_snapshot_timestamp_seconds",
		"Unix time the ContactBackup's newest snapshot was taken.", backupLabels...)
	descSnapshotAge = newStatusDesc("ocsha_backup_newest_snapshot_age_seconds",
		"Age of the ContactBackup's newest snapshot at scrape time.", backupLabels...)
	descSnapshotUsers = newStatusDesc("ocsha_backup_newest_snapshot_users",
		"Users in the ContactBackup's newest snapshot.", backupLabels...)
	descSnapshotContacts = newStatusDesc("ocsha_backup_newest_snapshot_contacts",
		"Contacts in the ContactBackup's newest snapshot.", backupLabels...)
	descSnapshotAdded = newStatusDesc("ocsha_backup_newest_snapshot_added_bytes",
		"Bytes the ContactBackup's newest snapshot added to the store (what deduplication did not find there).", backupLabels...)
	descStoreBytes = newStatusDesc("ocsha_backup_store_bytes",
		"Bytes the backup store holds for the ContactBackup (compressed, each content once).", backupLabels...)
	descStoreDedup = newStatusDesc("ocsha_backup_store_deduplication_ratio",
		"Uncompressed size of every snapshot's data over that of the distinct contents stored.", backupLabels...)
)

var statusDescs = []*prometheus.Desc{
	descCondition,
	descServerUp, descServerState, descServerMaintenance, descServerHomedUsers, descServerFailures, descServerLastProbe,
	descHomingDesired, descHomingPending,
	descOpInProgress, descOpStart, descOpUsers, descOpPending, descOpDone, descOpForced, descOpFailed, descOpRestored,
	descBackupLastSuccess, descBackupNextSchedule, descBackupInterval,
	descSnapshotTime, descSnapshotAge, descSnapshotUsers, descSnapshotContacts, descSnapshotAdded,
	descStoreBytes, descStoreDedup,
}

// serverStates are the states ocsha_server_state reports, one series each.
var serverStates = []ocsv1.ServerState{
	ocsv1.ServerHealthy, ocsv1.ServerUnhealthy, ocsv1.ServerUnreachable,
	ocsv1.ServerDraining, ocsv1.ServerDrained, ocsv1.ServerUnknown,
	ocsv1.ServerAuthenticationFailed, ocsv1.ServerTLSFailed,
}

// backupStoreBytes and backupStoreDedupRatio are the store figures of a ContactBackup's
// status.store; ok is false while the status does not report them, and the series are then
// absent.
func backupStoreBytes(b *ocsv1.ContactBackup) (bytes float64, ok bool) {
	if b.Status.Store == nil {
		return 0, false
	}
	return float64(b.Status.Store.Bytes), true
}

func backupStoreDedupRatio(b *ocsv1.ContactBackup) (ratio float64, ok bool) {
	if b.Status.Store == nil {
		return 0, false
	}
	r, err := strconv.ParseFloat(b.Status.Store.DeduplicationRatio, 64)
	return r, err == nil
}

// statusSource is one manager's view of the objects.
type statusSource struct {
	reader client.Reader
	clock  clock.PassiveClock
}

// statusCollector is a prometheus.Collector over the sources attached to it.
type statusCollector struct {
	mu      sync.Mutex
	sources map[*statusSource]struct{}
	// gaps remembers the longest gap of each schedule: computing it takes up to a week of ticks.
	gaps map[string]time.Duration
}

// statusMetricsRunnable attaches reader to statusMetrics while the manager leads: a manager that
// waits for the lease reports nothing, so that two replicas never export the same series.
func statusMetricsRunnable(reader client.Reader, clk clock.PassiveClock) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		detach := statusMetrics.attach(&statusSource{reader: reader, clock: clk})
		defer detach()
		<-ctx.Done()
		return nil
	})
}

// attach adds a source until the returned function is called.
func (c *statusCollector) attach(src *statusSource) (detach func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources[src] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.sources, src)
	}
}

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statusDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := make([]*statusSource, 0, len(c.sources))
	for s := range c.sources {
		sources = append(sources, s)
	}
	c.mu.Unlock()
	// Two sources never hold the same object in production (one leader), but a test process may
	// run managers over the same namespace: a duplicate series would fail the whole scrape.
	seen := map[seriesKey]bool{}
	emit := func(d *prometheus.Desc, v float64, labels ...string) {
		k := seriesKey{d, strings.Join(labels, "\xff")}
		if seen[k] {
			return
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, src := range sources {
		c.collectFrom(src, emit)
	}
}

// seriesKey identifies one series of a scrape.
type seriesKey struct {
	desc   *prometheus.Desc
	labels string
}

// emitFunc sends one gauge sample.
type emitFunc func(d *prometheus.Desc, v float64, labels ...string)

// collectFrom lists the three kinds from one source. A failed list leaves its series out of this
// scrape rather than failing the whole scrape.
func (c *statusCollector) collectFrom(src *statusSource, emit emitFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), statusListTimeout)
	defer cancel()
	log := logf.Log.WithName("metrics")
	now := src.clock.Now()

	var pools ocsv1.OCSPoolList
	if err := src.reader.List(ctx, &pools); err != nil {
		log.Error(err, "Listing OCSPools for metrics")
	}
	for i := range pools.Items {
		poolSeries(&pools.Items[i], emit)
	}
	var homings ocsv1.UserHomingList
	if err := src.reader.List(ctx, &homings); err != nil {
		log.Error(err, "Listing UserHomings for metrics")
	}
	for i := range homings.Items {
		homingSeries(&homings.Items[i], emit)
	}
	var backups ocsv1.ContactBackupList
	if err := src.reader.List(ctx, &backups); err != nil {
		log.Error(err, "Listing ContactBackups for metrics")
	}
	for i := range backups.Items {
		b := &backups.Items[i]
		backupSeries(b, now, c.scheduleGap(b.Spec.Schedule, now), emit)
	}
}

// scheduleGap returns the remembered longest gap of spec, computing it on first use.
func (c *statusCollector) scheduleGap(spec string, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gap, ok := c.gaps[spec]; ok {
		return gap
	}
	s, err := parseBackupSchedule(spec, now)
	if err != nil {
		return 0
	}
	if len(c.gaps) >= maxScheduleGapCacheSize {
		clear(c.gaps)
	}
	gap := longestScheduleGap(s, now)
	c.gaps[spec] = gap
	return gap
}

// longestScheduleGap is the longest time between two consecutive ticks of s after from, looked
// for over the next eight days (two ticks at least): a weekday schedule waits 72 hours over a
// weekend, and "twice its schedule" must not fire every Monday. A schedule of every minute
// stops after maxGapTicks ticks; its gaps are all one minute.
func longestScheduleGap(s interface{ Next(time.Time) time.Time }, from time.Time) time.Duration {
	const (
		horizon     = 8 * 24 * time.Hour
		maxGapTicks = 20000
	)
	prev := s.Next(from)
	if prev.IsZero() {
		return 0
	}
	end := prev.Add(horizon)
	var longest time.Duration
	for range maxGapTicks {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		if next.After(end) {
			break
		}
		prev = next
	}
	return longest
}

// poolSeries states an OCSPool's conditions and each server's state.
func poolSeries(p *ocsv1.OCSPool, emit emitFunc) {
	conditionSeries("OCSPool", p.Namespace, p.Name, p.Name, p.Status.Conditions, emit)
	maintenance := map[string]bool{}
	for _, s := range p.Spec.Servers {
		maintenance[s.Name] = s.Maintenance
		emit(descServerMaintenance, boolValue(s.Maintenance), p.Namespace, p.Name, s.Name)
	}
	for _, st := range p.Status.Servers {
		if _, inSpec := maintenance[st.Name]; !inSpec {
			continue // removed from the spec; the next probe round drops it from status
		}
		labels := []string{p.Namespace, p.Name, st.Name}
		emit(descServerUp, boolValue(healthOf(st.State) == ocsv1.ServerHealthy), labels...)
		state := st.State
		if state == "" {
			state = ocsv1.ServerUnknown
		}
		known := false
		for _, s := range serverStates {
			known = known || s == state
			emit(descServerState, boolValue(s == state), p.Namespace, p.Name, st.Name, string(s))
		}
		if !known {
			emit(descServerState, 1, p.Namespace, p.Name, st.Name, string(state))
		}
		emit(descServerHomedUsers, float64(st.HomedUsers), labels...)
		emit(descServerFailures, float64(st.ConsecutiveFailures), labels...)
		if st.LastProbeTime != nil {
			emit(descServerLastProbe, unixSeconds(st.LastProbeTime.Time), labels...)
		}
	}
	roleSeries(p, emit)
}

// homingSeries states a UserHoming's conditions, its wanted spread and its last operation.
func homingSeries(h *ocsv1.UserHoming, emit emitFunc) {
	pool := h.Spec.PoolRef.Name
	conditionSeries("UserHoming", h.Namespace, h.Name, pool, h.Status.Conditions, emit)
	for _, s := range h.Status.Servers {
		emit(descHomingDesired, float64(s.DesiredUsers), h.Namespace, pool, h.Name, s.Name)
	}
	emit(descHomingPending, float64(h.Status.PendingMoves), h.Namespace, pool, h.Name)
	op := h.Status.LastOperation
	if op == nil {
		return
	}
	labels := []string{h.Namespace, pool, h.Name, string(op.Type)}
	running := op.CompletionTime == nil
	pending := 0.0
	if running {
		pending = float64(max(op.Total-op.Moved-op.Failed, 0))
	}
	emit(descOpInProgress, boolValue(running), labels...)
	emit(descOpStart, unixSeconds(op.StartTime.Time), labels...)
	emit(descOpUsers, float64(op.Total), labels...)
	emit(descOpPending, pending, labels...)
	emit(descOpDone, float64(op.Moved), labels...)
	emit(descOpForced, float64(op.Forced), labels...)
	emit(descOpFailed, float64(op.Failed), labels...)
	emit(descOpRestored, float64(op.ContactsRestored), labels...)
}

// backupSeries states a ContactBackup's conditions, schedule and newest snapshot; now dates the
// snapshot's age and gap is the longest time between two scheduled runs (0: unknown).
func backupSeries(b *ocsv1.ContactBackup, now time.Time, gap time.Duration, emit emitFunc) {
	pool := b.Spec.PoolRef.Name
	conditionSeries("ContactBackup", b.Namespace, b.Name, pool, b.Status.Conditions, emit)
	labels := []string{b.Namespace, pool, b.Name}
	if t := b.Status.LastSuccessfulTime; t != nil {
		emit(descBackupLastSuccess, unixSeconds(t.Time), labels...)
	}
	if t := b.Status.NextScheduleTime; t != nil {
		emit(descBackupNextSchedule, unixSeconds(t.Time), labels...)
	}
	if gap > 0 {
		emit(descBackupInterval, gap.Seconds(), labels...)
	}
	if len(b.Status.Snapshots) > 0 {
		s := b.Status.Snapshots[0] // newest first
		emit(descSnapshotTime, unixSeconds(s.Time.Time), labels...)
		emit(descSnapshotAge, max(now.Sub(s.Time.Time), 0).Seconds(), labels...)
		emit(descSnapshotUsers, float64(s.Users), labels...)
		emit(descSnapshotContacts, float64(s.Contacts), labels...)
		emit(descSnapshotAdded, float64(s.Bytes), labels...)
	}
	if n, ok := backupStoreBytes(b); ok {
		emit(descStoreBytes, n, labels...)
	}
	if r, ok := backupStoreDedupRatio(b); ok {
		emit(descStoreDedup, r, labels...)
	}
}

// conditionSeries emits one ocsha_condition sample per condition. Reasons are stable
// UpperCamelCase words from api/v1alpha1, so the label stays bounded.
func conditionSeries(kind, namespace, name, pool string, conds []metav1.Condition, emit emitFunc) {
	for _, c := range conds {
		emit(descCondition, 1, kind, namespace, name, pool, c.Type, string(c.Status), c.Reason)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds keeps sub-second precision, as Prometheus timestamps in seconds do.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
