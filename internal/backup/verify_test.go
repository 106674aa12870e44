package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// acceptAll is a check that finds nothing wrong.
func acceptAll(string, []byte) error { return nil }

func TestVerify(t *testing.T) {
	ctx := context.Background()
	users := pool(2, 20, v0)
	config := []ConfigData{{Name: "global.xml", Data: []byte("<global/>")}}
	damage := func(t *testing.T, path string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		harm          func(t *testing.T, repo *Repository, root string, m *Manifest)
		check         CheckFunc
		wantCorrupt   int
		wantDocuments int
		wantFirst     string // substring of the first problem
	}{
		"an intact snapshot verifies": {check: acceptAll},
		"a corrupted user blob is reported with its user": {
			harm: func(t *testing.T, repo *Repository, root string, _ *Manifest) {
				damage(t, blobPath(root, repo, users[sip(7)].Data))
			},
			check:       acceptAll,
			wantCorrupt: 1, wantFirst: "contacts of " + sip(7) + ":",
		},
		"a missing user blob is corruption": {
			harm: func(t *testing.T, repo *Repository, root string, _ *Manifest) {
				if err := os.Remove(blobPath(root, repo, users[sip(3)].Data)); err != nil {
					t.Fatal(err)
				}
			},
			check:       acceptAll,
			wantCorrupt: 1, wantFirst: sip(3),
		},
		"a corrupted configuration file is reported": {
			harm: func(t *testing.T, repo *Repository, root string, _ *Manifest) {
				damage(t, blobPath(root, repo, config[0].Data))
			},
			check:       acceptAll,
			wantCorrupt: 1, wantFirst: "configuration file global.xml",
		},
		"a corrupted user table stops at the table": {
			harm: func(t *testing.T, repo *Repository, root string, m *Manifest) {
				damage(t, root+"/"+repo.blobKey(m.index))
			},
			check:       acceptAll,
			wantCorrupt: 1, wantFirst: "user table",
		},
		"documents the check refuses are reported apart from corruption": {
			check: func(key string, data []byte) error {
				if key == sip(4) || key == sip(9) {
					return errors.New("does not encode")
				}
				return nil
			},
			wantDocuments: 2, wantFirst: "contacts of " + sip(4) + ": does not encode",
		},
		"corruption comes first and both are counted": {
			harm: func(t *testing.T, repo *Repository, root string, _ *Manifest) {
				damage(t, blobPath(root, repo, users[sip(30)].Data))
			},
			check: func(key string, _ []byte) error {
				if key == sip(1) {
					return errors.New("does not encode")
				}
				return nil
			},
			wantCorrupt: 1, wantDocuments: 1, wantFirst: sip(30),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			repo, root := newFastRepo(t)
			m, err := repo.Write(ctx, "p", t0, users, nil, config)
			if err != nil {
				t.Fatal(err)
			}
			if tt.harm != nil {
				tt.harm(t, repo, root, m)
			}
			// A fresh repository: the writer's cache must not hide damage to the table.
			fresh := NewRepository(repo.store, repo.prefix)
			rep, err := fresh.Verify(ctx, m, tt.check)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Corrupt != tt.wantCorrupt || rep.Documents != tt.wantDocuments {
				t.Fatalf("corrupt %d documents %d, want %d and %d: %v", rep.Corrupt, rep.Documents, tt.wantCorrupt, tt.wantDocuments, rep.Problems)
			}
			if rep.OK() != (tt.wantCorrupt+tt.wantDocuments == 0) {
				t.Errorf("OK() = %v with problems %v", rep.OK(), rep.Problems)
			}
			if tt.wantFirst != "" && !strings.Contains(rep.Problems[0].String(), tt.wantFirst) {
				t.Errorf("first problem %q does not mention %q", rep.Problems[0], tt.wantFirst)
			}
			if tt.wantCorrupt+tt.wantDocuments == 0 && (rep.Users != len(users) || rep.Files != 1) {
				t.Errorf("read %d users and %d files, want %d and 1", rep.Users, rep.Files, len(users))
			}
		})
	}
}

