package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// cbUnitBackup returns a ContactBackup of pool "pool" storing under dir.
func cbUnitBackup(dir string) *ocsv1.ContactBackup {
	return &ocsv1.ContactBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "site-a"},
		Spec: ocsv1.ContactBackupSpec{
			PoolRef:  ocsv1.PoolReference{Name: "pool"},
			Schedule: "*/15 * * * *",
			Storage:  ocsv1.StorageSpec{Path: dir},
		},
	}
}

// cbUnitPool returns a pool whose servers have the given states.
func cbUnitPool(states map[string]ocsv1.ServerState, names ...string) *ocsv1.OCSPool {
	p := &ocsv1.OCSPool{ObjectMeta: metav1.ObjectMeta{Name: "pool", Namespace: "site-a"}}
	for _, n := range names {
		p.Spec.Servers = append(p.Spec.Servers, ocsv1.ServerSpec{Name: n, FQDN: n + ".corp.example.com"})
		if st, ok := states[n]; ok {
			p.Status.Servers = append(p.Status.Servers, ocsv1.ServerStatus{Name: n, State: st})
		}
	}
	return p
}

// cbFake returns a Fake whose servers each home perServer users with n contacts.
func cbFake(perServer, n int, servers ...string) *ocs.Fake {
	f := ocs.NewFake(servers...)
	for si, s := range servers {
		for u := 0; u < perServer; u++ {
			f.AddUser(cbSIP(si*perServer+u), s, cbContacts(si*perServer+u, n, 0)...)
		}
	}
	return f
}

func cbSIP(i int) string { return fmt.Sprintf("sip:user%04d@corp.example.com", i) }

func cbContacts(user, n, version int) []contacts.Contact {
	out := make([]contacts.Contact, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, contacts.Contact{
			Buddy:             fmt.Sprintf("user%04d@corp.example.com", (user*31+i*7+version)%10000),
			SubscribePresence: i%2 == 0,
			Groups:            []int{1 + i%3},
		})
	}
	return out
}

func TestBackupServers(t *testing.T) {
	pool := cbUnitPool(map[string]ocsv1.ServerState{
		"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerUnreachable, "ocs3": ocsv1.ServerDrained, "ocs4": ocsv1.ServerDraining,
		"ocs5": ocsv1.ServerUnhealthy,
	}, "ocs1", "ocs2", "ocs3", "ocs4", "ocs5", "ocs6")
	serving, skipped := backupServers(pool)
	if want := []string{"ocs1", "ocs3", "ocs4"}; !reflect.DeepEqual(serving, want) {
		t.Errorf("serving = %v, want %v", serving, want)
	}
	want := []backupSkip{{"ocs2", "state Unreachable"}, {"ocs5", "state Unhealthy"}, {"ocs6", "not probed yet"}}
	if !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
}

func cbReconciler(agent ocs.Agent) *ContactBackupReconciler {
	return &ContactBackupReconciler{Agents: StaticProvider{Agent: agent}, Clock: clocktesting.NewFakeClock(cbTime(10, 0, 0))}
}

func TestRunBackupWritesEveryServingServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fake := cbFake(5, 3, "ocs1", "ocs2")
	b := cbUnitBackup(dir)
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerDraining}, "ocs1", "ocs2")

	out := cbReconciler(fake).runBackup(ctx, b, pool, cbTime(10, 15, 0))
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	m := out.Manifest
	if m.Users != 10 || m.Contacts != 30 || len(out.Skipped) != 0 || out.Added <= 0 {
		t.Fatalf("manifest users=%d contacts=%d skipped=%v added=%d", m.Users, m.Contacts, out.Skipped, out.Added)
	}
	if got := fake.Calls(ocs.OpExportContacts); got != 2 {
		t.Errorf("ExportContacts called %d times, want one per server", got)
	}
	if len(m.Configuration) != 2 || m.Configuration[0].Server != "ocs1" {
		t.Errorf("configuration = %+v, want one file per server", m.Configuration)
	}
	if len(out.Kept) != 1 || out.Kept[0].Name != m.Name {
		t.Errorf("kept = %v", out.Kept)
	}
	if _, err := os.Stat(filepath.Join(dir, "site-a", "nightly", "snapshots", m.Name+".json.gz")); err != nil {
		t.Errorf("manifest not under <path>/<namespace>/<name>: %v", err)
	}

	repo, err := openRepository(context.Background(), nil, b)
	if err != nil {
		t.Fatal(err)
	}
	e, err := repo.Entry(ctx, m, "sip:user0007@corp.example.com")
	if err != nil || e.Server != "ocs2" || e.Contacts != 3 {
		t.Fatalf("entry of user0007 = %+v, %v", e, err)
	}
	got, name, corrupt, err := newestContactsFor(ctx, repo, "SIP:User0007@corp.example.com", cbTime(10, 15, 0))
	if err != nil || name != m.Name || len(corrupt) != 0 {
		t.Fatalf("newestContactsFor() = %q, %v, %v", name, corrupt, err)
	}
	want, _ := fake.StoredContacts("ocs2", cbSIP(7))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("restored %+v, want %+v", got, want)
	}
}

func TestRunBackupWithoutConfiguration(t *testing.T) {
	fake := cbFake(1, 1, "ocs1", "ocs2")
	b := cbUnitBackup(t.TempDir())
	b.Spec.IncludeConfiguration = new(bool)
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	out := cbReconciler(fake).runBackup(context.Background(), b, pool, cbTime(10, 15, 0))
	if out.Err != nil || len(out.Manifest.Configuration) != 0 || fake.Calls(ocs.OpExportConfiguration) != 0 {
		t.Fatalf("err=%v configuration=%v calls=%d", out.Err, out.Manifest, fake.Calls(ocs.OpExportConfiguration))
	}
}

func TestRunBackupSkipsServersThatAreDown(t *testing.T) {
	tests := map[string]struct {
		states      map[string]ocsv1.ServerState
		down        []string
		wantSkipped []string
		wantUsers   int
		wantErr     string
	}{
		"a server the pool reports unreachable is not asked": {
			states:      map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerUnreachable},
			wantSkipped: []string{"ocs2"}, wantUsers: 4,
		},
		"a server that fails its export is skipped": {
			states: map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy},
			down:   []string{"ocs1"}, wantSkipped: []string{"ocs1"}, wantUsers: 4,
		},
		"every server down writes no snapshot": {
			states:  map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerUnreachable, "ocs2": ocsv1.ServerUnhealthy},
			wantErr: "no server of OCSPool pool serves",
		},
		"every export failing writes no snapshot": {
			states: map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy},
			down:   []string{"ocs1", "ocs2"}, wantErr: "could be exported",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fake := cbFake(4, 2, "ocs1", "ocs2")
			for _, s := range tt.down {
				fake.SetDown(s, true)
			}
			out := cbReconciler(fake).runBackup(context.Background(), cbUnitBackup(dir), cbUnitPool(tt.states, "ocs1", "ocs2"), cbTime(10, 15, 0))
			if tt.wantErr != "" {
				if out.Err == nil || !strings.Contains(out.Err.Error(), tt.wantErr) || out.Manifest != nil || out.StorageUnavailable {
					t.Fatalf("outcome = %+v, want error %q", out, tt.wantErr)
				}
				return
			}
			if out.Err != nil {
				t.Fatal(out.Err)
			}
			var skipped []string
			for _, s := range out.Skipped {
				skipped = append(skipped, s.Name)
			}
			if !reflect.DeepEqual(skipped, tt.wantSkipped) || out.Manifest.Users != tt.wantUsers {
				t.Errorf("skipped %v users %d, want %v and %d", skipped, out.Manifest.Users, tt.wantSkipped, tt.wantUsers)
			}
			for _, s := range out.Manifest.Servers {
				if s.Skipped != (s.Name == tt.wantSkipped[0]) || s.Skipped && s.Reason == "" {
					t.Errorf("manifest server %+v", s)
				}
			}
			if got := snapshotSummary(out.Manifest, out.Added).SkippedServers; !reflect.DeepEqual(got, tt.wantSkipped) {
				t.Errorf("summary skipped %v", got)
			}
		})
	}
}

