package controllers

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// metricsNow is the fixed time of the metric tests.
var metricsNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func metricsTime(d time.Duration) *metav1.Time { t := metav1.NewTime(metricsNow.Add(d)); return &t }

// metricsObjects is one of each kind in a namespace: a pool with a server in maintenance and a
// dead one, a homing in the middle of a failover, a backup with two snapshots.
func metricsObjects(ns string) []client.Object {
	pool := &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site-a"},
		Spec: ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{
			{Name: "ocs1"}, {Name: "ocs2"}, {Name: "ocs3", Maintenance: true},
		},
			Roles:    []ocsv1.RoleServerSpec{{Name: "med1", Role: ocsv1.RoleMediation, Paths: []string{"1"}}, {Name: "edge1", Role: ocsv1.RoleEdge}},
			Gateways: []ocsv1.GatewaySpec{{Name: "gw1", Path: "1"}},
		},
		Status: ocsv1.OCSPoolStatus{
			CommonStatus: ocsv1.CommonStatus{Conditions: []metav1.Condition{
				{Type: ocsv1.ConditionReady, Status: metav1.ConditionFalse, Reason: ocsv1.ReasonServerNotServing},
			}},
			Servers: []ocsv1.ServerStatus{
				{Name: "ocs1", State: ocsv1.ServerHealthy, HomedUsers: 30, LastProbeTime: metricsTime(-5 * time.Second)},
				{Name: "ocs2", State: ocsv1.ServerUnreachable, ConsecutiveFailures: 7, HomedUsers: 0},
				{Name: "ocs3", State: ocsv1.ServerDrained},
			},
			Roles: []ocsv1.RoleServerStatus{
				{Name: "med1", Role: ocsv1.RoleMediation, State: ocsv1.ServerHealthy},
				{Name: "edge1", Role: ocsv1.RoleEdge, State: ocsv1.ServerUnhealthy},
			},
			Gateways: []ocsv1.GatewayStatus{{Name: "gw1", Path: "1", State: ocsv1.GatewayNotAnswering}},
		},
	}
	homing := &ocsv1.UserHoming{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site-a-homing"},
		Spec:       ocsv1.UserHomingSpec{PoolRef: ocsv1.PoolReference{Name: "site-a"}},
		Status: ocsv1.UserHomingStatus{
			Servers:      []ocsv1.HomingServerStatus{{Name: "ocs1", HomedUsers: 30, DesiredUsers: 40}},
			PendingMoves: 10,
			LastOperation: &ocsv1.Operation{
				Type: ocsv1.OperationFailover, StartTime: *metricsTime(-2 * time.Minute),
				Total: 40, Moved: 28, Forced: 28, Failed: 2, ContactsRestored: 20,
			},
		},
	}
	backup := &ocsv1.ContactBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site-a-backup"},
		Spec:       ocsv1.ContactBackupSpec{PoolRef: ocsv1.PoolReference{Name: "site-a"}, Schedule: "0 * * * *"},
		Status: ocsv1.ContactBackupStatus{
			LastSuccessfulTime: metricsTime(-90 * time.Minute),
			NextScheduleTime:   metricsTime(time.Hour),
			Snapshots: []ocsv1.SnapshotSummary{
				{Name: "new", Time: *metricsTime(-90 * time.Minute), Users: 40, Contacts: 800, Bytes: 2048},
				{Name: "old", Time: *metricsTime(-150 * time.Minute), Users: 40, Contacts: 790, Bytes: 99999},
			},
		},
	}
	return []client.Object{pool, homing, backup}
}

func metricsScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := ocsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// attachFakeSource serves objs to statusMetrics until the test ends.
func attachFakeSource(t *testing.T, objs ...client.Object) {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(metricsScheme(t)).WithObjects(objs...).
		WithStatusSubresource(&ocsv1.OCSPool{}, &ocsv1.UserHoming{}, &ocsv1.ContactBackup{}).Build()
	t.Cleanup(statusMetrics.attach(&statusSource{reader: c, clock: clocktesting.NewFakePassiveClock(metricsNow)}))
}

