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
// Stores: a directory tree (FileStore, e.g. a PVC) or an S3 bucket (S3Store, any S3-compatible
// service, optionally under Object Lock). Both hold the same keys.
//
// Crash safety: every object is written atomically (a FileStore writes a temporary file and
// renames it; an S3 PUT is atomic), and the manifest is written last, only once every blob it
// refers to is durable, so a manifest never points at a missing or damaged blob. A FileStore
// makes a snapshot's blobs durable together (one syncfs(2) on Linux, then one fsync per
// directory changed) rather than with an fsync each; a blob found present but not known good is
// read back against its digest before reuse (snapshot.go).
//
// Verification: Verify re-reads a snapshot end to end (user table, every user's document, every
// configuration file) against the digests, and hands each verified document to a check of the
// caller's; Stats measures the store and how much content addressing saves.
//
// Concurrency: Prune deletes the blobs that no manifest present refers to, so it must not run
// while a Write on the same repository is between its first blob and its manifest. A Repository
// serialises its own Write and Prune calls; across processes the caller must serialise them (the
// controller handles one ContactBackup at a time, and one manager holds the leader lease).
package backup