func TestRunBackupReportsUnwritableStorage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := cbFake(1, 1, "ocs1", "ocs2")
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	out := cbReconciler(fake).runBackup(context.Background(), cbUnitBackup(file), pool, cbTime(10, 15, 0))
	if out.Err == nil || !out.StorageUnavailable || !strings.Contains(out.Err.Error(), "spec.storage.path") {
		t.Fatalf("outcome = %+v, want storage unavailable", out)
	}
	if fake.Calls(ocs.OpExportContacts) != 0 {
		t.Error("servers were asked for exports although storage is unwritable")
	}
}

// TestRunBackupRetention keeps exactly keepLast snapshots and deletes the blobs only the dropped
// ones referred to.
func TestRunBackupRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fake := cbFake(3, 2, "ocs1", "ocs2")
	b := cbUnitBackup(dir)
	b.Spec.Retention.KeepLast = 3
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	r := cbReconciler(fake)

	var digests []string // of user0000's export in each snapshot
	var status []ocsv1.SnapshotSummary
	for k := 0; k < 5; k++ {
		list := cbContacts(0, 2, k+1)
		fake.AddUser(cbSIP(0), "ocs1", list...)
		sum := sha256.Sum256(contacts.MarshalResource(contacts.Resource{UserAtHost: "user0000@corp.example.com", Contacts: list}))
		digests = append(digests, hex.EncodeToString(sum[:]))
		out := r.runBackup(ctx, b, pool, cbTime(10, 15*k, 0))
		if out.Err != nil || out.PruneErr != nil {
			t.Fatalf("run %d: %v %v", k, out.Err, out.PruneErr)
		}
		status = mergeSnapshotSummaries(status, snapshotSummary(out.Manifest, out.Added), out.Kept)
		if wantPruned := max(0, k+1-3) - max(0, k-3); out.Pruned != wantPruned {
			t.Errorf("run %d pruned %d, want %d", k, out.Pruned, wantPruned)
		}
	}
	repo, _ := openRepository(context.Background(), nil, b)
	ms, err := repo.List(ctx)
	if err != nil || len(ms) != 3 {
		t.Fatalf("%d snapshots left (%v), want 3", len(ms), err)
	}
	if len(status) != 3 || status[0].Name != ms[0].Name || status[2].Name != ms[2].Name {
		t.Errorf("status.snapshots = %+v", status)
	}
	for k, d := range digests {
		_, err := os.Stat(filepath.Join(dir, "site-a", "nightly", "blobs", d[:2], d))
		if exists := err == nil; exists != (k >= 2) {
			t.Errorf("blob of version %d exists=%v, want %v", k+1, exists, k >= 2)
		}
	}
}

// TestNewestContactsForSkipsACorruptBlob flips a byte of a user's newest blob: the previous
// snapshot's copy is returned and the corrupt snapshot is named.
func TestNewestContactsForSkipsACorruptBlob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fake := cbFake(2, 4, "ocs1", "ocs2")
	b := cbUnitBackup(dir)
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	r := cbReconciler(fake)
	first := r.runBackup(ctx, b, pool, cbTime(10, 0, 0))
	fake.AddUser(cbSIP(1), "ocs1", cbContacts(1, 4, 9)...)
	second := r.runBackup(ctx, b, pool, cbTime(10, 15, 0))
	if first.Err != nil || second.Err != nil {
		t.Fatal(first.Err, second.Err)
	}
	repo, _ := openRepository(context.Background(), nil, b)
	e, err := repo.Entry(ctx, second.Manifest, cbSIP(1))
	if err != nil {
		t.Fatal(err)
	}
	cbFlipByte(t, filepath.Join(dir, "site-a", "nightly", "blobs", e.Digest[:2], e.Digest))

	got, name, corrupt, err := newestContactsFor(ctx, repo, cbSIP(1), cbTime(11, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if name != first.Manifest.Name || !reflect.DeepEqual(corrupt, []string{second.Manifest.Name}) {
		t.Errorf("snapshot %q, corrupt %v; want %q and [%s]", name, corrupt, first.Manifest.Name, second.Manifest.Name)
	}
	if want := cbContacts(1, 4, 0); !reflect.DeepEqual(got.Contacts, want) {
		t.Errorf("contacts %+v, want the first version %+v", got.Contacts, want)
	}

	_, _, _, err = newestContactsFor(ctx, repo, "sip:nobody@corp.example.com", cbTime(11, 0, 0))
	if !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("unknown user: err = %v, want ErrNotFound", err)
	}
}