// scrape serves the registry the way the manager's metrics server does (an error fails the
// whole scrape) and parses what an HTTP GET returns.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return families
}

// documentedMetric is one row of the table in docs/metrics.md.
type documentedMetric struct {
	typ    string
	labels []string
	help   string
}

// readMetricsDoc parses the rows "| `name` | type | `a`, `b` | help |" of docs/metrics.md.
func readMetricsDoc(t *testing.T) map[string]documentedMetric {
	t.Helper()
	f, err := os.Open("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]documentedMetric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `ocsha_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("docs/metrics.md: want 4 cells in %q", line)
		}
		var labels []string
		for l := range strings.SplitSeq(cells[2], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				labels = append(labels, l)
			}
		}
		sort.Strings(labels)
		out[strings.Trim(strings.TrimSpace(cells[0]), "`")] = documentedMetric{
			typ: strings.TrimSpace(cells[1]), labels: labels, help: strings.TrimSpace(cells[3]),
		}
	}
	return out
}

func familyLabels(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(out, l.GetName()) {
				out = append(out, l.GetName())
			}
		}
	}
	sort.Strings(out)
	return out
}

// storeFigures are served once ContactBackup status reports its store's figures.
var storeFigures = map[string]bool{"ocsha_backup_store_bytes": true, "ocsha_backup_store_deduplication_ratio": true}

