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

// StorageSpec says where snapshots live.
type StorageSpec struct {
	// Path is a directory the manager can write (a PVC mounted in its pod).
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'(^|/)\.\.(/|$)')`,message="storage.path must not contain a .. segment: snapshots stay below the volume mounted for them"
	Path string `json:"path"`
}

// AnnotationBackupNow on a ContactBackup requests an immediate run; change its value to ask again.
const AnnotationBackupNow = "ocs.ocsha.io/backup-now"

// ContactBackupSpec is the desired backup schedule of a pool's contact lists and configuration.
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
