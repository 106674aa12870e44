package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Store is where bytes live: a directory tree (FileStore) or an S3 bucket (S3Store). Keys are
// slash-separated relative paths.
type Store interface {
	// Put stores data under key atomically: readers see the old value or the new one, never a part.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the bytes under key; the error wraps fs.ErrNotExist when the key is missing.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Usage returns the number and total size of the objects whose keys start with prefix.
	Usage(ctx context.Context, prefix string) (Usage, error)
}

// A Batcher is a Store whose writes can be made durable together: one flush for a batch of
// thousands of blobs instead of one per blob (a FileStore's per-object durability costs two
// fsyncs, each a journal commit and usually a device cache flush).
type Batcher interface {
	// NewBatch starts a batch of writes.
	NewBatch() Batch
}

// A Batch writes objects that become durable together.
type Batch interface {
	// Put stores data under key atomically (readers see the old value or the new one), but until
	// Sync returns a crash may lose the object or leave it damaged under its key.
	Put(ctx context.Context, key string, data []byte) error
	// Sync makes every object the batch wrote durable, and may make more durable (see FileStore).
	Sync(ctx context.Context) error
}

// Usage is what a part of a store holds.
type Usage struct {
	Objects int
	Bytes   int64
}

// Locker is a Store that protects objects from deletion for a while (S3 Object Lock).
type Locker interface {
	// KeepLocked makes the existing object of key stay protected as long as one written now.
	KeepLocked(ctx context.Context, key string) error
}

var (
	// ErrInvalidKey is returned for keys that are empty, absolute, not clean or that would escape
	// the store's root.
	ErrInvalidKey = errors.New("invalid key")
	// ErrUnavailable wraps the errors of a store that could not be reached or refused a request
	// (network, credentials, missing bucket): the data may well be intact.
	ErrUnavailable = errors.New("backup store unavailable")
)

// tmpPrefix marks files being written; List never returns them.
const tmpPrefix = ".tmp-"

// FileStore is a Store in a directory tree, one file per key.
type FileStore struct {
	root string
	// noSync skips the fsyncs, for tests that measure space rather than durability.
	noSync bool
	// syncFile makes one open file or directory durable: (*os.File).Sync, fsync(2).
	syncFile func(f *os.File) error
	// syncFS makes all the data and metadata of the filesystem holding the open file durable:
	// syncfs(2) on Linux; nil elsewhere, where a batch syncs each file as it writes it.
	syncFS func(f *os.File) error
}

var (
	_ Store   = (*FileStore)(nil)
	_ Batcher = (*FileStore)(nil)
)

// NewFileStore returns a FileStore rooted at root, creating the directory if needed.
func NewFileStore(root string) (*FileStore, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving backup root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("creating backup root: %w", err)
	}
	return &FileStore{root: abs, syncFile: (*os.File).Sync, syncFS: syncFilesystem}, nil
}

func validKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") || path.Clean(key) != key {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, tmpPrefix) {
			return false
		}
	}
	return true
}

func (s *FileStore) path(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file in the target directory, syncs it, renames it over the key and
// syncs the directory, so that after a crash the key holds either nothing or all of data.
func (s *FileStore) Put(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := s.put(p, data); err != nil {
		return fmt.Errorf("writing %s: %w", key, err)
	}
	return nil
}

func (s *FileStore) put(p string, data []byte) error {
	dirs, err := s.rename(p, data, true)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := s.syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// rename writes data to a temporary file in p's directory, syncs it when syncFile is set, and
// renames it to p. It returns the directories whose entries changed: p's own, and its parent
// when p's directory was created (a new directory is durable only once its entry in the parent
// is).
func (s *FileStore) rename(p string, data []byte, syncFile bool) ([]string, error) {
	dir := filepath.Dir(p)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if syncFile {
		if err := s.sync(f); err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return []string{dir, filepath.Dir(dir)}, nil
	}
	return []string{dir}, nil
}

func (s *FileStore) sync(f *os.File) error {
	if s.noSync {
		return nil
	}
	return s.syncFile(f)
}

func (s *FileStore) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := s.syncFile(d); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

// NewBatch starts a batch of writes made durable by one Sync.
func (s *FileStore) NewBatch() Batch { return &fileBatch{s: s, dirs: map[string]bool{}} }

// fileBatch defers the durability of its files to Sync. Where syncfs(2) exists, Put writes
// and renames without an fsync, and Sync makes the whole filesystem durable at once, the
// batch's files and directory entries among it; elsewhere Put fsyncs each file before its
// rename, as FileStore.Put does. Either way Sync then fsyncs each directory the batch changed,
// once. Until Sync, a crash may leave a key empty or damaged (the rename may reach the disk
// before the data): a reader that checks content, as the repository does against digests,
// tells such an object from a good one.
type fileBatch struct {
	s *FileStore

	mu   sync.Mutex
	dirs map[string]bool
}

func (b *fileBatch) Put(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := b.s.path(key)
	if err != nil {
		return err
	}
	dirs, err := b.s.rename(p, data, b.s.syncFS == nil)
	if err != nil {
		return fmt.Errorf("writing %s: %w", key, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range dirs {
		b.dirs[d] = true
	}
	return nil
}

// Sync syncs the filesystem (syncfs(2), even when the batch wrote nothing: see SnapshotWriter's
// Commit for why), then each directory the batch changed.
func (b *fileBatch) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	dirs := make([]string, 0, len(b.dirs))
	for d := range b.dirs {
		dirs = append(dirs, d)
	}
	clear(b.dirs)
	b.mu.Unlock()
	if b.s.noSync {
		return nil
	}
	if b.s.syncFS != nil {
		root, err := os.Open(b.s.root)
		if err != nil {
			return fmt.Errorf("syncing the backup store: %w", err)
		}
		err = b.s.syncFS(root)
		_ = root.Close()
		if err != nil {
			return fmt.Errorf("syncing the backup store: %w", err)
		}
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := b.s.syncDir(d); err != nil {
			return fmt.Errorf("syncing the backup store: %w", err)
		}
	}
	return nil
}

// Get reads the file of key.
func (s *FileStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return data, nil
}

// List walks only the directory that the prefix names, not the whole tree.
func (s *FileStore) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.walk(ctx, prefix, func(key string, _ fs.DirEntry) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys) // the walk's order differs from byte order when names contain '-' or '.'
	return keys, nil
}

// Usage sums the sizes of the files List would return.
func (s *FileStore) Usage(ctx context.Context, prefix string) (Usage, error) {
	var u Usage
	err := s.walk(ctx, prefix, func(_ string, d fs.DirEntry) error {
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted during the walk
		}
		if err != nil {
			return err
		}
		u.Objects++
		u.Bytes += info.Size()
		return nil
	})
	return u, err
}

// walk calls fn for every regular file whose key starts with prefix, temporary files excepted.
func (s *FileStore) walk(ctx context.Context, prefix string, fn func(key string, d fs.DirEntry) error) error {
	base := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		if !validKey(prefix[:i]) {
			return fmt.Errorf("%w: prefix %q", ErrInvalidKey, prefix)
		}
		base = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == base {
				return filepath.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			return fn(key, d)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing %q: %w", prefix, err)
	}
	return nil
}

// Delete removes the file of key.
func (s *FileStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}