// TestMetricsEndpoint scrapes the endpoint and checks every operator series against
// docs/metrics.md: name, type, labels and help text, in both directions.
func TestMetricsEndpoint(t *testing.T) {
	const ns = "metrics-endpoint"
	objs := metricsObjects(ns)
	attachFakeSource(t, objs...)
	pool, backup := objs[0].(*ocsv1.OCSPool), objs[2].(*ocsv1.ContactBackup)
	initPoolMetrics(pool)
	initBackupMetrics(backup)
	observeProbe(pool, "ocs1", time.Second)
	observeOperation(pool, ocsv1.OperationFailover, time.Minute)
	observeBackupRun(backup, &backupOutcome{}, time.Second)
	t.Cleanup(func() {
		forgetPoolMetrics(ns, pool.Name, "")
		forgetBackupMetrics(ns, backup.Name)
	})

	families := scrape(t)
	docs := readMetricsDoc(t)
	for name, f := range families {
		if !strings.HasPrefix(name, "ocsha_") {
			continue
		}
		d, ok := docs[name]
		if !ok {
			t.Errorf("%s is served but not documented in docs/metrics.md", name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != d.typ {
			t.Errorf("%s: type %s, docs/metrics.md says %s", name, got, d.typ)
		}
		if f.GetHelp() != d.help {
			t.Errorf("%s: help %q, docs/metrics.md says %q", name, f.GetHelp(), d.help)
		}
		if got := familyLabels(f); !slices.Equal(got, d.labels) {
			t.Errorf("%s: labels %v, docs/metrics.md says %v", name, got, d.labels)
		}
	}
	for name := range docs {
		if _, ok := families[name]; !ok && !storeFigures[name] {
			t.Errorf("docs/metrics.md documents %s, which the scrape does not serve", name)
		}
	}
}

// TestMetricsFollowConventions runs promlint (the checks of `promtool check metrics`) over the
// operator's series.
func TestMetricsFollowConventions(t *testing.T) {
	const ns = "metrics-lint"
	objs := metricsObjects(ns)
	attachFakeSource(t, objs...)
	pool, backup := objs[0].(*ocsv1.OCSPool), objs[2].(*ocsv1.ContactBackup)
	initPoolMetrics(pool)
	initBackupMetrics(backup)
	observeProbe(pool, "ocs1", time.Second)
	observeOperation(pool, ocsv1.OperationDrain, time.Minute)
	observeBackupRun(backup, &backupOutcome{}, time.Second)
	t.Cleanup(func() {
		forgetPoolMetrics(ns, pool.Name, "")
		forgetBackupMetrics(ns, backup.Name)
	})

	var names []string
	for name := range scrape(t) {
		if strings.HasPrefix(name, "ocsha_") {
			names = append(names, name)
		}
	}
	problems, err := testutil.GatherAndLint(metrics.Registry, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestMetricsCountersStartAtZero: every counter of a new pool and backup is served at 0 before
// anything happened, so that increase() sees the first event.
func TestMetricsCountersStartAtZero(t *testing.T) {
	const ns = "metrics-zero"
	objs := metricsObjects(ns)
	pool, backup := objs[0].(*ocsv1.OCSPool), objs[2].(*ocsv1.ContactBackup)
	initPoolMetrics(pool)
	initBackupMetrics(backup)
	t.Cleanup(func() {
		forgetPoolMetrics(ns, pool.Name, "")
		forgetBackupMetrics(ns, backup.Name)
	})
	want := map[string]int{
		// 3 servers × 8 results
		"ocsha_winrm_requests_total": 24,
		// planned/forced × ok/failed
		"ocsha_user_moves_total":        4,
		"ocsha_failovers_total":         1,
		"ocsha_contacts_restored_total": 1,
		// ok, partial, failed
		"ocsha_backup_runs_total": 3,
	}
	families := scrape(t)
	for name, n := range want {
		got := 0
		for _, m := range families[name].GetMetric() {
			if labelOf(m, labelNamespace) != ns {
				continue
			}
			got++
			if v := m.GetCounter().GetValue(); v != 0 {
				t.Errorf("%s%v = %v, want 0", name, m.GetLabel(), v)
			}
		}
		if got != n {
			t.Errorf("%s: %d series at zero, want %d", name, got, n)
		}
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestMetricsForgetDeletedObjects: deleting a pool or a backup drops its counters.
func TestMetricsForgetDeletedObjects(t *testing.T) {
	const ns = "metrics-forget"
	objs := metricsObjects(ns)
	pool, backup := objs[0].(*ocsv1.OCSPool), objs[2].(*ocsv1.ContactBackup)
	initPoolMetrics(pool)
	initBackupMetrics(backup)
	observeProbe(pool, "ocs2", time.Second)
	forgetPoolMetrics(ns, pool.Name, "ocs2")
	for _, m := range scrape(t)["ocsha_winrm_requests_total"].GetMetric() {
		if labelOf(m, labelNamespace) == ns && labelOf(m, labelServer) == "ocs2" {
			t.Fatalf("server ocs2 removed from the spec still has %v", m.GetLabel())
		}
	}
	forgetPoolMetrics(ns, pool.Name, "")
	forgetBackupMetrics(ns, backup.Name)
	for name, f := range scrape(t) {
		for _, m := range f.GetMetric() {
			if strings.HasPrefix(name, "ocsha_") && labelOf(m, labelNamespace) == ns {
				t.Errorf("deleted objects still have %s%v", name, m.GetLabel())
			}
		}
	}
}

// TestMetricsTwoSourcesSameObjects: two managers reading the same objects (possible in tests,
// never with leader election) must not fail the scrape with duplicate series.
func TestMetricsTwoSourcesSameObjects(t *testing.T) {
	objs := metricsObjects("metrics-twice")
	attachFakeSource(t, objs...)
	attachFakeSource(t, metricsObjects("metrics-twice")...)
	n := 0
	for _, m := range scrape(t)["ocsha_server_up"].GetMetric() {
		if labelOf(m, labelNamespace) == "metrics-twice" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("ocsha_server_up: %d series for 3 servers", n)
	}
}

// recorded collects what a series function emits as "name{v1,v2,...}" → value.
type recorded map[string]float64

func (r recorded) emit(d *prometheus.Desc, v float64, labels ...string) {
	name, _, _ := strings.Cut(strings.TrimPrefix(d.String(), `Desc{fqName: "`), `"`)
	r[name+"{"+strings.Join(labels, ",")+"}"] = v
}

func TestMetricsPoolSeries(t *testing.T) {
	got := recorded{}
	poolSeries(metricsObjects("ns")[0].(*ocsv1.OCSPool), got.emit)
	want := map[string]float64{
		"ocsha_condition{OCSPool,ns,site-a,site-a,Ready,False,ServerNotServing}": 1,
		"ocsha_server_up{ns,site-a,ocs1}":                                        1,
		"ocsha_server_up{ns,site-a,ocs2}":                                        0,
		// Drained answers and runs its services: up, and in maintenance.
		"ocsha_server_up{ns,site-a,ocs3}":                           1,
		"ocsha_server_maintenance{ns,site-a,ocs3}":                  1,
		"ocsha_server_maintenance{ns,site-a,ocs1}":                  0,
		"ocsha_server_state{ns,site-a,ocs2,Unreachable}":            1,
		"ocsha_server_state{ns,site-a,ocs2,Healthy}":                0,
		"ocsha_server_state{ns,site-a,ocs3,Drained}":                1,
		"ocsha_server_homed_users{ns,site-a,ocs1}":                  30,
		"ocsha_server_consecutive_failures{ns,site-a,ocs2}":         7,
		"ocsha_server_last_probe_timestamp_seconds{ns,site-a,ocs1}": float64(metricsNow.Add(-5 * time.Second).Unix()),
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got["ocsha_server_last_probe_timestamp_seconds{ns,site-a,ocs2}"]; ok {
		t.Error("a server never probed has a last probe time")
	}
}

func TestMetricsPoolSeriesUnknownState(t *testing.T) {
	pool := &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
		Spec:       ocsv1.OCSPoolSpec{Servers: []ocsv1.ServerSpec{{Name: "a"}, {Name: "b"}}},
		Status: ocsv1.OCSPoolStatus{Servers: []ocsv1.ServerStatus{
			{Name: "a", State: "SomethingNew"}, {Name: "b"}, {Name: "removed", State: ocsv1.ServerHealthy},
		}},
	}
	got := recorded{}
	poolSeries(pool, got.emit)
	if got["ocsha_server_state{ns,p,a,SomethingNew}"] != 1 || got["ocsha_server_up{ns,p,a}"] != 0 {
		t.Errorf("a state this version does not know: %v", got)
	}
	if got["ocsha_server_state{ns,p,b,Unknown}"] != 1 {
		t.Errorf("an empty state reads as Unknown: %v", got)
	}
	for k := range got {
		if strings.Contains(k, "removed") {
			t.Errorf("a server no longer in the spec is exported: %s", k)
		}
	}
}

func TestMetricsHomingSeries(t *testing.T) {
	tests := map[string]struct {
		completed   bool
		wantPending float64
		wantRunning float64
	}{
		"a running failover has 40-28-2 users pending": {wantPending: 10, wantRunning: 1},
		"a completed failover has none pending":        {completed: true, wantPending: 0, wantRunning: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := metricsObjects("ns")[1].(*ocsv1.UserHoming)
			if tc.completed {
				h.Status.LastOperation.CompletionTime = metricsTime(0)
			}
			got := recorded{}
			homingSeries(h, got.emit)
			op := "{ns,site-a,site-a-homing,Failover}"
			want := map[string]float64{
				"ocsha_operation_users_pending" + op:                       tc.wantPending,
				"ocsha_operation_in_progress" + op:                         tc.wantRunning,
				"ocsha_operation_users_done" + op:                          28,
				"ocsha_operation_users_forced" + op:                        28,
				"ocsha_operation_users_failed" + op:                        2,
				"ocsha_operation_users" + op:                               40,
				"ocsha_operation_contacts_restored" + op:                   20,
				"ocsha_operation_start_timestamp_seconds" + op:             float64(metricsNow.Add(-2 * time.Minute).Unix()),
				"ocsha_homing_pending_moves{ns,site-a,site-a-homing}":      10,
				"ocsha_server_desired_users{ns,site-a,site-a-homing,ocs1}": 40,
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}

func TestMetricsBackupSeries(t *testing.T) {
	b := metricsObjects("ns")[2].(*ocsv1.ContactBackup)
	got := recorded{}
	backupSeries(b, metricsNow, time.Hour, got.emit)
	l := "{ns,site-a,site-a-backup}"
	want := map[string]float64{
		"ocsha_backup_newest_snapshot_age_seconds" + l:     5400,
		"ocsha_backup_newest_snapshot_added_bytes" + l:     2048,
		"ocsha_backup_newest_snapshot_users" + l:           40,
		"ocsha_backup_newest_snapshot_contacts" + l:        800,
		"ocsha_backup_schedule_interval_seconds" + l:       3600,
		"ocsha_backup_last_success_timestamp_seconds" + l:  float64(metricsNow.Add(-90 * time.Minute).Unix()),
		"ocsha_backup_next_schedule_timestamp_seconds" + l: float64(metricsNow.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}

	empty := recorded{}
	backupSeries(&ocsv1.ContactBackup{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "new"}}, metricsNow, 0, empty.emit)
	if len(empty) != 0 {
		t.Errorf("a backup that never ran exports %v", empty)
	}
}

func TestLongestScheduleGap(t *testing.T) {
	from := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // a Wednesday
	tests := map[string]struct {
		schedule string
		want     time.Duration
	}{
		"every 15 minutes":                     {"*/15 * * * *", 15 * time.Minute},
		"every minute":                         {"* * * * *", time.Minute},
		"daily":                                {"30 2 * * *", 24 * time.Hour},
		"weekdays wait over the weekend":       {"0 9 * * 1-5", 72 * time.Hour},
		"office hours wait overnight":          {"*/5 9-17 * * *", 15*time.Hour + 5*time.Minute},
		"every minute of office hours, weekly": {"* 9-17 * * 1-5", 63*time.Hour + time.Minute},
		"monthly":                              {"0 0 1 * *", 31 * 24 * time.Hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := cron.ParseStandard(tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			if got := longestScheduleGap(s, from); got != tc.want {
				t.Errorf("longestScheduleGap(%q) = %v, want %v", tc.schedule, got, tc.want)
			}
		})
	}
}

func TestScheduleGapIsRemembered(t *testing.T) {
	c := &statusCollector{sources: map[*statusSource]struct{}{}, gaps: map[string]time.Duration{}}
	if got := c.scheduleGap("0 * * * *", metricsNow); got != time.Hour {
		t.Fatalf("scheduleGap = %v", got)
	}
	if got := c.scheduleGap("not cron", metricsNow); got != 0 {
		t.Fatalf("an invalid schedule has gap %v", got)
	}
	if _, ok := c.gaps["0 * * * *"]; !ok || len(c.gaps) != 1 {
		t.Fatalf("gaps remembered: %v", c.gaps)
	}
}

// TestCountWinRMRequestSplitsThePoolKey: the transport names a pool namespace/name; the series
// carries both as labels.
func TestCountWinRMRequestSplitsThePoolKey(t *testing.T) {
	t.Cleanup(func() { forgetPoolMetrics("split-ns", "site-a", "") })
	countWinRMRequest("split-ns/site-a", "ocs1", "ok", 0)
	if got := testutil.ToFloat64(winrmRequests.WithLabelValues("split-ns", "site-a", "ocs1", "ok")); got != 1 {
		t.Fatalf("ocsha_winrm_requests_total{namespace=split-ns,pool=site-a} = %v, want 1", got)
	}
}

// TestStatusMetricsRunnableNeedsLeadership: only the leader attaches its cache, so that two
// replicas never serve the same status series; the source goes when the manager stops.
func TestStatusMetricsRunnableNeedsLeadership(t *testing.T) {
	r := statusMetricsRunnable(fake.NewClientBuilder().WithScheme(metricsScheme(t)).Build(), clocktesting.NewFakePassiveClock(metricsNow))
	if le, ok := r.(manager.LeaderElectionRunnable); ok && !le.NeedLeaderElection() {
		t.Fatal("the status metrics run without leader election")
	}
	count := func() int {
		statusMetrics.mu.Lock()
		defer statusMetrics.mu.Unlock()
		return len(statusMetrics.sources)
	}
	before := count()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Start(ctx) }()
	g := NewWithT(t)
	g.Eventually(count).Should(Equal(before + 1))
	cancel()
	g.Expect(<-done).To(Succeed())
	g.Expect(count()).To(Equal(before))
}
