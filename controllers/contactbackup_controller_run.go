package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// defaultBackupRunTimeout bounds one backup run, which runs inline in Reconcile.
const defaultBackupRunTimeout = 10 * time.Minute

// backupSkip is a server whose contacts are not in a snapshot, and why.
type backupSkip struct {
	Name   string
	Reason string
}

// backupOutcome is what one backup run did. Exactly one of Manifest and Err is set.
type backupOutcome struct {
	// Manifest is the snapshot written.
	Manifest *backup.Manifest
	// Added is the number of bytes the snapshot added to the store.
	Added int64
	// Skipped lists the servers left out: not serving per the pool, or their export failed.
	Skipped []backupSkip
	// ConfigFailed lists the servers whose configuration export failed (their contacts are in).
	ConfigFailed []string
	// Err says why no snapshot was written.
	Err error
	// StorageUnavailable: Err is about spec.storage.path; a human must act.
	StorageUnavailable bool

	// Kept are the snapshots retention kept, newest first; nil when they could not be listed.
	Kept []*backup.Manifest
	// Pruned is the number of snapshots retention dropped, PrunedBlobs the blobs deleted.
	Pruned, PrunedBlobs int
	// PruneErr says why retention did not complete; the snapshot is written all the same.
	PruneErr error

	// Stats are the store's figures after retention; StatsErr says why they are missing or partial.
	Stats    backup.Stats
	StatsErr error
}

// backupServers splits the pool's servers, in spec order, into those to export (they answer:
// maintenance drains users, it does not stop the server) and those to skip, per the pool's status.
// A server held back by its preflight is skipped, unless only the directory refused it: an export
// reads the server's own database, which needs no second hop.
func backupServers(pool *ocsv1.OCSPool) (serving []string, skipped []backupSkip) {
	for _, f := range newPoolView(pool).servers {
		switch {
		case !f.reported:
			skipped = append(skipped, backupSkip{Name: f.name, Reason: "not probed yet"})
		case f.preflightHold != "" && !f.directoryHold:
			skipped = append(skipped, backupSkip{Name: f.name, Reason: f.preflightHold})
		case f.answers() || f.directoryHold:
			serving = append(serving, f.name)
		default:
			skipped = append(skipped, backupSkip{Name: f.name, Reason: "state " + string(f.state)})
		}
	}
	return serving, skipped
}

// backupPoolReported reports whether the pool's status has a state for its servers yet.
func backupPoolReported(pool *ocsv1.OCSPool) bool { return newPoolView(pool).reported() }

// backupExport is what one server gave: its users went into its stage of the snapshot.
type backupExport struct {
	server     string
	users      int
	duplicates []string
	config     []ocs.ConfigFile
	err        error
	configErr  error
}

// exportForBackup streams every server's contacts into its own stage of the snapshot, in
// parallel, one export per server, then exports its configuration; a server whose export fails
// has its stage discarded. The results are in the order of servers.
// An incremental scope exports only its users, and only on the servers that have some.
func exportForBackup(ctx context.Context, agent ocs.Agent, w *backup.SnapshotWriter, servers []string, scope backupScope, withConfig bool) []backupExport {
	if !scope.Full {
		servers = slices.DeleteFunc(slices.Clone(servers), func(s string) bool { return len(scope.Export[s]) == 0 })
	}
	out := make([]backupExport, len(servers))
	stages := make([]*backup.Stage, len(servers))
	for i, s := range servers {
		stages[i] = w.Stage(s)
	}
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			e := backupExport{server: s}
			e.err = ocs.StreamContacts(ctx, agent, s, scope.Export[s], func(r contacts.Resource) error {
				err := stages[i].Add(snapshotKey(r.UserAtHost), contacts.MarshalResource(r), r.Count())
				if errors.Is(err, backup.ErrDuplicateUser) {
					e.duplicates = append(e.duplicates, snapshotKey(r.UserAtHost))
					return nil
				}
				return err
			})
			if e.err != nil {
				stages[i].Discard()
			} else if withConfig {
				e.config, e.configErr = agent.ExportConfiguration(ctx, s)
			}
			e.users = stages[i].Len()
			out[i] = e
		})
	}
	wg.Wait()
	return out
}

// classifyExports lists the servers whose contact export failed (they are skipped) and those
// whose configuration export failed (their contacts are in the snapshot).
func classifyExports(exports []backupExport) (failed []backupSkip, configFailed []string) {
	for _, e := range exports {
		switch {
		case e.err != nil:
			failed = append(failed, backupSkip{Name: e.server, Reason: "export failed: " + e.err.Error()})
		case e.configErr != nil:
			configFailed = append(configFailed, e.server)
		}
	}
	return failed, configFailed
}

