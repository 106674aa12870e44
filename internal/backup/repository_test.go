package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 8, 15, 0, 0, time.UTC)

func newRepo(t *testing.T) (*Repository, string) {
	t.Helper()
	root := t.TempDir()
	fsStore, err := NewFileStore(root)
	if err != nil {
		t.Fatal(err)
	}
	return NewRepository(fsStore, "default/nightly"), root
}

// newFastRepo skips fsync: for tests about content and space, on machines where fsync is slow.
func newFastRepo(t *testing.T) (*Repository, string) {
	t.Helper()
	repo, root := newRepo(t)
	repo.store.(*FileStore).noSync = true
	return repo, root
}

func sip(i int) string { return fmt.Sprintf("sip:user%04d@corp.example.com", i) }

// pool returns users spread over servers ocs1, ocs2…; version[i] selects user i's content.
func pool(servers, perServer int, version func(i int) int) map[string]UserData {
	users := map[string]UserData{}
	for i := 0; i < servers*perServer; i++ {
		users[sip(i)] = UserData{Server: fmt.Sprintf("ocs%d", i%servers+1), Data: contactExport(i, version(i), 20), Contacts: 20}
	}
	return users
}

func v0(int) int { return 0 }

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	repo, _ := newRepo(t)
	users := pool(2, 5, v0)
	config := []ConfigData{{Name: "global.xml", Data: []byte("<global/>")}, {Server: "ocs1", Name: "machine.xml", Data: []byte("<m/>")}}
	servers := []ServerEntry{{Name: "ocs2"}, {Name: "ocs1"}, {Name: "ocs3", Skipped: true, Reason: "Unreachable"}}
	m, err := repo.Write(ctx, "pool-a", t0, users, servers, config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Name, "20261125T081500Z-") {
		t.Errorf("name %q does not start with the time", m.Name)
	}
	wantServers := []ServerEntry{{Name: "ocs1", Users: 5}, {Name: "ocs2", Users: 5}, {Name: "ocs3", Skipped: true, Reason: "Unreachable"}}
	if !reflect.DeepEqual(m.Servers, wantServers) {
		t.Errorf("Servers = %+v, want %+v", m.Servers, wantServers)
	}
	if m.Users != 10 || m.Contacts != 200 {
		t.Errorf("totals users %d contacts %d, want 10, 200", m.Users, m.Contacts)
	}

	ms, err := repo.List(ctx)
	if err != nil || len(ms) != 1 {
		t.Fatalf("List = %d manifests, %v", len(ms), err)
	}
	got := ms[0]
	if got.Name != m.Name || !got.Time.Equal(t0) || got.Pool != "pool-a" || got.Bytes != m.Bytes ||
		!reflect.DeepEqual(got.Servers, m.Servers) || !reflect.DeepEqual(got.Configuration, m.Configuration) {
		t.Errorf("listed manifest %+v differs from written %+v", got, m)
	}
	table, err := repo.Users(ctx, got)
	if err != nil || len(table) != len(users) {
		t.Fatalf("Users = %d entries, %v", len(table), err)
	}
	for s, u := range users {
		data, err := repo.ReadUser(ctx, got, s)
		if err != nil || !bytes.Equal(data, u.Data) {
			t.Fatalf("ReadUser(%s) = %d bytes, %v", s, len(data), err)
		}
		if table[s].Server != u.Server || table[s].Digest != digestOf(u.Data) {
			t.Fatalf("entry of %s = %+v", s, table[s])
		}
	}
	for _, f := range got.Configuration {
		data, err := repo.ReadConfig(ctx, f)
		if err != nil || len(data) != int(f.Bytes) {
			t.Fatalf("ReadConfig(%s) = %q, %v", f.Name, data, err)
		}
	}
	if _, err := repo.ReadUser(ctx, got, "sip:nobody@corp.example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadUser of an absent user: %v, want ErrNotFound", err)
	}
}

