package backup

// What the S3 store relies on, and where it is documented. Each fact is also exercised against a
// real S3 server (versitygw) by the tests of this package.
//
//   - A PUT replaces an object atomically and a GET or LIST that follows a successful PUT or
//     DELETE sees it (strong read-after-write consistency since December 2020): the repository's
//     "blobs first, manifest last" order therefore holds on S3 as on a filesystem without
//     temporary files. https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel
//   - A PutObject with Object Lock parameters must carry Content-MD5 (or an SDK checksum header):
//     https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html ; the error
//     users meet otherwise: https://github.com/kopia/kopia/issues/711 . Put always sends
//     Content-MD5, which also makes the server refuse a body damaged in transit.
//   - Object Lock works only with versioning; a DELETE without a version ID adds a delete marker
//     and removes nothing, so retention still "deletes" locked objects while their data stays
//     until the retain-until date; a lifecycle rule expiring noncurrent versions reclaims it.
//     Retention dates can be extended but, in Compliance mode, not shortened.
//     https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html ,
//     https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html
//   - Since aws-sdk-go-v2 service/s3 v1.73.0 (release 2025-01-15) the SDK computes and validates
//     CRC checksums on every PUT and GET by default, which several S3-compatible servers refuse
//     (https://github.com/aws/aws-sdk-go-v2/discussions/2960 ,
//     https://github.com/rqlite/rqlite/issues/2699): the store asks for checksums only where an
//     operation requires them.
//   - A HEAD answer has no body, so the SDK can only report a missing bucket or key as NotFound
//     (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html): Ping translates it.
//
// Not documented anywhere we could find, hence checked rather than assumed: how each
// S3-compatible product words its errors. The store reports an error's code and message as the
// server sent them, and classifies by HTTP status and code only.
//
// Incremental snapshots (Coverage, SnapshotWriter.Carry) and the lack of a change marker:
//   - Export-CsUserData (Lync Server 2013, Skype for Business Server 2015/2019) narrows an export
//     by user (-UserFilter) and by file (-UserFileFilter), never by time:
//     https://learn.microsoft.com/en-us/powershell/module/skypeforbusiness/export-csuserdata
//   - dbimpexp.exe of OCS 2007 R2 exports every homed user or one (/user:); its documented
//     switches have no "changed since" either (reference/ocs-admin.md).
//   - The RTC database holds the contact lists (OCS 2007 R2 "Storage Requirements", TechNet), but
//     no public source documents a modification time or version column a script could query.
// So a snapshot can only be incremental on what the directory shows (users added or moved); an
// incremental snapshot names the users it exported and the snapshot the others come from, and
// the controller takes a full one periodically (controllers/contactbackup_controller_scope.go).
