package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// UserData is one user's contact export as taken from its home server.
type UserData struct {
	Server   string
	Data     []byte
	Contacts int
}

// ConfigData is one configuration export file of a server (Server empty for pool-wide files).
type ConfigData struct {
	Server string
	Name   string
	Data   []byte
}

// SkippedSnapshot is a snapshot passed over because it could not be read or verified.
type SkippedSnapshot struct {
	Name string
	Err  error
}

const (
	manifestSuffix = ".json.gz"
	// tableCacheSize bounds the decoded user tables kept in memory: snapshots share few bases, and
	// a table for 80,000 users weighs about 15 MB.
	tableCacheSize = 2
	// minRebase is the smallest difference that still triggers a new base table: below it a
	// delta costs less than rewriting the table.
	minRebase = 32
	// putWorkers is the number of blobs written at once.
	putWorkers = 8
)

// Repository is the set of snapshots of one ContactBackup, under a prefix of a Store.
type Repository struct {
	store  Store
	prefix string

	// mu serialises Write and Prune (see the package documentation).
	mu sync.Mutex

	cacheMu sync.Mutex
	tables  map[string]map[string]UserEntry
	order   []string
}

// NewRepository returns the repository stored under prefix ("" for the store's root).
func NewRepository(store Store, prefix string) *Repository {
	return &Repository{store: store, prefix: strings.Trim(prefix, "/"), tables: map[string]map[string]UserEntry{}}
}

func (r *Repository) key(parts ...string) string {
	return path.Join(append([]string{r.prefix}, parts...)...)
}

func (r *Repository) blobKey(d string) string { return r.key("blobs", d[:2], d) }

func (r *Repository) manifestKey(name string) string {
	return r.key("snapshots", name+manifestSuffix)
}

// Write stores a snapshot taken at time at: first every blob not yet present, then the manifest.
// The servers' user counts are computed from users; servers holding users but missing from
// servers are added. It is a SnapshotWriter given every user at once.
func (r *Repository) Write(ctx context.Context, pool string, at time.Time, users map[string]UserData, servers []ServerEntry, config []ConfigData) (*Manifest, error) {
	w, err := r.NewSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	sips := make([]string, 0, len(users))
	for sip := range users {
		sips = append(sips, sip)
	}
	sort.Strings(sips)
	stage := w.Stage("")
	for _, sip := range sips {
		u := users[sip]
		if err := stage.addAs(sip, u.Server, u.Data, u.Contacts); err != nil {
			return nil, err
		}
	}
	m, _, err := w.Commit(pool, at, servers, config)
	return m, err
}

