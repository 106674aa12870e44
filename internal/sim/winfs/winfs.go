package winfs

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

// TempDir is %TEMP% of the account the operator logs on with.
const TempDir = `C:\Users\ocsadmin\AppData\Local\Temp`

// FS holds files by their Windows path. Paths compare case-insensitively and with either
// slash, as NTFS does; directories exist implicitly.
type FS struct {
	mu    sync.RWMutex
	files map[string]file
}

type file struct {
	name string // as first written, for listings
	data []byte
}

// New returns an empty file system.
func New() *FS { return &FS{files: map[string]file{}} }

func key(path string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(path), "/", `\`))
}

// ValidPath reports whether path is an absolute drive path that Windows would accept.
func ValidPath(path string) bool {
	if len(path) < 3 || path[1] != ':' || (path[2] != '\\' && path[2] != '/') {
		return false
	}
	c := path[0] | 0x20
	if c < 'a' || c > 'z' {
		return false
	}
	return !strings.ContainsAny(path[2:], `<>"|?*`+"\x00")
}

// ReadFile returns a copy of the file's bytes; a missing file gives an error wrapping fs.ErrNotExist.
func (f *FS) ReadFile(path string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fl, ok := f.files[key(path)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	return append([]byte(nil), fl.data...), nil
}

// ReadFileShared returns the file's bytes themselves, without a copy: the caller must not modify
// them. A file's bytes are never changed in place (WriteFile replaces them, AppendFile writes
// only past their end), so they stay as read. An export of thousands of users is tens of
// megabytes, which the emulator would otherwise copy on every read.
func (f *FS) ReadFileShared(path string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fl, ok := f.files[key(path)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	// The capacity is cut so that an append by the caller cannot write into the file.
	return fl.data[:len(fl.data):len(fl.data)], nil
}

// WriteFileOwned is WriteFile for bytes the caller gives away: it keeps data itself, which the
// caller must not modify afterwards.
func (f *FS) WriteFileOwned(path string, data []byte) error {
	if !ValidPath(path) {
		return fmt.Errorf("%s: %w", path, fs.ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[key(path)] = file{name: path, data: data[:len(data):len(data)]}
	return nil
}

// WriteFile creates or replaces a file.
func (f *FS) WriteFile(path string, data []byte) error {
	if !ValidPath(path) {
		return fmt.Errorf("%s: %w", path, fs.ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[key(path)] = file{name: path, data: append([]byte(nil), data...)}
	return nil
}

// AppendFile appends to a file, creating it when missing.
func (f *FS) AppendFile(path string, data []byte) error {
	if !ValidPath(path) {
		return fmt.Errorf("%s: %w", path, fs.ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(path)
	fl, ok := f.files[k]
	if !ok {
		fl.name = path
	}
	fl.data = append(fl.data, data...)
	f.files[k] = fl
	return nil
}

// Remove deletes a file; a missing file gives an error wrapping fs.ErrNotExist.
func (f *FS) Remove(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(path)
	if _, ok := f.files[k]; !ok {
		return fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	delete(f.files, k)
	return nil
}

// Exists reports whether a file exists.
func (f *FS) Exists(path string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, ok := f.files[key(path)]
	return ok
}

// List returns the paths of all files, sorted, for tests and audits.
func (f *FS) List() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]string, 0, len(f.files))
	for _, fl := range f.files {
		out = append(out, fl.name)
	}
	sort.Strings(out)
	return out
}

// ListUnder returns the paths of the files below dir, sorted: tests look for files left
// behind in %TEMP% without counting the programs a server has installed.
func (f *FS) ListUnder(dir string) []string {
	prefix := strings.TrimSuffix(key(dir), `\`) + `\`
	var out []string
	for _, p := range f.List() {
		if strings.HasPrefix(key(p), prefix) {
			out = append(out, p)
		}
	}
	return out
}
