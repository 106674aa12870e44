package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RetentionSpec says which snapshots to keep.
type RetentionSpec struct {
	// KeepLast is how many newest snapshots are always kept.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	KeepLast int32 `json:"keepLast,omitempty"`

	// MaxAge drops snapshots older than this (beyond keepLast), e.g. 720h.
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="retention.maxAge must be positive"
	// +optional
	MaxAge string `json:"maxAge,omitempty"`
}

// StorageSpec says where snapshots live: a directory or an S3 bucket.
// +kubebuilder:validation:XValidation:rule="has(self.path) != has(self.s3)",message="spec.storage needs exactly one of spec.storage.path and spec.storage.s3"
type StorageSpec struct {
	// Path is a directory the manager can write (a PVC mounted in its pod).
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'(^|/)\.\.(/|$)')`,message="storage.path must not contain a .. segment: snapshots stay below the volume mounted for them"
	// +optional
	Path string `json:"path,omitempty"`

	// S3 is a bucket of an S3-compatible object store, outside the cluster's failure domain.
	// +optional
	S3 *S3StorageSpec `json:"s3,omitempty"`
}

// Keys of the Secret that spec.storage.s3.credentialsSecretRef names: the names the AWS tools
// read from the environment, so that one Secret serves both.
const (
	S3AccessKeyIDKey     = "AWS_ACCESS_KEY_ID"
	S3SecretAccessKeyKey = "AWS_SECRET_ACCESS_KEY"
	S3SessionTokenKey    = "AWS_SESSION_TOKEN"
)

// S3StorageSpec is an S3 bucket. Objects go under <prefix>/<namespace>/<name>/.
type S3StorageSpec struct {
	// Endpoint is the service URL, scheme://host[:port] without a path, e.g.
	// https://s3.eu-west-1.amazonaws.com or https://minio.example.com:9000.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != '' && url(self).getEscapedPath() in ['', '/'] && url(self).getQuery().size() == 0 && !self.contains('@')",message="spec.storage.s3.endpoint must be http(s)://host[:port] without credentials, path or query"
	Endpoint string `json:"endpoint"`

	// Bucket is the bucket's name; it must exist.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`

	// Prefix is put before every object key, e.g. ocs-backups/site-a.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$`
	// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(s, s == '.' || s == '..')",message="spec.storage.s3.prefix must not have . or .. segments"
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Region signs the requests; most S3-compatible servers accept the default.
	// +kubebuilder:default="us-east-1"
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9-]+$`
	// +optional
	Region string `json:"region,omitempty"`

	// CredentialsSecretRef names a Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
	// (AWS_SESSION_TOKEN optional).
	CredentialsSecretRef LocalObjectReference `json:"credentialsSecretRef"`

	// CASecretRef names a Secret whose key ca.crt holds the PEM certificates that verify the
	// endpoint; without it the system's roots do.
	// +optional
	CASecretRef *LocalObjectReference `json:"caSecretRef,omitempty"`

	// ForcePathStyle addresses objects as endpoint/bucket/key rather than bucket.endpoint/key,
	// as most S3-compatible servers need.
	// +optional
	ForcePathStyle bool `json:"forcePathStyle,omitempty"`

	// ObjectLock writes every object under S3 Object Lock until spec.retention.maxAge after the
	// last snapshot that uses it: nobody holding the credentials can destroy the backups before.
	// The bucket must have Object Lock enabled.
	// +optional
	ObjectLock *S3ObjectLockSpec `json:"objectLock,omitempty"`
}

// S3ObjectLockSpec is the Object Lock retention of the objects.
type S3ObjectLockSpec struct {
	// Mode is Governance (users with s3:BypassGovernanceRetention may still delete) or
	// Compliance (nobody can, not even the account's root, until the date passes).
	// +kubebuilder:validation:Enum=Governance;Compliance
	// +kubebuilder:default=Governance
	// +optional
	Mode string `json:"mode,omitempty"`
}

// VerifySpec says when restore drills run. A drill re-reads the newest snapshot end to end:
// every object against its digest, every user's contact list decoded and re-encoded into the
// import format of the pool's product.
// +kubebuilder:validation:XValidation:rule="!has(self.roundTrip) || !self.roundTrip || has(self.canary)",message="spec.verify.roundTrip needs spec.verify.canary"
type VerifySpec struct {
	// Schedule is a 5-field cron expression (UTC) of the drills.
	// +kubebuilder:default="30 3 * * *"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^\S+(\s+\S+){4}$`
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// RoundTrip also imports the canary's contact list from the snapshot into the canary's home
	// server (merged, as dbimpexp and Update-CsUserData do) and reads it back.
	// +optional
	RoundTrip bool `json:"roundTrip,omitempty"`

	// Canary is the SIP URI of a test user for the round trip.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^sip:[^@\s]+@[^@\s]+$`
	// +optional
	Canary string `json:"canary,omitempty"`
}