// backupConfigInput gathers the configuration files of the servers whose exports succeeded.
func backupConfigInput(exports []backupExport) []backup.ConfigData {
	var config []backup.ConfigData
	for _, e := range exports {
		if e.err != nil || e.configErr != nil {
			continue
		}
		for _, f := range e.config {
			config = append(config, backup.ConfigData{Server: e.server, Name: f.Name, Data: f.Data})
		}
	}
	return config
}

// backupServerEntries records every server of the pool in the manifest, skipped ones with their reason.
func backupServerEntries(pool *ocsv1.OCSPool, skipped []backupSkip) []backup.ServerEntry {
	reason := map[string]string{}
	for _, s := range skipped {
		reason[s.Name] = s.Reason
	}
	out := make([]backup.ServerEntry, 0, len(pool.Spec.Servers))
	for _, s := range pool.Spec.Servers {
		r, skip := reason[s.Name]
		out = append(out, backup.ServerEntry{Name: s.Name, Skipped: skip, Reason: r})
	}
	return out
}

// backupProbeKey is written and deleted before a run in a directory, so that an unwritable path is
// found before the servers are asked for their exports.
const backupProbeKey = ".write-probe"

// pinger is a store that can check its access without writing (S3: a write probe would leave a
// locked version behind under Object Lock).
type pinger interface {
	Ping(ctx context.Context) error
}

// backupCheckStore checks that the store can be used: a bucket is pinged, a directory gets a small
// file written and deleted under the repository's prefix.
func backupCheckStore(ctx context.Context, store backup.Store, prefix string) error {
	if p, ok := store.(pinger); ok {
		return p.Ping(ctx)
	}
	key := prefix + "/" + backupProbeKey
	if err := store.Put(ctx, key, []byte("ok")); err != nil {
		return err
	}
	return store.Delete(ctx, key)
}

// isBackupStorageError reports whether err comes from the storage rather than from the data.
func isBackupStorageError(err error) bool {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	var errno syscall.Errno
	return errors.As(err, &pathErr) || errors.As(err, &linkErr) || errors.As(err, &errno) || errors.Is(err, backup.ErrUnavailable)
}

// describeStorage names a ContactBackup's storage for messages.
func describeStorage(b *ocsv1.ContactBackup) string {
	if s3 := b.Spec.Storage.S3; s3 != nil {
		return fmt.Sprintf("spec.storage.s3 (bucket %s at %s)", s3.Bucket, s3.Endpoint)
	}
	return "spec.storage.path " + b.Spec.Storage.Path
}

// openUsableStore opens a ContactBackup's store and checks that it can be used.
func (r *ContactBackupReconciler) openUsableStore(ctx context.Context, b *ocsv1.ContactBackup) (backup.Store, error) {
	store, err := openBackupStore(ctx, r.Secrets, b)
	if err == nil {
		err = backupCheckStore(ctx, store, repositoryPrefix(b))
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not usable: %w", describeStorage(b), err)
	}
	return store, nil
}