// putManifest names m and stores it, last: it returns the bytes stored.
func (r *Repository) putManifest(ctx context.Context, m *Manifest) (int64, error) {
	// The name's digest part keeps two snapshots of the same second apart unless they are equal.
	unnamed, err := json.Marshal(m.toFile())
	if err != nil {
		return 0, fmt.Errorf("encoding manifest: %w", err)
	}
	m.Name = m.Time.Format(nameTimeLayout) + "-" + digestOf(unnamed)[:8]
	data, err := encodeManifest(m.toFile())
	if err != nil {
		return 0, err
	}
	if err := r.store.Put(ctx, r.manifestKey(m.Name), data); err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

// keepLocked asks a Locker store to keep every blob that m uses but this Write did not write
// (written holds those it did) as protected as the new ones: otherwise the lock of a blob that
// every snapshot shares would expire while the newest snapshot still needs it.
func (r *Repository) keepLocked(ctx context.Context, m *Manifest, reused, written map[string]bool) error {
	locker, ok := r.store.(Locker)
	if !ok {
		return nil
	}
	keep := map[string][]byte{}
	for d := range reused {
		if !written[d] {
			keep[d] = nil
		}
	}
	if m.index != "" && !written[m.index] {
		keep[m.index] = nil
	}
	return forEachDigest(ctx, sortedKeys(keep), func(ctx context.Context, d string) error {
		return locker.KeepLocked(ctx, r.blobKey(d))
	})
}

// forEachDigest runs fn for every digest on putWorkers goroutines and stops at the first error.
func forEachDigest(ctx context.Context, digests []string, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	errs := make(chan error, putWorkers)
	var wg sync.WaitGroup
	for i := 0; i < putWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				if err := fn(ctx, d); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, d := range digests {
		select {
		case work <- d:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		return err
	}
	return ctx.Err()
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

func serverEntries(servers []ServerEntry, perServer map[string]int) []ServerEntry {
	out := make([]ServerEntry, 0, len(servers))
	seen := map[string]bool{}
	for _, s := range servers {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		s.Users = perServer[s.Name]
		out = append(out, s)
	}
	for name, n := range perServer {
		if !seen[name] {
			out = append(out, ServerEntry{Name: name, Users: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// chooseBase makes m refer to the base table of the newest readable snapshot when the difference
// is small, and to a new base table otherwise.
func (r *Repository) chooseBase(ctx context.Context, m *Manifest, table map[string]UserEntry, existing map[string]bool, put func([]byte) (string, error)) error {
	if len(table) == 0 {
		return nil
	}
	if prev, err := r.newestReadable(ctx); err != nil {
		return err
	} else if prev != nil && prev.index != "" && existing[prev.index] {
		base, err := r.table(ctx, prev.index)
		if errors.Is(err, ErrCorrupt) {
			// Content addressing lets the rewrite below heal the damaged blob for every
			// snapshot that shares it, when the table is unchanged.
			delete(existing, prev.index)
		} else if err != nil {
			return err
		}
		if err == nil {
			changed := map[string]UserEntry{}
			removed := map[string]bool{}
			for sip, e := range table {
				if b, ok := base[sip]; !ok || b != e {
					changed[sip] = e
				}
			}
			for sip := range base {
				if _, ok := table[sip]; !ok {
					removed[sip] = true
				}
			}
			if len(changed)+len(removed) <= max(minRebase, len(table)/10) {
				m.index, m.changed, m.removed = prev.index, changed, removed
				return nil
			}
		}
	}
	raw, err := encodeIndex(table)
	if err != nil {
		return err
	}
	d, err := put(raw)
	if err != nil {
		return err
	}
	m.index, m.changed, m.removed = d, nil, nil
	r.remember(d, table)
	return nil
}

// newestReadable returns the newest manifest that decodes, looking at a few only: a base is an
// optimisation, and a run of unreadable manifests should not make Write slow.
func (r *Repository) newestReadable(ctx context.Context) (*Manifest, error) {
	names, err := r.names(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(names) - 1; i >= 0 && i >= len(names)-3; i-- {
		m, err := r.readManifest(ctx, names[i])
		if err == nil {
			return m, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, nil
}

// names returns the snapshot names present, oldest first (names start with their UTC time).
func (r *Repository) names(ctx context.Context) ([]string, error) {
	dir := r.key("snapshots") + "/"
	keys, err := r.store.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, k := range keys {
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, dir), manifestSuffix)
		if ok && validName(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (r *Repository) readManifest(ctx context.Context, name string) (*Manifest, error) {
	data, err := r.store.Get(ctx, r.manifestKey(name))
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, err
	}
	if m.Name != name {
		return nil, fmt.Errorf("%w: manifest names itself %q", ErrCorrupt, m.Name)
	}
	return m, nil
}

// blobSet returns the digests of the blobs present.
func (r *Repository) blobSet(ctx context.Context) (map[string]bool, error) {
	keys, err := r.store.List(ctx, r.key("blobs")+"/")
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		if d := path.Base(k); validDigest(d) && k == r.blobKey(d) {
			set[d] = true
		}
	}
	return set, nil
}

// readBlob returns the uncompressed bytes of blob d after checking their digest. A missing blob
// is corruption of the repository, since a manifest refers to it.
func (r *Repository) readBlob(ctx context.Context, d string) ([]byte, error) {
	data, err := r.store.Get(ctx, r.blobKey(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, err
	}
	raw, err := decompress(data)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if got := digestOf(raw); got != d {
		return nil, fmt.Errorf("%w: blob %s has digest %s", ErrCorrupt, d, got)
	}
	return raw, nil
}

// table returns the decoded base table d, shared and read-only.
func (r *Repository) table(ctx context.Context, d string) (map[string]UserEntry, error) {
	r.cacheMu.Lock()
	t, ok := r.tables[d]
	r.cacheMu.Unlock()
	if ok {
		return t, nil
	}
	raw, err := r.readBlob(ctx, d)
	if err != nil {
		return nil, err
	}
	t, err = decodeIndex(raw)
	if err != nil {
		return nil, fmt.Errorf("user table %s: %w", d, err)
	}
	r.remember(d, t)
	return t, nil
}

func (r *Repository) remember(d string, t map[string]UserEntry) {
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	if _, ok := r.tables[d]; ok {
		return
	}
	r.tables[d] = t
	r.order = append(r.order, d)
	if len(r.order) > tableCacheSize {
		delete(r.tables, r.order[0])
		r.order = r.order[1:]
	}
}

// list reads every manifest; those that cannot be read are returned apart.
func (r *Repository) list(ctx context.Context) ([]*Manifest, []SkippedSnapshot, error) {
	names, err := r.names(ctx)
	if err != nil {
		return nil, nil, err
	}
	var (
		ms  []*Manifest
		bad []SkippedSnapshot
	)
	for _, name := range names {
		m, err := r.readManifest(ctx, name)
		switch {
		case err == nil:
			ms = append(ms, m)
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case errors.Is(err, fs.ErrNotExist):
			// Pruned between listing and reading.
		default:
			bad = append(bad, SkippedSnapshot{Name: name, Err: err})
		}
	}
	sortNewestFirst(ms)
	sort.Slice(bad, func(i, j int) bool { return bad[i].Name > bad[j].Name })
	return ms, bad, nil
}

func sortNewestFirst(ms []*Manifest) {
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].Time.Equal(ms[j].Time) {
			return ms[i].Time.After(ms[j].Time)
		}
		return ms[i].Name > ms[j].Name
	})
}

// Snapshots returns the snapshots present, newest first, and apart those whose manifest could
// not be read (newest first too), each with its error: ErrCorrupt for damage, a store error when
// the store failed.
func (r *Repository) Snapshots(ctx context.Context) ([]*Manifest, []SkippedSnapshot, error) {
	return r.list(ctx)
}

// List returns the snapshots present, newest first. Manifests that cannot be read are left out
// and reported in the error, which then wraps ErrCorrupt; the readable ones are still returned.
func (r *Repository) List(ctx context.Context) ([]*Manifest, error) {
	ms, bad, err := r.list(ctx)
	if err != nil {
		return nil, err
	}
	errs := make([]error, 0, len(bad))
	for _, b := range bad {
		errs = append(errs, fmt.Errorf("snapshot %s: %w", b.Name, b.Err))
	}
	return ms, errors.Join(errs...)
}

// Entry returns the table entry of one user in snapshot m; the error wraps ErrNotFound when the
// snapshot does not hold the user.
func (r *Repository) Entry(ctx context.Context, m *Manifest, sip string) (UserEntry, error) {
	if e, ok := m.changed[sip]; ok {
		return e, nil
	}
	if m.removed[sip] || m.index == "" {
		return UserEntry{}, fmt.Errorf("user %s in snapshot %s: %w", sip, m.Name, ErrNotFound)
	}
	t, err := r.table(ctx, m.index)
	if err != nil {
		return UserEntry{}, fmt.Errorf("snapshot %s: %w", m.Name, err)
	}
	e, ok := t[sip]
	if !ok {
		return UserEntry{}, fmt.Errorf("user %s in snapshot %s: %w", sip, m.Name, ErrNotFound)
	}
	return e, nil
}

// Users returns the whole user table of snapshot m.
func (r *Repository) Users(ctx context.Context, m *Manifest) (map[string]UserEntry, error) {
	out := make(map[string]UserEntry, m.Users)
	if m.index != "" {
		t, err := r.table(ctx, m.index)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
		}
		for sip, e := range t {
			if !m.removed[sip] {
				out[sip] = e
			}
		}
	}
	for sip, e := range m.changed {
		out[sip] = e
	}
	if len(out) != m.Users {
		return nil, fmt.Errorf("%w: snapshot %s holds %d users, its manifest says %d", ErrCorrupt, m.Name, len(out), m.Users)
	}
	return out, nil
}

// ReadUser returns the contact export of one user in snapshot m, verified against its digest:
// the error wraps ErrCorrupt when the bytes do not match, ErrNotFound when the user is absent.
func (r *Repository) ReadUser(ctx context.Context, m *Manifest, sip string) ([]byte, error) {
	e, err := r.Entry(ctx, m, sip)
	if err != nil {
		return nil, err
	}
	data, err := r.readBlob(ctx, e.Digest)
	if err != nil {
		return nil, fmt.Errorf("user %s in snapshot %s: %w", sip, m.Name, err)
	}
	return data, nil
}

// ReadConfig returns one configuration file of a snapshot, verified against its digest.
func (r *Repository) ReadConfig(ctx context.Context, f FileEntry) ([]byte, error) {
	if !validDigest(f.Digest) {
		return nil, fmt.Errorf("configuration file %s: %w: digest %q", f.Name, ErrCorrupt, f.Digest)
	}
	data, err := r.readBlob(ctx, f.Digest)
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", f.Name, err)
	}
	return data, nil
}

// NewestFor returns the user's export from the newest snapshot taken at or before notAfter whose
// copy verifies. Snapshots passed over because they are corrupt are reported in skipped. The
// error wraps ErrNotFound when no snapshot holds a good copy.
func (r *Repository) NewestFor(ctx context.Context, sip string, notAfter time.Time) ([]byte, *Manifest, []SkippedSnapshot, error) {
	ms, bad, err := r.list(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var skipped []SkippedSnapshot
	for _, b := range bad {
		// An unreadable manifest may well have held the user: report it if it is old enough.
		if t, ok := nameTime(b.Name); !ok || !t.After(notAfter) {
			skipped = append(skipped, b)
		}
	}
	data, m, more, err := r.NewestIn(ctx, ms, sip, notAfter)
	return data, m, append(skipped, more...), err
}

// NewestIn is NewestFor over manifests already listed, so that a restore of many users reads
// the manifests once.
func (r *Repository) NewestIn(ctx context.Context, ms []*Manifest, sip string, notAfter time.Time) ([]byte, *Manifest, []SkippedSnapshot, error) {
	ordered := append([]*Manifest(nil), ms...)
	sortNewestFirst(ordered)
	var skipped []SkippedSnapshot
	for _, m := range ordered {
		if m.Time.After(notAfter) {
			continue
		}
		data, err := r.ReadUser(ctx, m, sip)
		switch {
		case err == nil:
			return data, m, skipped, nil
		case errors.Is(err, ErrNotFound):
		case errors.Is(err, ErrCorrupt):
			skipped = append(skipped, SkippedSnapshot{Name: m.Name, Err: err})
		default:
			return nil, nil, skipped, err
		}
	}
	return nil, nil, skipped, fmt.Errorf("user %s at or before %s: %w", sip, notAfter.UTC().Format(time.RFC3339), ErrNotFound)
}

// Prune deletes the manifests of drop, then every blob that no remaining manifest refers to. If
// a remaining manifest or its user table cannot be read, no blob is deleted: its references are
// unknown.
func (r *Repository) Prune(ctx context.Context, drop []*Manifest) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range drop {
		if !validName(m.Name) {
			return 0, fmt.Errorf("pruning snapshot %q: %w", m.Name, ErrInvalidKey)
		}
		if err := r.store.Delete(ctx, r.manifestKey(m.Name)); err != nil {
			return 0, err
		}
	}
	ms, bad, err := r.list(ctx)
	if err != nil {
		return 0, err
	}
	if len(bad) > 0 {
		return 0, fmt.Errorf("not deleting blobs, snapshot %s is unreadable: %w", bad[0].Name, bad[0].Err)
	}
	referenced, err := r.references(ctx, ms)
	if err != nil {
		return 0, fmt.Errorf("not deleting blobs: %w", err)
	}
	present, err := r.blobSet(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for d := range present {
		if _, ok := referenced[d]; ok {
			continue
		}
		if err := r.store.Delete(ctx, r.blobKey(d)); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// tableRef marks a user table in the result of references: its size is not data of a user.
const tableRef = -1

// references returns every blob the manifests use, with its uncompressed size (tableRef for user
// tables).
func (r *Repository) references(ctx context.Context, ms []*Manifest) (map[string]int64, error) {
	referenced := map[string]int64{}
	for _, m := range ms {
		if m.index != "" {
			t, err := r.table(ctx, m.index)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", m.Name, err)
			}
			referenced[m.index] = tableRef
			// Only the entries a manifest really uses: the base may still name blobs of users
			// that every snapshot using it has since changed or removed.
			for sip, e := range t {
				if _, ok := m.changed[sip]; !ok && !m.removed[sip] {
					referenced[e.Digest] = e.Bytes
				}
			}
		}
		for _, e := range m.changed {
			referenced[e.Digest] = e.Bytes
		}
		for _, f := range m.Configuration {
			referenced[f.Digest] = f.Bytes
		}
	}
	return referenced, nil
}
