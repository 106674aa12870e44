package controllers

import (
	"context"
	"fmt"
	"time"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// repositoryPrefix is where a ContactBackup's snapshots live under spec.storage.path. Two
// ContactBackups given the same path by mistake must not share a repository: the retention of
// one would delete the blobs of the other.
func repositoryPrefix(b *ocsv1.ContactBackup) string {
	return b.Namespace + "/" + b.Name
}

// openBackupStore returns the file store at a ContactBackup's spec.storage.path, creating the
// directory if needed.
func openBackupStore(b *ocsv1.ContactBackup) (*backup.FileStore, error) {
	store, err := backup.NewFileStore(b.Spec.Storage.Path)
	if err != nil {
		return nil, fmt.Errorf("opening spec.storage.path of ContactBackup %s/%s: %w", b.Namespace, b.Name, err)
	}
	return store, nil
}

// openRepository returns the snapshot repository of a ContactBackup: the directory
// spec.storage.path, under the prefix <namespace>/<name>.
func openRepository(b *ocsv1.ContactBackup) (*backup.Repository, error) {
	store, err := openBackupStore(b)
	if err != nil {
		return nil, err
	}
	return backup.NewRepository(store, repositoryPrefix(b)), nil
}

// snapshotKey is the key of a user in a snapshot (restoreplan.Key): "sip:" and the lower-cased
// user@host, so that a restore finds the user whatever case the directory and the contact
// database use.
func snapshotKey(sip string) string { return restoreplan.Key(sip) }

// newestContactsFor returns a user's contacts from the newest snapshot of repo taken at or before
// notAfter whose copy verifies, and that snapshot's name. Snapshots passed over because their
// data is corrupt are listed in corrupt (the caller reports them, e.g. with a CorruptSnapshot
// Warning event), even when the error is not nil. The error wraps backup.ErrNotFound when no
// snapshot holds a good copy of the user.
func newestContactsFor(ctx context.Context, repo *backup.Repository, sip string, notAfter time.Time) (contacts.Resource, string, []string, error) {
	data, m, skipped, err := repo.NewestFor(ctx, snapshotKey(sip), notAfter)
	corrupt := make([]string, 0, len(skipped))
	for _, s := range skipped {
		corrupt = append(corrupt, s.Name)
	}
	if err != nil {
		return contacts.Resource{}, "", corrupt, fmt.Errorf("finding the contacts of %s in a snapshot: %w", sip, err)
	}
	r, err := contacts.UnmarshalResource(data)
	if err != nil {
		// The digest matched, so the bytes are what was exported: an unreadable export is a bug,
		// not damage, and an older snapshot would not be more readable.
		return contacts.Resource{}, m.Name, corrupt, fmt.Errorf("reading the contacts of %s in snapshot %s: %w", sip, m.Name, err)
	}
	return r, m.Name, corrupt, nil
}