// runBackup takes one snapshot of the pool's serving servers and applies retention.
func (r *ContactBackupReconciler) runBackup(ctx context.Context, b *ocsv1.ContactBackup, pool *ocsv1.OCSPool, at time.Time) backupOutcome {
	log := logf.FromContext(ctx)
	timeout := r.RunTimeout
	if timeout <= 0 {
		timeout = defaultBackupRunTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var out backupOutcome
	store, err := r.openUsableStore(ctx, b)
	if err != nil {
		out.Err, out.StorageUnavailable = err, true
		return out
	}

	serving, skipped := backupServers(pool)
	out.Skipped = skipped
	if len(serving) == 0 {
		out.Err = fmt.Errorf("no server of OCSPool %s serves: %s", pool.Name, describeBackupSkips(skipped))
		return out
	}
	agent, err := r.Agents.AgentFor(ctx, pool)
	if err != nil {
		out.Err = fmt.Errorf("getting the agent of OCSPool %s: %w", pool.Name, err)
		return out
	}

	repo := backup.NewRepository(store, repositoryPrefix(b))
	started := time.Now()
	if !r.writeSnapshot(ctx, b, pool, agent, repo, serving, at, &out) {
		return out
	}
	written := time.Since(started)

	r.applyRetention(ctx, b, repo, at, &out)
	out.Stats, out.StatsErr = repo.Stats(ctx)
	log.V(1).Info("Backup run timings", "export", written.String(), "retention", (time.Since(started) - written).String())
	return out
}

// writeSnapshot streams the serving servers' exports into a new snapshot of repo and writes its
// manifest, recording the outcome in out; it reports whether the snapshot was written.
func (r *ContactBackupReconciler) writeSnapshot(ctx context.Context, b *ocsv1.ContactBackup, pool *ocsv1.OCSPool, agent ocs.Agent,
	repo *backup.Repository, serving []string, at time.Time, out *backupOutcome) bool {
	log := logf.FromContext(ctx)
	w, err := repo.NewSnapshot(ctx)
	if err != nil {
		out.Err = fmt.Errorf("starting the snapshot: %w", err)
		out.StorageUnavailable = isBackupStorageError(err)
		return false
	}
	defer w.Abort()
	scope, err := r.backupScope(ctx, agent, repo, w, serving)
	if err != nil {
		out.Err = err
		return false
	}
	withConfig := scope.Full && (b.Spec.IncludeConfiguration == nil || *b.Spec.IncludeConfiguration)
	log.V(1).Info("Exporting contacts", "servers", serving, "configuration", withConfig, "reason", "full: "+strconv.FormatBool(scope.Full)+", "+scope.Reason)
	exports := exportForBackup(ctx, agent, w, serving, scope, withConfig)
	failed, configFailed := classifyExports(exports)
	out.Skipped = append(out.Skipped, failed...)
	out.ConfigFailed = configFailed
	for _, e := range exports {
		if e.configErr != nil {
			log.Info("Configuration export failed", "server", e.server, "reason", e.configErr.Error())
		}
		if len(e.duplicates) > 0 {
			log.Info("Users exported twice by one server, kept once", "server", e.server, "count", len(e.duplicates), "user", e.duplicates[0])
		}
	}
	sort.Slice(out.Skipped, func(i, j int) bool { return out.Skipped[i].Name < out.Skipped[j].Name })
	switch {
	case len(failed) > 0 && !scope.Full:
		out.Err = fmt.Errorf("incremental backup of OCSPool %s: %s", pool.Name, describeBackupSkips(failed))
		return false
	case len(failed) == len(exports) && len(exports) > 0:
		out.Err = fmt.Errorf("no server of OCSPool %s could be exported: %s", pool.Name, describeBackupSkips(out.Skipped))
		return false
	case ctx.Err() != nil:
		out.Err = fmt.Errorf("exporting contacts: %w", ctx.Err())
		return false
	}
	m, duplicates, err := w.Commit(pool.Namespace+"/"+pool.Name, at, backupServerEntries(pool, out.Skipped), backupConfigInput(exports))
	if err != nil {
		out.Err = fmt.Errorf("writing the snapshot: %w", err)
		out.StorageUnavailable = isBackupStorageError(err)
		return false
	}
	if len(duplicates) > 0 {
		log.Info("Users exported by two servers, kept from the first", "count", len(duplicates), "user", duplicates[0])
	}
	out.Manifest, out.Added = m, m.Added
	return true
}

// applyRetention drops the snapshots retention does not keep, and every blob no kept snapshot
// refers to (also those a crashed run left behind).
func (r *ContactBackupReconciler) applyRetention(ctx context.Context, b *ocsv1.ContactBackup, repo *backup.Repository, now time.Time, out *backupOutcome) {
	ms, listErr := repo.List(ctx)
	if ms == nil && listErr != nil {
		out.PruneErr = fmt.Errorf("listing snapshots: %w", listErr)
		return
	}
	var maxAge time.Duration
	if b.Spec.Retention.MaxAge != "" {
		d, err := time.ParseDuration(b.Spec.Retention.MaxAge)
		if err != nil {
			out.PruneErr = fmt.Errorf("spec.retention.maxAge %q: %w", b.Spec.Retention.MaxAge, err)
			return
		}
		maxAge = d
	}
	keep, drop := backup.Retain(ms, int(b.Spec.Retention.KeepLast), maxAge, now)
	out.Kept = keep
	blobs, err := repo.Prune(ctx, drop)
	out.PrunedBlobs = blobs
	if err != nil {
		// Prune deletes manifests first: some may be gone. The next run lists them again.
		out.PruneErr = fmt.Errorf("pruning %d snapshots: %w", len(drop), err)
		out.Kept = nil
		return
	}
	out.Pruned = len(drop)
	if listErr != nil {
		out.PruneErr = listErr
	}
}

func describeBackupSkips(skipped []backupSkip) string {
	parts := make([]string, 0, len(skipped))
	for _, s := range skipped {
		parts = append(parts, s.Name+" ("+s.Reason+")")
	}
	if len(parts) == 0 {
		return "the pool has no server"
	}
	return strings.Join(parts, ", ")
}
