package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// A SnapshotWriter stores a snapshot's blobs while the export is still being read, and its
// manifest last: a user's bytes are hashed and handed to a few writers at once, so a backup
// holds the user table (SIP → digest) and at most a few users' bytes, never a whole export.
// Users are staged per server: the users of a server whose export fails part way are discarded
// and the server is recorded as skipped, so a snapshot never claims a partial export as whole.
// Blobs written for discarded users (or by a run that never commits) are referred to by no
// manifest, and Prune deletes them.
//
// Durability: on a store that batches (Batcher: a FileStore), blobs are written without an
// fsync each and made durable together by one Batch.Sync just before the manifest, so the
// guarantee stays "a manifest is written only after every blob it references is durable" at
// the cost of one filesystem sync a snapshot instead of two fsyncs a blob. Until that Sync a
// crash may leave a blob damaged under its name; nothing refers to it yet, and a later run
// that finds it present reads it back against its digest before reusing it (worker, and
// Commit for user tables), rewriting it when damaged. A blob that a crashed run wrote and a
// later run finds intact may still sit unsynced in the page cache (the process died, not the
// machine): the later run's Sync, a syncfs(2) of the whole filesystem, makes it durable too.

// ErrDuplicateUser is returned by Stage.Add for a user added twice to one stage.
var ErrDuplicateUser = errors.New("user added twice")

// SnapshotWriter writes one snapshot; get it with Repository.NewSnapshot, end it with Commit or
// Abort (Abort after Commit does nothing).
type SnapshotWriter struct {
	r   *Repository
	ctx context.Context
	// put stores a blob: through batch when the store batches, else with the store's Put.
	put   func(ctx context.Context, key string, data []byte) error
	batch Batch

	work    chan blobJob
	wg      sync.WaitGroup // the workers
	senders sync.WaitGroup // addBlob calls between the check of done and their send

	mu       sync.Mutex
	existing map[string]bool // digests present in the store, and those written by this run
	written  map[string]bool // digests this run wrote
	reused   map[string]bool // digests this run found present (verified)
	queued   map[string]bool // digests handed to a worker
	added    int64
	err      error
	stages   []*Stage
	carried  *Stage // the entries carried from a previous snapshot (Carry), merged last
	from     *Manifest
	done     bool
	cancel   context.CancelFunc
}

// blobJob is one blob for a worker: put it, or (reuse) read it back and put it only when damaged.
type blobJob struct {
	digest string
	data   []byte
	reuse  bool
}

// Stage collects the users exported from one server. Its Add is safe for one goroutine at a time.
type Stage struct {
	w         *SnapshotWriter
	server    string
	users     map[string]UserEntry
	discarded bool
}

// NewSnapshot starts a snapshot. Until Commit or Abort it holds the repository's lock, so Prune
// cannot delete the blobs it writes before its manifest refers to them.
func (r *Repository) NewSnapshot(ctx context.Context) (*SnapshotWriter, error) {
	r.mu.Lock()
	existing, err := r.blobSet(ctx)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &SnapshotWriter{
		r: r, ctx: ctx, cancel: cancel, work: make(chan blobJob, putWorkers),
		existing: existing, written: map[string]bool{}, reused: map[string]bool{}, queued: map[string]bool{},
	}
	w.put = r.store.Put
	if b, ok := r.store.(Batcher); ok {
		w.batch = b.NewBatch()
		w.put = w.batch.Put
	}
	for i := 0; i < putWorkers; i++ {
		w.wg.Go(w.worker)
	}
	return w, nil
}

// Stage returns a new stage for server's users. Stages are merged in the order they were made.
func (w *SnapshotWriter) Stage(server string) *Stage {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &Stage{w: w, server: server, users: map[string]UserEntry{}}
	w.stages = append(w.stages, s)
	return s
}

// Add stores one user's export (data is kept by the writer until stored: do not reuse it).
func (s *Stage) Add(sip string, data []byte, contacts int) error {
	return s.addAs(sip, s.server, data, contacts)
}

// addAs is Add for a user recorded under server.
func (s *Stage) addAs(sip, server string, data []byte, contacts int) error {
	if sip == "" {
		return errors.New("snapshot user with an empty SIP URI")
	}
	if _, dup := s.users[sip]; dup {
		return fmt.Errorf("%w: %s from %s", ErrDuplicateUser, sip, s.server)
	}
	d, err := s.w.addBlob(data)
	if err != nil {
		return err
	}
	s.users[sip] = UserEntry{Server: server, Digest: d, Contacts: contacts, Bytes: int64(len(data))}
	return nil
}