func TestVerifyPassesEveryUsersVerifiedBytes(t *testing.T) {
	ctx := context.Background()
	repo, _ := newFastRepo(t)
	users := pool(2, 10, v0)
	m, err := repo.Write(ctx, "p", t0, users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]byte{}
	var mu sync.Mutex
	rep, err := repo.Verify(ctx, m, func(key string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		seen[key] = data
		return nil
	})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if len(seen) != len(users) {
		t.Fatalf("check saw %d users, want %d", len(seen), len(users))
	}
	for key, u := range users {
		if !bytes.Equal(seen[key], u.Data) {
			t.Errorf("check got other bytes for %s", key)
		}
	}
}

func TestVerifyBoundsTheProblemsListed(t *testing.T) {
	ctx := context.Background()
	repo, _ := newFastRepo(t)
	m, err := repo.Write(ctx, "p", t0, pool(1, 50, v0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := repo.Verify(ctx, m, func(string, []byte) error { return errors.New("no") })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Documents != 50 || len(rep.Problems) != maxProblems {
		t.Errorf("documents %d, problems listed %d; want 50 and %d", rep.Documents, len(rep.Problems), maxProblems)
	}
}

// failingStore fails every Get after the first n with a store error.
type failingStore struct {
	Store
	gets int
	n    int
}

func (f *failingStore) Get(ctx context.Context, key string) ([]byte, error) {
	f.gets++
	if f.gets > f.n {
		return nil, fmt.Errorf("%w: connection refused", ErrUnavailable)
	}
	return f.Store.Get(ctx, key)
}

func TestVerifyStopsWhenTheStoreFails(t *testing.T) {
	ctx := context.Background()
	repo, _ := newFastRepo(t)
	m, err := repo.Write(ctx, "p", t0, pool(1, 5, v0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := NewRepository(&failingStore{Store: repo.store, n: 1}, repo.prefix)
	if _, err := broken.Verify(ctx, m, acceptAll); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Verify = %v, want ErrUnavailable: a store that fails is not damage", err)
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	repo, root := newFastRepo(t)
	empty, err := repo.Stats(ctx)
	if err != nil || empty != (Stats{}) || empty.DeduplicationRatio() != 0 {
		t.Fatalf("Stats of an empty repository = %+v, %v", empty, err)
	}
	users := pool(2, 50, v0)
	first, err := repo.Write(ctx, "p", t0, users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// One user changes: the second snapshot repeats 99 documents and adds one.
	users[sip(5)] = UserData{Server: "ocs2", Data: contactExport(5, 1, 20), Contacts: 20}
	second, err := repo.Write(ctx, "p", t0.Add(time.Hour), users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := repo.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var unique int64
	for _, u := range users {
		unique += int64(len(u.Data))
	}
	unique += int64(len(contactExport(5, 0, 20)))
	want := Stats{Snapshots: 2, LogicalBytes: first.Bytes + second.Bytes, UniqueBytes: unique}
	if st.Snapshots != want.Snapshots || st.LogicalBytes != want.LogicalBytes || st.UniqueBytes != want.UniqueBytes {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if r := st.DeduplicationRatio(); r < 1.9 || r > 2 {
		t.Errorf("DeduplicationRatio = %.3f, want just under 2 for two snapshots sharing 99 of 100 documents", r)
	}
	if disk := dirBytes(t, root); st.StoredBytes != disk || st.Objects == 0 {
		t.Errorf("StoredBytes = %d over %d objects, the directory holds %d", st.StoredBytes, st.Objects, disk)
	}
	if first.Added+second.Added != st.StoredBytes {
		t.Errorf("the snapshots added %d + %d bytes, the store holds %d", first.Added, second.Added, st.StoredBytes)
	}
}