// cbFlipByte inverts a byte in the middle of a file, as damage on disk would.
func cbFlipByte(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMergeSnapshotSummaries(t *testing.T) {
	m := func(name string, minute int) *backup.Manifest {
		return &backup.Manifest{Name: name, Time: cbTime(10, minute, 0), Users: 2, Contacts: 5}
	}
	s := func(name string, bytes int64) ocsv1.SnapshotSummary {
		return ocsv1.SnapshotSummary{Name: name, Bytes: bytes}
	}
	tests := map[string]struct {
		prev   []ocsv1.SnapshotSummary
		newest ocsv1.SnapshotSummary
		kept   []*backup.Manifest
		want   []string
		bytes  []int64
	}{
		"newest first, dropped ones leave": {
			prev: []ocsv1.SnapshotSummary{s("b", 20), s("a", 10)}, newest: s("c", 30),
			kept: []*backup.Manifest{m("c", 30), m("b", 20)}, want: []string{"c", "b"}, bytes: []int64{30, 20},
		},
		"a kept snapshot status never knew shows 0 bytes": {
			newest: s("c", 30), kept: []*backup.Manifest{m("c", 30), m("a", 10)}, want: []string{"c", "a"}, bytes: []int64{30, 0},
		},
		"retention unknown: prepend": {
			prev: []ocsv1.SnapshotSummary{s("b", 20), s("a", 10)}, newest: s("c", 30), want: []string{"c", "b", "a"}, bytes: []int64{30, 20, 10},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := mergeSnapshotSummaries(tt.prev, tt.newest, tt.kept)
			var names []string
			var bytes []int64
			for _, g := range got {
				names, bytes = append(names, g.Name), append(bytes, g.Bytes)
			}
			if !reflect.DeepEqual(names, tt.want) || !reflect.DeepEqual(bytes, tt.bytes) {
				t.Errorf("got %v %v, want %v %v", names, bytes, tt.want, tt.bytes)
			}
		})
	}

	var many []*backup.Manifest
	for i := 0; i < 30; i++ {
		many = append(many, m(fmt.Sprintf("s%02d", 29-i), 0))
	}
	if got := mergeSnapshotSummaries(nil, s("s29", 1), many); len(got) != maxSnapshotSummaries || got[0].Name != "s29" {
		t.Errorf("bounded list: %d entries, first %q", len(got), got[0].Name)
	}
}

