package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PlacementMode says how users spread over the serving servers.
// +kubebuilder:validation:Enum=Balanced;Weighted
type PlacementMode string

const (
	// PlacementBalanced gives every serving server the same share.
	PlacementBalanced PlacementMode = "Balanced"
	// PlacementWeighted gives each serving server a share proportional to spec.weights.
	PlacementWeighted PlacementMode = "Weighted"
)

// FailoverMode says whether forced moves run without a human.
// +kubebuilder:validation:Enum=Automatic;Manual
type FailoverMode string

const (
	// FailoverAutomatic force-moves a dead server's users after failover.delay.
	FailoverAutomatic FailoverMode = "Automatic"
	// FailoverManual reports FailoverRequired and waits.
	FailoverManual FailoverMode = "Manual"
)

// FailbackMode says whether users return when a server serves again.
// +kubebuilder:validation:Enum=Automatic;Manual
type FailbackMode string

const (
	// FailbackAutomatic rebalances with planned moves when a server serves again.
	FailbackAutomatic FailbackMode = "Automatic"
	// FailbackManual leaves users where they are and says so.
	FailbackManual FailbackMode = "Manual"
)

// FailbackSpec tunes the return of users after an unplanned failover. In YAML it is either the
// short form (the mode alone, e.g. `failback: Manual`) or the object form
// (`failback: {mode: Automatic, stableFor: 5m}`).
type FailbackSpec struct {
	// Mode is Automatic (users return once the server has been stable for StableFor) or Manual
	// (users stay on their failover home and the homing says so). Default Manual.
	// +optional
	Mode FailbackMode `json:"mode,omitempty"`
	// StableFor is how long a returning server must stay Healthy before users move back; a
	// server that drops out within it starts the count again. Default 2m.
	// +optional
	StableFor string `json:"stableFor,omitempty"`
	// Problem says, naming the field, what could not be read (a value of another kind, an unknown
	// key); it is not part of the API (UnmarshalJSON sets it) and the controller reports it.
	Problem string `json:"-"`
}

// Pin keeps one user on one server while that server serves.
type Pin struct {
	// User is the SIP address, e.g. sip:alice@corp.example.com.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^sip:[^@\s]+@[^@\s]+$`
	User string `json:"user"`
	// Server is the name of a server of the pool. The pool is another object: a name it does not
	// list is reported by the controller (Stalled, reason InvalidSpec).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Server string `json:"server"`
}

// FailoverSpec tunes the unplanned path.
type FailoverSpec struct {
	// Mode is Automatic (force-move after Delay) or Manual (report and wait).
	// +kubebuilder:default=Automatic
	// +optional
	Mode FailoverMode `json:"mode,omitempty"`

	// Delay is how long a server must stay down before its users are force-moved.
	// A forced move loses contacts not yet in a backup, so a short outage should not trigger one.
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="failover.delay must be positive"
	// +optional
	Delay string `json:"delay,omitempty"`

	// RespectWindows holds failover, too, to spec.maintenanceWindows. Off by default: a failover
	// is an emergency.
	// +optional
	RespectWindows bool `json:"respectWindows,omitempty"`
}

// ApprovalMode says whether failback and rebalance wait for a human's approval.
// +kubebuilder:validation:Enum=Automatic;Manual
type ApprovalMode string

const (
	// ApprovalAutomatic runs failback and rebalance at once.
	ApprovalAutomatic ApprovalMode = "Automatic"
	// ApprovalManual publishes the plan in status.proposal and waits for spec.approvedProposal.
	ApprovalManual ApprovalMode = "Manual"
)

