// Package backup stores snapshots of per-user contact blobs and server configuration files in a
// content-addressed, verifiable store, and decides which snapshots retention keeps.
//
// Layout under a repository prefix:
//
//	blobs/<sha256[:2]>/<sha256>   gzip of the bytes whose SHA-256 is the name: a user's contact
//	                              export, a configuration file, or a user table (see below)
//	snapshots/<name>.json.gz      the manifest of one snapshot, gzip-compressed JSON
//
// An unchanged blob costs nothing in a new snapshot. The user table (SIP → server, digest,
// counts) would otherwise dominate the growth of a repository, since every snapshot would repeat
// one SHA-256 per user: a manifest therefore refers to a base table stored as a blob and lists
// only the users that differ from it; a new base is written when the difference grows beyond a
// tenth of the users. A base is never another manifest, so dropping any snapshot never breaks
// another one.
//
// Crash safety: every object is written to a temporary file, synced and renamed, and the
// manifest is written last, so a manifest never points at a missing blob.
//
// Concurrency: Prune deletes the blobs that no manifest present refers to, so it must not run
// while a Write on the same repository is between its first blob and its manifest. A Repository
// serialises its own Write and Prune calls; across processes the caller must serialise them (the
// controller handles one ContactBackup at a time, and one manager holds the leader lease).
package backup