func TestBackupReady(t *testing.T) {
	next := cbTime(10, 30, 0)
	manifest := &backup.Manifest{Name: "snap", Users: 3, Contacts: 9}
	lastSuccess := metav1.NewTime(cbTime(10, 0, 0))
	tests := map[string]struct {
		facts       backupFacts
		prev        *metav1.Condition
		lastSuccess *metav1.Time
		want        metav1.ConditionStatus
		reason      string
	}{
		"no run yet":            {facts: backupFacts{}, want: metav1.ConditionTrue, reason: ocsv1.ReasonWaitingForSchedule},
		"pool missing":          {facts: backupFacts{poolMissing: true}, want: metav1.ConditionFalse, reason: ocsv1.ReasonPoolNotFound},
		"pool not reported yet": {facts: backupFacts{waitingForPool: true}, want: metav1.ConditionFalse, reason: ocsv1.ReasonPoolNotReady},
		"complete snapshot": {facts: backupFacts{outcome: &backupOutcome{Manifest: manifest}},
			want: metav1.ConditionTrue, reason: ocsv1.ReasonBackupSucceeded},
		"partial snapshot": {facts: backupFacts{outcome: &backupOutcome{Manifest: manifest, Skipped: []backupSkip{{"ocs2", "state Unreachable"}}}},
			want: metav1.ConditionTrue, reason: ocsv1.ReasonBackupPartial},
		"failed run": {facts: backupFacts{outcome: &backupOutcome{Err: errors.New("no server")}},
			want: metav1.ConditionFalse, reason: ocsv1.ReasonBackupFailed},
		"storage unwritable": {facts: backupFacts{outcome: &backupOutcome{Err: errors.New("EROFS"), StorageUnavailable: true}},
			want: metav1.ConditionFalse, reason: ocsv1.ReasonStorageUnavailable},
		"overdue wins over a failed run": {facts: backupFacts{overdue: true, outcome: &backupOutcome{Err: errors.New("no server")}},
			want: metav1.ConditionFalse, reason: ocsv1.ReasonBackupOverdue},
		"no run this pass keeps the last outcome": {prev: &metav1.Condition{Status: metav1.ConditionFalse, Reason: ocsv1.ReasonBackupFailed},
			want: metav1.ConditionFalse, reason: ocsv1.ReasonBackupFailed},
		"the pool is back: the last success shows again": {prev: &metav1.Condition{Status: metav1.ConditionFalse, Reason: ocsv1.ReasonPoolNotFound},
			lastSuccess: &lastSuccess, want: metav1.ConditionTrue, reason: ocsv1.ReasonBackupSucceeded},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b := cbUnitBackup("/backups")
			b.Status.LastSuccessfulTime = tt.lastSuccess
			tt.facts.next = next
			got := backupReady(b, tt.facts, tt.prev)
			if got.status != tt.want || got.reason != tt.reason {
				t.Errorf("backupReady() = %s %s (%s), want %s %s", got.status, got.reason, got.message, tt.want, tt.reason)
			}
		})
	}
}

func TestRunBackupKeepsContactsWhenConfigurationFails(t *testing.T) {
	fake := cbFake(2, 1, "ocs1", "ocs2")
	fake.FailOperation(ocs.OpExportConfiguration, errors.New("lcscmd failed"))
	pool := cbUnitPool(map[string]ocsv1.ServerState{"ocs1": ocsv1.ServerHealthy, "ocs2": ocsv1.ServerHealthy}, "ocs1", "ocs2")
	out := cbReconciler(fake).runBackup(context.Background(), cbUnitBackup(t.TempDir()), pool, cbTime(10, 15, 0))
	if out.Err != nil || out.Manifest.Users != 4 || len(out.Skipped) != 0 {
		t.Fatalf("outcome = %+v, want a snapshot of every user", out)
	}
	if !reflect.DeepEqual(out.ConfigFailed, []string{"ocs1", "ocs2"}) {
		t.Errorf("ConfigFailed = %v", out.ConfigFailed)
	}
	if d := backupDegraded(backupFacts{outcome: &out}, nil, nil); d.status != metav1.ConditionTrue || d.reason != ocsv1.ReasonBackupPartial {
		t.Errorf("Degraded = %+v, want True BackupPartial", d)
	}
}

