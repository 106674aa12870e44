package backup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncLog records, in order, the syncs a FileStore asks for: "fs" for a filesystem sync, the
// path of a directory, or "file <dir>" for a regular file in dir.
type syncLog struct {
	mu     sync.Mutex
	events []string
}

func (l *syncLog) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *syncLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// loggedRepo is a repository on a FileStore whose syncs are logged instead of done (withFS:
// a filesystem sync exists, as on Linux).
func loggedRepo(t *testing.T, withFS bool) (*Repository, string, *syncLog) {
	t.Helper()
	root := t.TempDir()
	s, err := NewFileStore(root)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncLog{}
	s.syncFile = func(f *os.File) error {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if info.IsDir() {
			log.add(f.Name())
		} else {
			log.add("file " + filepath.Dir(f.Name()))
		}
		return nil
	}
	s.syncFS = nil
	if withFS {
		s.syncFS = func(*os.File) error { log.add("fs"); return nil }
	}
	return NewRepository(s, "default/nightly"), root, log
}

// count returns how many events satisfy match, and the index of the last one (-1 if none).
func count(events []string, match func(string) bool) (int, int) {
	n, last := 0, -1
	for i, e := range events {
		if match(e) {
			n, last = n+1, i
		}
	}
	return n, last
}

func TestSnapshotBlobsBecomeDurableTogetherBeforeTheManifest(t *testing.T) {
	for _, withFS := range []bool{true, false} {
		name := map[bool]string{true: "syncfs", false: "fsync per file"}[withFS]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			repo, root, log := loggedRepo(t, withFS)
			users := pool(2, 150, v0)
			first, err := repo.Write(ctx, "p", t0, users, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			events := log.take()
			manifestDir := filepath.Join(root, "default", "nightly", "snapshots")
			blobFiles, _ := count(events, func(e string) bool {
				return strings.HasPrefix(e, "file ") && !strings.HasSuffix(e, manifestDir)
			})
			manifests, manifestAt := count(events, func(e string) bool { return e == "file "+manifestDir })
			fsSyncs, lastFS := count(events, func(e string) bool { return e == "fs" })
			wantBlobFiles, wantFS := 0, 1
			if !withFS {
				wantBlobFiles, wantFS = len(users)+1, 0 // every user's blob and the user table
			}
			if blobFiles != wantBlobFiles || fsSyncs != wantFS || manifests != 1 {
				t.Fatalf("blob file syncs %d, filesystem syncs %d, manifest syncs %d; want %d, %d, 1",
					blobFiles, fsSyncs, manifests, wantBlobFiles, wantFS)
			}
			if lastFS > manifestAt {
				t.Fatalf("the filesystem sync came after the manifest: %v", events)
			}
			checkDirectorySyncs(t, events, manifestAt, filepath.Join(root, "default", "nightly", "blobs"))

			// Unchanged users write no blob; the snapshot still syncs once before its manifest.
			second, err := repo.Write(ctx, "p", t0.Add(time.Hour), users, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			events = log.take()
			if n, _ := count(events, func(e string) bool { return e == "fs" }); n != wantFS {
				t.Fatalf("second snapshot: %d filesystem syncs, want %d: %v", n, wantFS, events)
			}
			if n, _ := count(events, func(e string) bool { return strings.HasPrefix(e, "file ") }); n != 1 {
				t.Fatalf("second snapshot synced %d files, want only its manifest: %v", n, events)
			}
			fresh := NewRepository(repo.store, "default/nightly")
			for _, m := range []*Manifest{first, second} {
				for _, u := range []string{sip(0), sip(299)} {
					if got, err := fresh.ReadUser(ctx, m, u); err != nil || !bytes.Equal(got, users[u].Data) {
						t.Fatalf("ReadUser(%s, %s): %v", m.Name, u, err)
					}
				}
			}
		})
	}
}

// checkDirectorySyncs asserts that each blob directory was synced once, before the manifest.
func checkDirectorySyncs(t *testing.T, events []string, manifestAt int, blobs string) {
	t.Helper()
	seen := map[string]bool{}
	for i, e := range events {
		if !strings.HasPrefix(e, blobs) {
			continue
		}
		if seen[e] {
			t.Fatalf("directory %s synced twice", e)
		}
		seen[e] = true
		if i > manifestAt {
			t.Fatalf("directory %s synced after the manifest", e)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("blob directories synced: %v", seen)
	}
}

// A crash between a blob's rename and the filesystem sync can leave the blob empty or damaged
// under its name with no manifest referring to it; the next snapshot must not trust it.
func TestLeftoversOfACrashedRunAreRewritten(t *testing.T) {
	ctx := context.Background()
	repo, root, _ := loggedRepo(t, true)
	users := pool(1, 40, v0)
	crashed, err := repo.Write(ctx, "p", t0, users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What the crash left: the blobs (one user's empty, the user table damaged), no manifest.
	if err := os.Remove(filepath.Join(root, filepath.FromSlash(repo.manifestKey(crashed.Name)))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobPath(root, repo, users[sip(3)].Data), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(root, filepath.FromSlash(repo.blobKey(crashed.index)))
	if err := os.WriteFile(table, compress([]byte("{}")), 0o600); err != nil {
		t.Fatal(err)
	}

	repo = NewRepository(repo.store, "default/nightly") // the next process: nothing cached
	m, err := repo.Write(ctx, "p", t0.Add(time.Hour), users, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.index != crashed.index {
		t.Fatalf("user table %s, want the same content as the crashed run's %s", m.index, crashed.index)
	}
	repo = NewRepository(repo.store, "default/nightly")
	for u, want := range users {
		if got, err := repo.ReadUser(ctx, m, u); err != nil || !bytes.Equal(got, want.Data) {
			t.Fatalf("ReadUser(%s): %v", u, err)
		}
	}
}