// Len is the number of users staged.
func (s *Stage) Len() int { return len(s.users) }

// Discard leaves the stage's users out of the snapshot (their server's export failed).
func (s *Stage) Discard() {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.discarded = true
	s.users = nil
}

// addBlob hands data to a worker unless a worker already has its digest, and returns the digest.
func (w *SnapshotWriter) addBlob(data []byte) (string, error) {
	d := digestOf(data)
	w.mu.Lock()
	if w.err != nil || w.done {
		err := w.err
		w.mu.Unlock()
		if err == nil {
			err = errors.New("snapshot already ended")
		}
		return "", err
	}
	if w.queued[d] {
		w.mu.Unlock()
		return d, nil
	}
	w.queued[d] = true
	job := blobJob{digest: d, data: data, reuse: w.existing[d]}
	w.senders.Add(1)
	w.mu.Unlock()
	defer w.senders.Done()
	select {
	case w.work <- job:
		return d, nil
	case <-w.ctx.Done():
		return "", w.failure(w.ctx.Err())
	}
}

// worker stores the blobs handed to it. A reused blob is read back first: a snapshot that merely
// pointed at a damaged blob would inherit its damage, and so would every later one.
func (w *SnapshotWriter) worker() {
	for job := range w.work {
		if w.ctx.Err() != nil {
			continue
		}
		if job.reuse {
			_, err := w.r.readBlob(w.ctx, job.digest)
			if err == nil {
				w.mark(job.digest, false, 0)
				continue
			}
			if !errors.Is(err, ErrCorrupt) {
				w.failure(err)
				continue
			}
		}
		z := compress(job.data)
		if err := w.put(w.ctx, w.r.blobKey(job.digest), z); err != nil {
			w.failure(err)
			continue
		}
		w.mark(job.digest, true, int64(len(z)))
	}
}

func (w *SnapshotWriter) mark(d string, written bool, size int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.existing[d] = true
	if written {
		w.written[d] = true
		w.added += size
	} else {
		w.reused[d] = true
	}
}

// failure records the first error and stops the workers; it returns the error recorded.
func (w *SnapshotWriter) failure(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		w.cancel()
	}
	return w.err
}