// AnnotationBackupNow on a ContactBackup requests an immediate run; change its value to ask again.
const AnnotationBackupNow = "ocs.ocsha.io/backup-now"

// AnnotationVerifyNow on a ContactBackup requests an immediate restore drill; change its value
// to ask again.
const AnnotationVerifyNow = "ocs.ocsha.io/verify-now"

// ContactBackupSpec is the desired backup schedule of a pool's contact lists and configuration.
// +kubebuilder:validation:XValidation:rule="!has(self.storage.s3) || !has(self.storage.s3.objectLock) || has(self.retention.maxAge)",message="spec.storage.s3.objectLock needs spec.retention.maxAge: objects stay locked that long"
type ContactBackupSpec struct {
	// PoolRef names the OCSPool; it cannot change.
	PoolRef PoolReference `json:"poolRef"`

	// Schedule is a 5-field cron expression (minute hour day-of-month month day-of-week), UTC.
	// Each field is checked against its range when the object is written (items *, N or N-M, ?
	// for the days, each with an optional /step, joined by commas); what a pattern cannot see (a
	// range whose start exceeds its end, 30 February) the controller reports as InvalidSchedule.
	// +kubebuilder:default="*/15 * * * *"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^\S+(\s+\S+){4}$`
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^(\*|0*[1-5]?[0-9](-0*[1-5]?[0-9])?)(/0*[1-9][0-9]*)?(,(\*|0*[1-5]?[0-9](-0*[1-5]?[0-9])?)(/0*[1-9][0-9]*)?)*(\s|$)')`,message="schedule minute (field 1) must be * or 0-59: a value, a range a-b, a list a,b or any of them with /step"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^\S+\s+(\*|0*(1?[0-9]|2[0-3])(-0*(1?[0-9]|2[0-3]))?)(/0*[1-9][0-9]*)?(,(\*|0*(1?[0-9]|2[0-3])(-0*(1?[0-9]|2[0-3]))?)(/0*[1-9][0-9]*)?)*(\s|$)')`,message="schedule hour (field 2) must be * or 0-23: a value, a range a-b, a list a,b or any of them with /step"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^(\S+\s+){2}(\*|\?|0*([1-9]|[12][0-9]|3[01])(-0*([1-9]|[12][0-9]|3[01]))?)(/0*[1-9][0-9]*)?(,(\*|\?|0*([1-9]|[12][0-9]|3[01])(-0*([1-9]|[12][0-9]|3[01]))?)(/0*[1-9][0-9]*)?)*(\s|$)')`,message="schedule day of month (field 3) must be *, ? or 1-31: a value, a range a-b, a list a,b or any of them with /step"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^(\S+\s+){3}(\*|(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/0*[1-9][0-9]*)?(,(\*|(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0*([1-9]|1[0-2])|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/0*[1-9][0-9]*)?)*(\s|$)')`,message="schedule month (field 4) must be * or 1-12 (or JAN-DEC): a value, a range a-b, a list a,b or any of them with /step"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^(\S+\s+){4}(\*|\?|(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/0*[1-9][0-9]*)?(,(\*|\?|(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-(0*[0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/0*[1-9][0-9]*)?)*$')`,message="schedule day of week (field 5) must be *, ? or 0-6 (Sunday is 0, or SUN-SAT): a value, a range a-b, a list a,b or any of them with /step"
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Retention says which snapshots to keep.
	// +kubebuilder:default={}
	// +optional
	Retention RetentionSpec `json:"retention,omitempty"`

	// IncludeConfiguration adds the configuration export to every snapshot.
	// +kubebuilder:default=true
	// +optional
	IncludeConfiguration *bool `json:"includeConfiguration,omitempty"`

	// Storage says where snapshots live.
	Storage StorageSpec `json:"storage"`

	// Verify says when restore drills run (daily by default).
	// +kubebuilder:default={}
	// +optional
	Verify VerifySpec `json:"verify,omitempty"`

	// Suspend pauses scheduled runs.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// SnapshotSummary describes one snapshot.
type SnapshotSummary struct {
	// Name of the snapshot in the store.
	Name string `json:"name"`
	// Time the snapshot was taken.
	Time metav1.Time `json:"time"`
	// Users in the snapshot.
	Users int32 `json:"users"`
	// Contacts in the snapshot.
	Contacts int32 `json:"contacts"`
	// Bytes the snapshot added to the store.
	Bytes int64 `json:"bytes"`
	// SkippedServers were down and are not in the snapshot.
	// +optional
	SkippedServers []string `json:"skippedServers,omitempty"`
}

// ContactBackupStatus is the observed state of the backups.
type ContactBackupStatus struct {
	CommonStatus `json:",inline"`

	// LastScheduleTime is the scheduled time of the last run.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// LastSuccessfulTime is when the last snapshot was written.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// NextScheduleTime is when the next run is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// LastHandledRequest is the value of the ocs.ocsha.io/backup-now annotation that last
	// triggered an immediate run; a new value triggers another.
	// +optional
	LastHandledRequest string `json:"lastHandledRequest,omitempty"`
	// Snapshots, newest first (at most 20 listed; the store may hold more).
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Snapshots []SnapshotSummary `json:"snapshots,omitempty"`

	// LastVerifiedTime is when a restore drill last found a snapshot restorable.
	// +optional
	LastVerifiedTime *metav1.Time `json:"lastVerifiedTime,omitempty"`
	// LastVerifiedSnapshot is the snapshot that drill verified.
	// +optional
	LastVerifiedSnapshot string `json:"lastVerifiedSnapshot,omitempty"`
	// LastVerifyScheduleTime is the scheduled time of the last drill, whatever its outcome.
	// +optional
	LastVerifyScheduleTime *metav1.Time `json:"lastVerifyScheduleTime,omitempty"`
	// LastHandledVerifyRequest is the value of the ocs.ocsha.io/verify-now annotation that last
	// triggered a drill.
	// +optional
	LastHandledVerifyRequest string `json:"lastHandledVerifyRequest,omitempty"`

	// Store describes what the storage holds for this ContactBackup, measured after each run.
	// +optional
	Store *BackupStoreStatus `json:"store,omitempty"`
}

// BackupStoreStatus are the figures of a backup store.
type BackupStoreStatus struct {
	// Bytes is what the store holds for this ContactBackup: compressed, each content once.
	Bytes int64 `json:"bytes"`
	// Objects is the number of files or S3 objects.
	Objects int64 `json:"objects"`
	// LastSnapshotNewBytes is what the newest snapshot added to the store.
	LastSnapshotNewBytes int64 `json:"lastSnapshotNewBytes"`
	// LogicalBytes is the uncompressed size of the data of every snapshot, as if each were
	// stored in full.
	LogicalBytes int64 `json:"logicalBytes"`
	// DeduplicationRatio is logicalBytes over the uncompressed size of the distinct contents
	// stored (a decimal, e.g. "23.5"): how much content addressing saves, before compression.
	// +optional
	DeduplicationRatio string `json:"deduplicationRatio,omitempty"`
}

// ContactBackup takes scheduled, content-addressed snapshots of a pool's contact lists and configuration.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cb,categories=ocs
// +kubebuilder:printcolumn:name="Pool",type=string,JSONPath=`.spec.poolRef.name`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Last Success",type=date,JSONPath=`.status.lastSuccessfulTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Verified",type=string,JSONPath=`.status.conditions[?(@.type=="Verified")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ContactBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ContactBackupSpec   `json:"spec"`
	Status ContactBackupStatus `json:"status,omitempty"`
}

// ContactBackupList contains a list of ContactBackup.
// +kubebuilder:object:root=true
type ContactBackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ContactBackup `json:"items"`
}