// MaintenanceWindow is a recurring period in which disruptive automatic actions may start.
type MaintenanceWindow struct {
	// Schedule is a 5-field cron expression: when the window opens, e.g. "0 22 * * 1-5".
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule"`
	// Duration is how long the window stays open, e.g. "4h".
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="maintenanceWindows[].duration must be positive"
	Duration string `json:"duration"`
	// TimeZone is the IANA time zone of Schedule, e.g. "Europe/Paris"; default UTC.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}

// ContactRestoreSpec says where restored contacts come from after a forced move.
type ContactRestoreSpec struct {
	// BackupRef names the ContactBackup whose newest snapshot restores force-moved users' contacts.
	// +optional
	BackupRef *LocalObjectReference `json:"backupRef,omitempty"`
}

// UserHomingSpec is the desired spread of a pool's users.
// +kubebuilder:validation:XValidation:rule="self.placement != 'Weighted' || (has(self.weights) && size(self.weights) > 0)",message="spec.weights is required when spec.placement is Weighted"
type UserHomingSpec struct {
	// PoolRef names the OCSPool; it cannot change.
	PoolRef PoolReference `json:"poolRef"`

	// Placement is Balanced or Weighted.
	// +kubebuilder:default=Balanced
	// +optional
	Placement PlacementMode `json:"placement,omitempty"`

	// Weights maps server name to its relative share (Weighted placement). 0 = no users. A name
	// the pool does not list is reported by the controller (Stalled, reason InvalidSpec).
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k] >= 0)",message="spec.weights values must be >= 0"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(k) <= 63)",message="spec.weights keys must be server names (spec.servers[].name of the OCSPool: lower-case DNS labels)"
	// +optional
	Weights map[string]int32 `json:"weights,omitempty"`

	// Pins keep named users on named servers. SIP addresses compare without regard to case, so
	// one user pinned twice in different case is reported by the controller (Stalled, reason
	// InvalidSpec): a rule comparing every pair of 1000 pins would exceed the API server's
	// validation cost budget.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=map
	// +listMapKey=user
	// +optional
	Pins []Pin `json:"pins,omitempty"`

	// MaxImbalancePercent is how far a server may drift from its share before users move.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxImbalancePercent int32 `json:"maxImbalancePercent,omitempty"`

	// MoveBatchSize is the most users one move command carries. A wave's batches may carry
	// fewer, cut evenly so that every command slot of the servers gets the same share.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MoveBatchSize int32 `json:"moveBatchSize,omitempty"`

	// Failover tunes the unplanned path.
	// +kubebuilder:default={}
	// +optional
	Failover FailoverSpec `json:"failover,omitempty"`

	// Failback governs the return of users to a server after an unplanned failover: either the
	// short form `Automatic` | `Manual`, or `{mode, stableFor}`. The return from maintenance is
	// planned and always runs. The API server refuses another string, a wrong mode or stableFor
	// and a value of another kind; the controller reports unknown keys (Stalled, reason
	// InvalidSpec). The schema is completed by make manifests (hack/crd-failback).
	// +kubebuilder:default=Manual
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=""
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Failback FailbackSpec `json:"failback,omitempty"`

	// Approval is Automatic (failback and rebalance start at once) or Manual (the plan is
	// published in status.proposal and runs only once spec.approvedProposal names its id).
	// Failover never waits for an approval.
	// +kubebuilder:default=Automatic
	// +optional
	Approval ApprovalMode `json:"approval,omitempty"`

	// ApprovedProposal is the status.proposal.id a human approved (spec.approval: Manual).
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ApprovedProposal string `json:"approvedProposal,omitempty"`

	// MaintenanceWindows are when failback and rebalance (and failover, with
	// failover.respectWindows) may start. None means at any time.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows,omitempty"`

	// ContactRestore says where restored contacts come from.
	// +optional
	ContactRestore ContactRestoreSpec `json:"contactRestore,omitempty"`

	// Suspend pauses all moves.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// OperationType names what an operation does.
// +kubebuilder:validation:Enum=Rebalance;Drain;Failover;Failback
type OperationType string

const (
	// OperationRebalance spreads users per policy with planned moves.
	OperationRebalance OperationType = "Rebalance"
	// OperationDrain moves a maintenance server's users away with planned moves.
	OperationDrain OperationType = "Drain"
	// OperationFailover force-moves a dead server's users and restores their contacts.
	OperationFailover OperationType = "Failover"
	// OperationFailback returns users to a server that serves again.
	OperationFailback OperationType = "Failback"
)

// Operation records one run of moves. It is written before every mutating step so that a
// restarted manager resumes it instead of starting over.
type Operation struct {
	// Type of the operation.
	Type OperationType `json:"type"`
	// ID is unique per operation.
	ID string `json:"id"`
	// StartTime is when the operation began.
	StartTime metav1.Time `json:"startTime"`
	// CompletionTime is set when the operation has ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Total users the operation moves.
	// +optional
	Total int32 `json:"total,omitempty"`
	// Moved users (planned and forced).
	// +optional
	Moved int32 `json:"moved"`
	// Forced counts the moved users that were force-moved (their contacts stayed behind).
	// +optional
	Forced int32 `json:"forced"`
	// ContactsRestored counts users whose contacts were restored from a snapshot.
	// +optional
	ContactsRestored int32 `json:"contactsRestored"`
	// Failed counts users whose move or restore failed.
	// +optional
	Failed int32 `json:"failed"`
	// BatchesDone counts finished move batches.
	// +optional
	BatchesDone int32 `json:"batchesDone,omitempty"`
	// Step is Moving, Restoring or Completed.
	// +optional
	Step string `json:"step,omitempty"`
	// Servers the operation moves users from.
	// +optional
	From []string `json:"from,omitempty"`
	// InheritedFrom are the sources, still down, of a failover this one took over before its
	// restore ended (a server it moved users onto went down too). They are in From; the users
	// the snapshot homes on them are restored as well, and who holds contacts is read from the
	// servers, never assumed from this failover's own moves.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	InheritedFrom []string `json:"inheritedFrom,omitempty"`
	// Snapshot is the ContactBackup snapshot used to restore contacts.
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
	// SnapshotTime is when Snapshot was taken; older snapshots serve users whose copy in it is corrupt.
	// +optional
	SnapshotTime *metav1.Time `json:"snapshotTime,omitempty"`
	// PendingRestores are the contact imports started and not yet counted. A manager that dies
	// between an import and the status write counts them on resume, so ContactsRestored stays exact.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	PendingRestores []RestoreMark `json:"pendingRestores,omitempty"`
	// FailedPasses counts the consecutive passes in which the same users failed.
	// +optional
	FailedPasses int32 `json:"failedPasses,omitempty"`
	// FailureDigest identifies the set of users that failed in the last pass.
	// +optional
	FailureDigest string `json:"failureDigest,omitempty"`
	// Message summarises the outcome.
	// +optional
	Message string `json:"message,omitempty"`
	// ContactLossWindow is, for a failover, the interval whose contact-list changes could not be
	// restored: from the snapshot's time to the moment the server went down ("no snapshot" when
	// none was available, so every contact of the moved users is lost).
	// +optional
	ContactLossWindow string `json:"contactLossWindow,omitempty"`
}