// finish waits for the workers and returns the first error; the writer takes no blob after it.
func (w *SnapshotWriter) finish() error {
	w.mu.Lock()
	if w.done {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.done = true
	w.mu.Unlock()
	w.senders.Wait()
	close(w.work)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Abort ends a snapshot without a manifest; the blobs written are left for Prune.
func (w *SnapshotWriter) Abort() {
	if w.r == nil {
		return
	}
	w.cancel()
	_ = w.finish()
	w.r.mu.Unlock()
	w.r = nil
}

// Commit stores the configuration files, waits for every blob, merges the stages (in the order
// they were made; a user staged by two servers, which the directory moved during the run, is kept
// from the first) and writes the manifest. It returns the users found twice.
func (w *SnapshotWriter) Commit(pool string, at time.Time, servers []ServerEntry, config []ConfigData) (*Manifest, []string, error) {
	if w.r == nil {
		return nil, nil, errors.New("snapshot already ended")
	}
	defer w.Abort()
	m := &Manifest{FormatVersion: FormatVersion, Time: at.UTC(), Pool: pool}
	for _, c := range config {
		d, err := w.addBlob(c.Data)
		if err != nil {
			return nil, nil, err
		}
		m.Configuration = append(m.Configuration, FileEntry{Server: c.Server, Name: c.Name, Digest: d, Bytes: int64(len(c.Data))})
		m.Bytes += int64(len(c.Data))
	}
	if len(config) == 0 && w.from != nil {
		// An incremental run exports no configuration: it keeps the previous snapshot's.
		m.Configuration = append(m.Configuration, w.from.Configuration...)
		for _, f := range w.from.Configuration {
			m.Bytes += f.Bytes
		}
	}
	sort.Slice(m.Configuration, func(i, j int) bool {
		a, b := m.Configuration[i], m.Configuration[j]
		return a.Server < b.Server || a.Server == b.Server && a.Name < b.Name
	})
	if err := w.finish(); err != nil {
		return nil, nil, err
	}
	table, perServer, dups := w.merge(m)
	m.Coverage = w.coverage(table)
	m.Servers = serverEntries(servers, perServer)
	m.Users = len(table)
	ctx := w.ctx
	if err := w.r.chooseBase(ctx, m, table, w.existing, w.putTable); err != nil {
		return nil, nil, err
	}
	if err := w.r.keepLocked(ctx, m, w.reused, w.written); err != nil {
		return nil, nil, err
	}
	if w.batch != nil {
		// Every blob the manifest refers to is durable before it is written. Sync runs even
		// when this run wrote nothing: a blob it reused may be one a crashed run left unsynced.
		if err := w.batch.Sync(ctx); err != nil {
			return nil, nil, err
		}
	}
	size, err := w.r.putManifest(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	m.Added = w.added + size
	return m, dups, nil
}

// putTable stores a user table blob unless a good copy is present. A copy present but neither
// written nor read back by this run may be the damaged leftover of a crashed run: it is read
// back first, and rewritten when damaged.
func (w *SnapshotWriter) putTable(data []byte) (string, error) {
	d := digestOf(data)
	if w.existing[d] && (w.written[d] || w.reused[d]) {
		return d, nil
	}
	if w.existing[d] {
		_, err := w.r.readBlob(w.ctx, d)
		if err == nil {
			w.reused[d] = true
			return d, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return "", err
		}
	}
	z := compress(data)
	if err := w.put(w.ctx, w.r.blobKey(d), z); err != nil {
		return "", err
	}
	w.added += int64(len(z))
	w.existing[d], w.written[d] = true, true
	return d, nil
}

// merge builds the user table from the stages kept, with the manifest's totals.
func (w *SnapshotWriter) merge(m *Manifest) (map[string]UserEntry, map[string]int, []string) {
	n := 0
	for _, s := range w.stages {
		n += len(s.users)
	}
	table := make(map[string]UserEntry, n)
	perServer := map[string]int{}
	var dups []string
	stages := w.stages
	if w.carried != nil {
		stages = append(stages[:len(stages):len(stages)], w.carried)
	}
	for _, s := range stages {
		if s.discarded {
			continue
		}
		for sip, e := range s.users {
			if _, dup := table[sip]; dup {
				if s != w.carried {
					dups = append(dups, sip)
				}
				continue
			}
			table[sip] = e
			perServer[e.Server]++
			m.Contacts += e.Contacts
			m.Bytes += e.Bytes
		}
	}
	sort.Strings(dups)
	return table, perServer, dups
}

// Carry makes the snapshot incremental: every user of snapshot from that keep accepts and no
// stage holds keeps its entry from there (the same blob, not exported again), and the manifest's
// Coverage says so. Blobs carried are not read back (they were when first written); under
// Object Lock their retention is extended as for any blob reused.
func (w *SnapshotWriter) Carry(from *Manifest, keep func(sip string, e UserEntry) bool) error {
	users, err := w.r.Users(w.ctx, from)
	if err != nil {
		return fmt.Errorf("carrying users from snapshot %s: %w", from.Name, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &Stage{w: w, server: "", users: map[string]UserEntry{}}
	for sip, e := range users {
		if keep(sip, e) {
			st.users[sip] = e
			w.existing[e.Digest], w.reused[e.Digest] = true, true
		}
	}
	for _, f := range from.Configuration {
		w.existing[f.Digest], w.reused[f.Digest] = true, true
	}
	w.carried, w.from = st, from
	return nil
}

// coverage is the Coverage of an incremental snapshot with user table table, nil for a full one.
func (w *SnapshotWriter) coverage(table map[string]UserEntry) *Coverage {
	if w.carried == nil {
		return nil
	}
	c := &Coverage{CarriedFrom: w.from.Name, Exported: []string{}, FullTime: w.from.Time}
	if w.from.Coverage != nil {
		c.FullTime = w.from.Coverage.FullTime
	}
	for _, s := range w.stages {
		if s.discarded {
			continue
		}
		for sip := range s.users {
			c.Exported = append(c.Exported, sip)
		}
	}
	sort.Strings(c.Exported)
	c.Exported = slices.Compact(c.Exported)
	c.Carried = len(table) - len(c.Exported)
	return c
}