func TestBackupDegraded(t *testing.T) {
	m := &backup.Manifest{Name: "snap"}
	partial := &metav1.Condition{Status: metav1.ConditionTrue, Reason: ocsv1.ReasonBackupPartial}
	corrupt := &metav1.Condition{Status: metav1.ConditionFalse, Reason: ocsv1.ReasonBlobCorrupt, Message: "Snapshot s has 1 damaged object(s)."}
	verified := &metav1.Condition{Status: metav1.ConditionTrue, Reason: ocsv1.ReasonSnapshotVerified}
	fromDrill := &metav1.Condition{Status: metav1.ConditionTrue, Reason: ocsv1.ReasonBlobCorrupt}
	tests := map[string]struct {
		outcome  *backupOutcome
		prev     *metav1.Condition
		verified *metav1.Condition
		want     metav1.ConditionStatus
		reason   string
	}{
		"first pass": {want: metav1.ConditionFalse},
		"a failed drill sets it with its reason": {
			outcome: &backupOutcome{Manifest: m}, verified: corrupt, want: metav1.ConditionTrue, reason: ocsv1.ReasonBlobCorrupt,
		},
		"a failed drill outweighs a partial snapshot": {
			outcome: &backupOutcome{Manifest: m, Skipped: []backupSkip{{"ocs2", "down"}}}, verified: corrupt, want: metav1.ConditionTrue, reason: ocsv1.ReasonBlobCorrupt,
		},
		"a passed drill clears what a failed one set":       {prev: fromDrill, verified: verified, want: metav1.ConditionFalse},
		"a passed drill leaves a partial snapshot degraded": {prev: partial, verified: verified, want: metav1.ConditionTrue, reason: ocsv1.ReasonBackupPartial},
		"a complete snapshot clears it":                     {outcome: &backupOutcome{Manifest: m}, prev: partial, want: metav1.ConditionFalse},
		"a partial snapshot sets it":                        {outcome: &backupOutcome{Manifest: m, Skipped: []backupSkip{{"ocs2", "down"}}}, want: metav1.ConditionTrue},
		"a failed run leaves it":                            {outcome: &backupOutcome{Err: errors.New("x")}, prev: partial, want: metav1.ConditionTrue},
		"a pass without a run leaves it":                    {prev: partial, want: metav1.ConditionTrue},
		"an Unknown condition becomes False":                {prev: &metav1.Condition{Status: metav1.ConditionUnknown, Reason: ocsv1.ReasonInitializing}, want: metav1.ConditionFalse},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := backupDegraded(backupFacts{outcome: tt.outcome}, tt.prev, tt.verified)
			if got.status != tt.want || tt.reason != "" && got.reason != tt.reason {
				t.Errorf("backupDegraded() = %+v, want %s %s", got, tt.want, tt.reason)
			}
		})
	}
}

func TestStorageFixedChecksAtMostOnceAMinute(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(cbTime(10, 0, 0))
	r := &ContactBackupReconciler{Clock: clk}
	b := cbUnitBackup(t.TempDir())
	if r.storageFixed(ctx, b) {
		t.Fatal("storageFixed() is true without a Stalled condition")
	}
	setCondition(b, ocsv1.ConditionStalled, metav1.ConditionTrue, ocsv1.ReasonStorageUnavailable, "x")
	steps := []struct {
		advance time.Duration
		want    bool
	}{
		{0, true},                 // first look: the directory is writable
		{30 * time.Second, false}, // every status write wakes the controller: no look yet
		{31 * time.Second, true},
	}
	for i, s := range steps {
		clk.Step(s.advance)
		if got := r.storageFixed(ctx, b); got != s.want {
			t.Errorf("step %d: storageFixed() = %v, want %v", i, got, s.want)
		}
	}
	delete(r.storageChecks, client.ObjectKeyFromObject(b)) // what a changed Secret does
	if !r.storageFixed(ctx, b) {
		t.Error("storageFixed() after a Secret change = false, want a look at once")
	}
}

func TestBackupStoreStatus(t *testing.T) {
	st := backup.Stats{StoredBytes: 1000, Objects: 12, LogicalBytes: 9000, UniqueBytes: 4000}
	got := backupStoreStatus(st, 300, nil)
	want := &ocsv1.BackupStoreStatus{Bytes: 1000, Objects: 12, LastSnapshotNewBytes: 300, LogicalBytes: 9000, DeduplicationRatio: "2.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backupStoreStatus() = %+v, want %+v", got, want)
	}
	if got := backupStoreStatus(backup.Stats{}, 0, errors.New("unreadable")); got != nil {
		t.Errorf("backupStoreStatus() without figures = %+v, want nil (status keeps the last figures)", got)
	}
	if got := backupStoreStatus(backup.Stats{}, 0, nil); got.DeduplicationRatio != "" {
		t.Errorf("an empty store has ratio %q, want none", got.DeduplicationRatio)
	}
}