// Proposal is a planned failback or rebalance waiting for approval (spec.approval: Manual). It
// never lists users: only the number moving between each pair of servers.
type Proposal struct {
	// ID is a short hash of the plan: a changed plan gets a new id.
	ID string `json:"id"`
	// Operation is Failback or Rebalance.
	Operation OperationType `json:"operation"`
	// Moves are the users moving per pair of servers.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Moves []ProposedMove `json:"moves,omitempty"`
	// EstimatedDuration is a rough estimate of how long the moves take, e.g. "3m".
	// +optional
	EstimatedDuration string `json:"estimatedDuration,omitempty"`
	// Contacts is how many contacts the moving users hold (they travel with planned moves).
	// +optional
	Contacts int64 `json:"contacts"`
	// CreatedTime is when this plan was first proposed.
	CreatedTime metav1.Time `json:"createdTime"`
}

// ProposedMove is the number of users a plan moves from one server to another.
type ProposedMove struct {
	// From is the source server.
	From string `json:"from"`
	// To is the target server.
	To string `json:"to"`
	// Users is how many users move.
	Users int32 `json:"users"`
}

// RestoreMark names one contact import that was started: the users of the restore set homed on
// Server whose SIP addresses sort from FirstUser to LastUser.
type RestoreMark struct {
	// Server the contacts were imported into.
	Server string `json:"server"`
	// FirstUser is the first SIP address of the import.
	FirstUser string `json:"firstUser"`
	// LastUser is the last SIP address of the import.
	LastUser string `json:"lastUser"`
}

// HomingServerStatus is one server's share.
type HomingServerStatus struct {
	// Name of the server.
	Name string `json:"name"`
	// HomedUsers is how many users are homed there now.
	HomedUsers int32 `json:"homedUsers"`
	// DesiredUsers is how many the policy wants there.
	DesiredUsers int32 `json:"desiredUsers"`
}

// UserHomingStatus is the observed spread.
type UserHomingStatus struct {
	CommonStatus `json:",inline"`

	// Servers reports each server's share.
	// +optional
	// +listType=map
	// +listMapKey=name
	Servers []HomingServerStatus `json:"servers,omitempty"`
	// TotalUsers of the pool.
	// +optional
	TotalUsers int32 `json:"totalUsers"`
	// PendingMoves is how many moves the current plan still has.
	// +optional
	PendingMoves int32 `json:"pendingMoves"`
	// LastOperation is the running or last finished operation.
	// +optional
	LastOperation *Operation `json:"lastOperation,omitempty"`
	// Progress is the running or last operation's moved/total users, e.g. "1200/2500".
	// +optional
	Progress string `json:"progress,omitempty"`
	// Operation is the type of the running operation, else what waits, e.g. "Failback (waiting
	// for approval)"; empty when nothing runs or waits.
	// +optional
	Operation string `json:"operation,omitempty"`
	// Proposal is the plan waiting for approval (spec.approval: Manual).
	// +optional
	Proposal *Proposal `json:"proposal,omitempty"`
	// NextActionTime is when a held action (failback after its stable period, or a disruptive
	// action outside the maintenance windows) may start.
	// +optional
	NextActionTime *metav1.Time `json:"nextActionTime,omitempty"`
}

// UserHoming keeps a pool's users spread over its serving servers, drains servers for
// maintenance, fails over from dead ones and fails back.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=uh,categories=ocs
// +kubebuilder:printcolumn:name="Pool",type=string,JSONPath=`.spec.poolRef.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.totalUsers`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pendingMoves`
// +kubebuilder:printcolumn:name="Operation",type=string,JSONPath=`.status.operation`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type UserHoming struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   UserHomingSpec   `json:"spec"`
	Status UserHomingStatus `json:"status,omitempty"`
}

// UserHomingList contains a list of UserHoming.
// +kubebuilder:object:root=true
type UserHomingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UserHoming `json:"items"`
}