func TestDeltaManifests(t *testing.T) {
	ctx := context.Background()
	repo, _ := newFastRepo(t)
	first := pool(2, 100, v0)
	m1, err := repo.Write(ctx, "p", t0, first, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Change one user, remove one, add one: the next manifest shares the base.
	second := pool(2, 100, func(i int) int { return map[bool]int{true: 1}[i == 3] })
	delete(second, sip(7))
	second["sip:new@corp.example.com"] = UserData{Server: "ocs1", Data: []byte("<new/>")}
	m2, err := repo.Write(ctx, "p", t0.Add(time.Minute), second, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m2.index != m1.index || len(m2.changed) != 2 || len(m2.removed) != 1 {
		t.Fatalf("second snapshot: index shared %v, %d changed, %d removed; want shared, 2, 1",
			m2.index == m1.index, len(m2.changed), len(m2.removed))
	}
	ms, err := repo.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []map[string]UserData{second, first} {
		table, err := repo.Users(ctx, ms[i])
		if err != nil || len(table) != len(want) {
			t.Fatalf("snapshot %d: %d users, %v; want %d", i, len(table), err, len(want))
		}
		for s, u := range want {
			if table[s].Digest != digestOf(u.Data) {
				t.Fatalf("snapshot %d: %s has digest %s", i, s, table[s].Digest)
			}
		}
	}
	// A large change writes a new base.
	third := pool(2, 100, func(i int) int { return 2 })
	m3, err := repo.Write(ctx, "p", t0.Add(2*time.Minute), third, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m3.index == m1.index || len(m3.changed) != 0 {
		t.Errorf("third snapshot kept the old base with %d changes", len(m3.changed))
	}
}

func blobPath(root string, repo *Repository, data []byte) string {
	return filepath.Join(root, filepath.FromSlash(repo.blobKey(digestOf(data))))
}

func TestCorruptionFallsBack(t *testing.T) {
	ctx := context.Background()
	user := sip(1)
	oldData := []byte(strings.Repeat("<Contact Buddy=\"old@corp.example.com\"/>\n", 30))
	newData := []byte(strings.Repeat("<Contact Buddy=\"new@corp.example.com\"/>\n", 30))
	tests := map[string]func(t *testing.T, path string){
		"a flipped byte in the compressed data is detected": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"valid gzip of other bytes is detected by the digest": func(t *testing.T, path string) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(bytes.Replace(newData, []byte("new"), []byte("bad"), 1))
			_ = zw.Close()
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"a missing blob is detected": func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range tests {
		t.Run(name, func(t *testing.T) {
			repo, root := newRepo(t)
			older, err := repo.Write(ctx, "p", t0, map[string]UserData{user: {Server: "ocs1", Data: oldData}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			newer, err := repo.Write(ctx, "p", t0.Add(time.Hour), map[string]UserData{user: {Server: "ocs1", Data: newData}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			damage(t, blobPath(root, repo, newData))

			if _, err := repo.ReadUser(ctx, newer, user); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadUser of the damaged copy: %v, want ErrCorrupt", err)
			}
			data, m, skipped, err := repo.NewestFor(ctx, user, t0.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != older.Name || !bytes.Equal(data, oldData) {
				t.Errorf("NewestFor returned snapshot %s, want the older %s", m.Name, older.Name)
			}
			if len(skipped) != 1 || skipped[0].Name != newer.Name || !errors.Is(skipped[0].Err, ErrCorrupt) {
				t.Errorf("skipped = %+v, want the newer snapshot with ErrCorrupt", skipped)
			}
		})
	}
}

func TestNewestFor(t *testing.T) {
	ctx := context.Background()
	repo, root := newRepo(t)
	user := sip(1)
	var written []*Manifest
	for i := 0; i < 3; i++ {
		m, err := repo.Write(ctx, "p", t0.Add(time.Duration(i)*time.Hour), map[string]UserData{
			user: {Server: "ocs1", Data: []byte(fmt.Sprintf("v%d", i))},
		}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, m)
	}

	t.Run("honours notAfter", func(t *testing.T) {
		data, m, skipped, err := repo.NewestFor(ctx, user, t0.Add(90*time.Minute))
		if err != nil || m.Name != written[1].Name || string(data) != "v1" || len(skipped) != 0 {
			t.Fatalf("got %q from %v, skipped %v, err %v; want v1", data, m, skipped, err)
		}
	})
	t.Run("absent user is ErrNotFound", func(t *testing.T) {
		if _, _, _, err := repo.NewestFor(ctx, sip(2), t0.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("nothing old enough is ErrNotFound", func(t *testing.T) {
		if _, _, _, err := repo.NewestFor(ctx, user, t0.Add(-time.Second)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("an unreadable manifest is skipped and reported", func(t *testing.T) {
		path := filepath.Join(root, filepath.FromSlash(repo.manifestKey(written[2].Name)))
		if err := os.WriteFile(path, []byte("not gzip"), 0o600); err != nil {
			t.Fatal(err)
		}
		ms, err := repo.List(ctx)
		if !errors.Is(err, ErrCorrupt) || len(ms) != 2 {
			t.Fatalf("List = %d manifests, %v; want 2 and ErrCorrupt", len(ms), err)
		}
		data, m, skipped, err := repo.NewestFor(ctx, user, t0.Add(5*time.Hour))
		if err != nil || m.Name != written[1].Name || string(data) != "v1" {
			t.Fatalf("got %q from %v, err %v; want v1", data, m, err)
		}
		if len(skipped) != 1 || skipped[0].Name != written[2].Name {
			t.Fatalf("skipped = %+v, want %s", skipped, written[2].Name)
		}
		if _, err := repo.Prune(ctx, nil); err == nil {
			t.Fatal("Prune deleted blobs although a manifest is unreadable")
		}
	})
}

func TestNoTemporaryFilesLeft(t *testing.T) {
	ctx := context.Background()
	repo, root := newRepo(t)
	for i := 0; i < 3; i++ {
		if _, err := repo.Write(ctx, "p", t0.Add(time.Duration(i)*time.Minute), pool(2, 10, func(int) int { return i }), nil,
			[]ConfigData{{Name: "global.xml", Data: []byte("<g/>")}}); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPruneRemovesExactlyTheUnreferencedBlobs(t *testing.T) {
	ctx := context.Background()
	repo, _ := newFastRepo(t)
	// Versions: user 0 changes every snapshot, user 1 only in the last, the rest never.
	versions := []func(int) int{
		func(i int) int { return 0 },
		func(i int) int { return map[int]int{0: 1}[i] },
		func(i int) int { return map[int]int{0: 2}[i] },
		func(i int) int { return map[int]int{0: 3, 1: 3}[i] },
	}
	for k, v := range versions {
		cfg := []ConfigData{{Name: "global.xml", Data: []byte(fmt.Sprintf("<g v=%d/>", k%2))}}
		if _, err := repo.Write(ctx, "p", t0.Add(time.Duration(k)*time.Hour), pool(1, 10, v), nil, cfg); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := repo.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep, drop := Retain(ms, 2, 0, t0.Add(24*time.Hour))
	if len(keep) != 2 || len(drop) != 2 {
		t.Fatalf("Retain kept %d dropped %d, want 2 and 2", len(keep), len(drop))
	}

	before, err := repo.blobSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for d := range before {
		want[d] = true
	}
	for _, m := range keep {
		delete(want, m.index)
		table, err := repo.Users(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range table {
			delete(want, e.Digest)
		}
		for _, f := range m.Configuration {
			delete(want, f.Digest)
		}
	}
	// Versions 0 and 1 of user 0 are referenced only by the dropped snapshots.
	if len(want) != 2 {
		t.Fatalf("test setup: %d unreferenced blobs, want 2", len(want))
	}

	removed, err := repo.Prune(ctx, drop)
	if err != nil {
		t.Fatal(err)
	}
	after, err := repo.blobSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed != len(want) || len(after) != len(before)-len(want) {
		t.Fatalf("Prune removed %d (%d → %d blobs), want %d", removed, len(before), len(after), len(want))
	}
	for d := range want {
		if after[d] {
			t.Errorf("unreferenced blob %s survived", d)
		}
	}
	ms, err = repo.List(ctx)
	if err != nil || len(ms) != 2 {
		t.Fatalf("List after Prune = %d, %v", len(ms), err)
	}
	for _, m := range ms {
		for s := range pool(1, 10, v0) {
			if _, err := repo.ReadUser(ctx, m, s); err != nil {
				t.Fatalf("kept snapshot %s lost %s: %v", m.Name, s, err)
			}
		}
	}
}

func dirBytes(t *testing.T, root string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func TestUnchangedUsersCostNoSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2,000 files")
	}
	ctx := context.Background()
	repo, root := newFastRepo(t)
	const servers, perServer, changing = 2, 1000, 20 // 1% of 2,000 users change between snapshots
	version := make([]int, servers*perServer)
	var one int64
	for k := 0; k < 10; k++ {
		for j := 0; j < changing && k > 0; j++ {
			version[(k*7919+j*104729)%len(version)]++ // a deterministic spread of changed users
		}
		if _, err := repo.Write(ctx, "p", t0.Add(time.Duration(k)*15*time.Minute), pool(servers, perServer, func(i int) int { return version[i] }), nil, nil); err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			one = dirBytes(t, root)
		}
	}
	total := dirBytes(t, root)
	t.Logf("one snapshot %d bytes, ten snapshots %d bytes (%.3f×)", one, total, float64(total)/float64(one))
	if float64(total) >= 1.15*float64(one) {
		t.Fatalf("ten snapshots take %d bytes, ≥ 1.15 × one snapshot (%d)", total, one)
	}
}

func TestCorruptBaseTableIsRewritten(t *testing.T) {
	ctx := context.Background()
	repo, root := newFastRepo(t)
	users := pool(1, 5, v0)
	first, err := repo.Write(ctx, "p", t0, users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, filepath.FromSlash(repo.blobKey(first.index)))
	if err := os.WriteFile(path, compress([]byte("{}")), 0o600); err != nil {
		t.Fatal(err)
	}
	repo = NewRepository(repo.store, "default/nightly") // a fresh process: nothing cached
	if _, err := repo.ReadUser(ctx, first, sip(0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadUser through a corrupt table: %v, want ErrCorrupt", err)
	}
	second, err := repo.Write(ctx, "p", t0.Add(time.Minute), users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The table is unchanged, so the new snapshot rewrote the same blob, healing the first one.
	repo = NewRepository(repo.store, "default/nightly")
	for _, m := range []*Manifest{second, first} {
		data, err := repo.ReadUser(ctx, m, sip(0))
		if err != nil || !bytes.Equal(data, users[sip(0)].Data) {
			t.Fatalf("ReadUser from %s after the rewrite: %v", m.Name, err)
		}
	}
}

// Regression: a snapshot that reused a damaged blob of an unchanged user carried the damage
// forward, so falling back to an older snapshot could never help.
func TestWriteRepairsDamagedReusedBlob(t *testing.T) {
	ctx := context.Background()
	repo, root := newRepo(t)
	user := sip(1)
	data := []byte(strings.Repeat("<Contact Buddy=\"same@corp.example.com\"/>\n", 30))
	first, err := repo.Write(ctx, "p", t0, map[string]UserData{user: {Server: "ocs1", Data: data}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := blobPath(root, repo, data)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	second, err := repo.Write(ctx, "p", t0.Add(time.Hour), map[string]UserData{user: {Server: "ocs1", Data: data}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Manifest{second, first} {
		got, err := repo.ReadUser(ctx, m, user)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadUser from %s after the next snapshot: %v; want the blob rewritten", m.Name, err)
		}
	}
}
