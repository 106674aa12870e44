package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/restoreplan"
)

// repositoryPrefix is where a ContactBackup's snapshots live in its store (under
// spec.storage.path, or under spec.storage.s3.prefix in the bucket). Two ContactBackups given the
// same storage by mistake must not share a repository: the retention of one would delete the
// blobs of the other.
func repositoryPrefix(b *ocsv1.ContactBackup) string {
	return b.Namespace + "/" + b.Name
}

// openBackupStore returns the store of a ContactBackup's spec.storage: the directory of
// spec.storage.path (created if needed), or the bucket of spec.storage.s3 with the credentials
// and CA read from their Secrets now. A missing Secret or key is a *SecretError.
func openBackupStore(ctx context.Context, reader client.Reader, b *ocsv1.ContactBackup) (backup.Store, error) {
	if b.Spec.Storage.S3 == nil {
		store, err := backup.NewFileStore(b.Spec.Storage.Path)
		if err != nil {
			return nil, fmt.Errorf("opening spec.storage.path of ContactBackup %s/%s: %w", b.Namespace, b.Name, err)
		}
		return store, nil
	}
	opts, err := s3StoreOptions(ctx, reader, b)
	if err != nil {
		return nil, err
	}
	store, err := backup.NewS3Store(opts)
	if err != nil {
		return nil, fmt.Errorf("spec.storage.s3 of ContactBackup %s/%s: %w", b.Namespace, b.Name, err)
	}
	return store, nil
}

// s3StoreOptions turns spec.storage.s3 and its Secrets into the store's options.
func s3StoreOptions(ctx context.Context, reader client.Reader, b *ocsv1.ContactBackup) (backup.S3Options, error) {
	spec := b.Spec.Storage.S3
	opts := backup.S3Options{
		Endpoint:  spec.Endpoint,
		Bucket:    spec.Bucket,
		Prefix:    spec.Prefix,
		Region:    spec.Region,
		PathStyle: spec.ForcePathStyle,
	}
	get := func(name, field, reason string, keys ...string) (map[string][]byte, error) {
		s := &corev1.Secret{}
		err := reader.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: name}, s)
		if apierrors.IsNotFound(err) {
			return nil, &SecretError{Field: field, Secret: b.Namespace + "/" + name, Reason: reason}
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", b.Namespace, name, err)
		}
		for _, k := range keys {
			if len(s.Data[k]) == 0 {
				return nil, &SecretError{Field: field, Secret: b.Namespace + "/" + name, Key: k, Reason: reason}
			}
		}
		return s.Data, nil
	}
	creds, err := get(spec.CredentialsSecretRef.Name, "spec.storage.s3.credentialsSecretRef", ocsv1.ReasonCredentialsSecretMissing,
		ocsv1.S3AccessKeyIDKey, ocsv1.S3SecretAccessKeyKey)
	if err != nil {
		return opts, err
	}
	opts.AccessKeyID = strings.TrimSpace(string(creds[ocsv1.S3AccessKeyIDKey]))
	opts.SecretAccessKey = strings.TrimSpace(string(creds[ocsv1.S3SecretAccessKeyKey]))
	opts.SessionToken = strings.TrimSpace(string(creds[ocsv1.S3SessionTokenKey]))
	if spec.CASecretRef != nil {
		ca, err := get(spec.CASecretRef.Name, "spec.storage.s3.caSecretRef", ocsv1.ReasonCASecretMissing, secretKeyCA)
		if err != nil {
			return opts, err
		}
		opts.CACert = ca[secretKeyCA]
	}
	if spec.ObjectLock != nil {
		// The CRD requires spec.retention.maxAge with objectLock; it parses, by its pattern.
		period, err := time.ParseDuration(b.Spec.Retention.MaxAge)
		if err != nil {
			return opts, fmt.Errorf("spec.retention.maxAge %q (needed by spec.storage.s3.objectLock): %w", b.Spec.Retention.MaxAge, err)
		}
		opts.Lock = &backup.ObjectLock{Mode: backup.LockGovernance, Period: period}
		if spec.ObjectLock.Mode == "Compliance" {
			opts.Lock.Mode = backup.LockCompliance
		}
	}
	return opts, nil
}

// openRepository returns the snapshot repository of a ContactBackup: its store, under the
// prefix <namespace>/<name>.
func openRepository(ctx context.Context, reader client.Reader, b *ocsv1.ContactBackup) (*backup.Repository, error) {
	store, err := openBackupStore(ctx, reader, b)
	if err != nil {
		return nil, err
	}
	return backup.NewRepository(store, repositoryPrefix(b)), nil
}

// backupSecretRefs lists the Secrets a ContactBackup references, for the index that wakes it
// when one changes.
func backupSecretRefs(obj client.Object) []string {
	b, ok := obj.(*ocsv1.ContactBackup)
	if !ok || b.Spec.Storage.S3 == nil {
		return nil
	}
	refs := []string{b.Spec.Storage.S3.CredentialsSecretRef.Name}
	if ca := b.Spec.Storage.S3.CASecretRef; ca != nil && ca.Name != refs[0] {
		refs = append(refs, ca.Name)
	}
	return refs
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
