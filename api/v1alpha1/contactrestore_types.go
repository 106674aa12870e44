package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RestoreMode says how a restored list meets the list a user has now.
// +kubebuilder:validation:Enum=Merge;Replace
type RestoreMode string

const (
	// RestoreMerge adds what the snapshot holds and the user lacks; nothing the user has is
	// removed. It is what dbimpexp /import and Update-CsUserData do.
	RestoreMerge RestoreMode = "Merge"
	// RestoreReplace would make the list equal to the snapshot. Neither product can do it for a
	// user without deleting the user's data first (docs/runbooks.md), so the controller refuses
	// it with the reason ReplaceUnsupported.
	RestoreReplace RestoreMode = "Replace"
)

// MaxRestoreUsers bounds spec.users: a longer list belongs in a server or pool restore.
const MaxRestoreUsers = 100

// RestoreRequestSpec says which users' contact lists to restore from which snapshot. It cannot
// change: a ContactRestore runs once; create another to restore again. (The name
// ContactRestoreSpec is UserHoming's spec.contactRestore.)
// +kubebuilder:validation:XValidation:rule="(has(self.users) ? 1 : 0) + (has(self.server) ? 1 : 0) + (has(self.pool) && self.pool ? 1 : 0) == 1",message="spec needs exactly one target: spec.users, spec.server or spec.pool: true"
// +kubebuilder:validation:XValidation:rule="self.backupRef == oldSelf.backupRef && has(self.snapshot) == has(oldSelf.snapshot) && (!has(self.snapshot) || self.snapshot == oldSelf.snapshot) && has(self.users) == has(oldSelf.users) && (!has(self.users) || self.users == oldSelf.users) && has(self.server) == has(oldSelf.server) && (!has(self.server) || self.server == oldSelf.server) && has(self.pool) == has(oldSelf.pool) && (!has(self.pool) || self.pool == oldSelf.pool) && has(self.mode) == has(oldSelf.mode) && (!has(self.mode) || self.mode == oldSelf.mode) && has(self.dryRun) == has(oldSelf.dryRun) && (!has(self.dryRun) || self.dryRun == oldSelf.dryRun)",message="spec is immutable: a ContactRestore runs once; create a new one"
type RestoreRequestSpec struct {
	// BackupRef names the ContactBackup whose snapshots are read; its spec.poolRef is the pool
	// restored into.
	BackupRef LocalObjectReference `json:"backupRef"`

	// Snapshot is the name of the snapshot to restore from (status.snapshots[].name of the
	// ContactBackup); empty means the newest readable one when the restore starts.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	// +optional
	Snapshot string `json:"snapshot,omitempty"`

	// Users are the SIP URIs of the users to restore, each into the server homing it now.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^sip:[^@\s]+@[^@\s]+$`
	// +listType=set
	// +optional
	Users []string `json:"users,omitempty"`

	// Server restores everyone homed on this server of the pool now (spec.servers[].name).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Server string `json:"server,omitempty"`

	// Pool restores everyone homed in the pool now.
	// +optional
	Pool bool `json:"pool,omitempty"`

	// Mode is Merge (the default: what the snapshot holds is added, nothing is removed) or
	// Replace (refused: no supported product replaces a list without deleting it first).
	// +kubebuilder:default=Merge
	// +optional
	Mode RestoreMode `json:"mode,omitempty"`

	// DryRun reads the snapshot and the servers and reports, per server, how many users and
	// contacts a restore would add, without writing anything.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// RestoreCounts counts the users of a restore.
type RestoreCounts struct {
	// Targeted users: those named, or homed on the server or pool and held by the snapshot.
	// +optional
	Targeted int32 `json:"targeted,omitempty"`
	// Restored users lacked something the snapshot holds and now hold all of it.
	// +optional
	Restored int32 `json:"restored,omitempty"`
	// Unchanged users already held everything the snapshot holds: nothing was imported.
	// +optional
	Unchanged int32 `json:"unchanged,omitempty"`
	// Failed users could not be restored; status.failedUsers names the first ones.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// WithoutCopy counts the users homed on the target server or pool that the snapshot does
	// not hold (created since): they are left alone and not targeted.
	// +optional
	WithoutCopy int32 `json:"withoutCopy,omitempty"`
}

// RestoreFailure is one user whose restore failed, and why.
type RestoreFailure struct {
	// User is the user's SIP URI.
	User string `json:"user"`
	// Reason says why, in a sentence.
	Reason string `json:"reason"`
}

// RestoreServerProgress is how far a restore got on one server. Users are taken in the order of
// their lower-cased SIP URI; everyone up to doneThrough is counted.
type RestoreServerProgress struct {
	// Name of the server (spec.servers[].name of the pool).
	Name string `json:"name"`
	// DoneThrough is the lower-cased SIP URI of the last user settled on this server.
	// +optional
	DoneThrough string `json:"doneThrough,omitempty"`
	// Importing is the import in flight: written before it runs, so that a restarted manager
	// reads the users it covered back instead of trusting this record.
	// +optional
	Importing *RestoreImport `json:"importing,omitempty"`
	// Restored, Unchanged and Failed count this server's settled users.
	// +optional
	Restored int32 `json:"restored,omitempty"`
	// +optional
	Unchanged int32 `json:"unchanged,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
}

// RestoreImport is one import a pass started: the users after doneThrough up to and including
// through.
type RestoreImport struct {
	// Through is the lower-cased SIP URI of the last user the import covers.
	Through string `json:"through"`
	// Unchanged is how many of its users already held their whole snapshot list before it.
	// +optional
	Unchanged int32 `json:"unchanged,omitempty"`
	// Attempts counts the passes that ran the import without learning its outcome.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}

// RestorePreview is what a dry run found on one server.
type RestorePreview struct {
	// Server is the server's name.
	Server string `json:"server"`
	// Users targeted on the server.
	Users int32 `json:"users"`
	// UsersToRestore lack something the snapshot holds.
	UsersToRestore int32 `json:"usersToRestore"`
	// Contacts would be added (contacts only; groups and access entries are not counted).
	Contacts int32 `json:"contacts"`
}

// ContactRestoreStatus is what a restore did.
type ContactRestoreStatus struct {
	CommonStatus `json:",inline"`

	// Pool is the OCSPool restored into (the ContactBackup's spec.poolRef), set when the
	// restore starts: a UserHoming of that pool starts no operation while the restore runs.
	// +optional
	Pool string `json:"pool,omitempty"`
	// Snapshot is the snapshot restored from (spec.snapshot, or the newest at the start).
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
	// StartTime is when the restore started writing, or for a dry run reading.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when it ended; a ContactRestore never runs again.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// VerifiedTime is when the snapshot's copy of every targeted user matched its digest and
	// encoded into the pool's import format; nothing is written before.
	// +optional
	VerifiedTime *metav1.Time `json:"verifiedTime,omitempty"`
	// Users counts the users.
	// +optional
	Users RestoreCounts `json:"users,omitempty"`
	// FailedUsers names the first users that failed (at most 10; users.failed counts them all).
	// +kubebuilder:validation:MaxItems=10
	// +optional
	FailedUsers []RestoreFailure `json:"failedUsers,omitempty"`
	// Servers is the progress per server.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Servers []RestoreServerProgress `json:"servers,omitempty"`
	// DryRun is a dry run's finding per server.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	DryRun []RestorePreview `json:"dryRun,omitempty"`
	// FailedPasses counts the consecutive passes that failed; the third ends the restore.
	// +optional
	FailedPasses int32 `json:"failedPasses,omitempty"`
}

// ContactRestore reasons (conditions Ready, Reconciling, Stalled, Degraded).
const (
	// ReasonRestoreWaiting: a UserHoming operation runs on the same pool; the restore starts
	// when it ends.
	ReasonRestoreWaiting = "WaitingForUserHoming"
	// ReasonVerifyingSnapshot: the snapshot's copies of the targeted users are being read.
	ReasonVerifyingSnapshot = "VerifyingSnapshot"
	// ReasonRestoringContacts: imports run.
	ReasonRestoringContacts = "Restoring"
	// ReasonRestoreCompleted: every targeted user was settled (restored, unchanged or failed).
	ReasonRestoreCompleted = "RestoreCompleted"
	// ReasonDryRunCompleted: the dry run's counts are in status.dryRun.
	ReasonDryRunCompleted = "DryRunCompleted"
	// ReasonUsersFailed: some users could not be restored (Degraded).
	ReasonUsersFailed = "UsersFailed"
	// ReasonReplaceUnsupported: spec.mode Replace; no supported product replaces a contact list
	// without deleting the user's data first.
	ReasonReplaceUnsupported = "ReplaceUnsupported"
	// ReasonBackupNotFound: spec.backupRef names no ContactBackup.
	ReasonBackupNotFound = "BackupNotFound"
	// ReasonSnapshotNotFound: the snapshot named (or, with none named, any) is not in the store.
	ReasonSnapshotNotFound = "SnapshotNotFound"
	// ReasonServerNotInPool: spec.server names no server of the pool.
	ReasonServerNotInPool = "ServerNotInPool"
	// ReasonRestoreFailed: passes failed three times in a row; the restore ended.
	ReasonRestoreFailed = "RestoreFailed"
	// ReasonContactRestoreRunning: on a UserHoming, a ContactRestore of the same pool runs; no
	// operation starts until it ends.
	ReasonContactRestoreRunning = "ContactRestoreRunning"
)

// ContactRestore restores contact lists from a ContactBackup snapshot, once.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cr,categories=ocs
// +kubebuilder:printcolumn:name="Backup",type=string,JSONPath=`.spec.backupRef.name`
// +kubebuilder:printcolumn:name="Snapshot",type=string,JSONPath=`.status.snapshot`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Targeted",type=integer,JSONPath=`.status.users.targeted`
// +kubebuilder:printcolumn:name="Restored",type=integer,JSONPath=`.status.users.restored`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.users.failed`
// +kubebuilder:printcolumn:name="Completed",type=date,JSONPath=`.status.completionTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ContactRestore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RestoreRequestSpec   `json:"spec"`
	Status ContactRestoreStatus `json:"status,omitempty"`
}

// ContactRestoreList contains a list of ContactRestore.
// +kubebuilder:object:root=true
type ContactRestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ContactRestore `json:"items"`
}

// GetCommonStatus returns the status fields shared by all kinds.
func (r *ContactRestore) GetCommonStatus() *CommonStatus { return &r.Status.CommonStatus }

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &ContactRestore{}, &ContactRestoreList{})
		return nil
	})
}
