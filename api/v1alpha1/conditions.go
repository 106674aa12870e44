package v1alpha1

// Condition types shared by all kinds. Users and tools (kstatus, Argo CD) switch on them.
const (
	// ConditionReady is True when the object's desired state holds and nothing is pending.
	ConditionReady = "Ready"
	// ConditionReconciling is True while an action runs (a probe round, a move batch, a backup).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a human (bad credentials, invalid schedule).
	ConditionStalled = "Stalled"
	// ConditionDegraded is True when the object works but below its desired state.
	ConditionDegraded = "Degraded"
	// ConditionFailoverRequired is True on a UserHoming in Manual failover mode when a server
	// has been down for failover.delay and its users wait for a human.
	ConditionFailoverRequired = "FailoverRequired"
	// ConditionServersCompatible is True on an OCSPool when every server passed its preflight
	// (status.servers[].preflight): nothing is moved, exported or imported on one that did not.
	ConditionServersCompatible = "ServersCompatible"
	// ConditionVerified is True on a ContactBackup when the last restore drill found its snapshot
	// restorable, False when it found damage, Unknown before any drill could run.
	ConditionVerified = "Verified"
	// ConditionPSTNAvailable is True on an OCSPool with spec.gateways while at least one PSTN path
	// serves: one of its Mediation servers is Healthy and one of its gateways answers OPTIONS.
	// Absent when the pool has no gateways.
	ConditionPSTNAvailable = "PSTNAvailable"
	// ConditionExternalAccessAvailable is True on an OCSPool with Edge servers while at least one
	// of them is Healthy. Absent when the pool has no Edge server.
	ConditionExternalAccessAvailable = "ExternalAccessAvailable"
)

// PSTNAvailable and ExternalAccessAvailable reasons. The message names every broken link, e.g.
// "path 2: gateway gw2 not answering OPTIONS". A broken redundant link also makes Degraded True
// with reason RoleNotServing; Ready stays about the front ends.
const (
	// ReasonAllPathsServing: every PSTN path serves with every member.
	ReasonAllPathsServing = "AllPathsServing"
	// ReasonPathDegraded: at least one path serves, but a path or a member of one does not.
	ReasonPathDegraded = "PathDegraded"
	// ReasonNoPathServing: no PSTN path serves: calls to and from the PSTN fail.
	ReasonNoPathServing = "NoPathServing"
	// ReasonAllEdgesServing: every Edge server is Healthy.
	ReasonAllEdgesServing = "AllEdgeServersServing"
	// ReasonEdgeDegraded: at least one Edge server serves, another does not.
	ReasonEdgeDegraded = "EdgeServerNotServing"
	// ReasonNoEdgeServing: no Edge server serves: remote and federated users cannot connect.
	ReasonNoEdgeServing = "NoEdgeServerServing"
	// ReasonRoleNotServing: Degraded because a Mediation or Edge server or a gateway does not serve
	// while every front end does.
	ReasonRoleNotServing = "RoleNotServing"
)

// ServersCompatible reasons. When False, the reason names the first failed check of the first
// server (in spec order) that failed; the message names the server and the fix.
const (
	// ReasonPreflightPassed: every server passed its preflight.
	ReasonPreflightPassed = "PreflightPassed"
	// ReasonPreflightPending: a server answers WinRM but has not been checked yet, or is down.
	ReasonPreflightPending = "PreflightPending"
	// ReasonPowerShellTooOld: the server runs PowerShell 1.0 ($PSVersionTable is absent);
	// Windows Management Framework 2.0 (KB968929) is needed.
	ReasonPowerShellTooOld = "PowerShellTooOld"
	// ReasonLcscmdNotFound: spec.tools.lcscmdPath names no file on the server.
	ReasonLcscmdNotFound = "LcscmdNotFound"
	// ReasonDBImpExpNotFound: spec.tools.dbimpexpPath names no file on the server.
	ReasonDBImpExpNotFound = "DBImpExpNotFound"
	// ReasonWMIClassesMissing: the OCS 2007 R2 WMI classes (MSFT_SIPPoolSetting, …) are missing.
	ReasonWMIClassesMissing = "WMIClassesMissing"
	// ReasonSkypeForBusinessModuleMissing: Import-Module SkypeForBusiness fails.
	ReasonSkypeForBusinessModuleMissing = "SkypeForBusinessModuleMissing"
	// ReasonUsersNotReadable: the account cannot list the users of the directory.
	ReasonUsersNotReadable = "UsersNotReadable"
	// ReasonDirectoryAccessDenied (shared, below) is also a preflight reason: the directory write
	// check was refused.
	// ReasonPreflightError: the preflight itself could not be read; the message says why.
	ReasonPreflightError = "PreflightError"
)

// Reasons shared by all kinds.
const (
	// ReasonInitializing: the first reconcile has not finished yet.
	ReasonInitializing = "Initializing"
	// ReasonSuspended: spec.suspend is true; no action runs.
	ReasonSuspended = "Suspended"
	// ReasonReconciled: the desired state holds.
	ReasonReconciled = "Reconciled"
	// ReasonIdle: no action is running.
	ReasonIdle = "Idle"
	// ReasonAsExpected: the negative condition (Stalled, Degraded) does not hold.
	ReasonAsExpected = "AsExpected"
	// ReasonPoolNotFound: spec.poolRef names no OCSPool.
	ReasonPoolNotFound = "PoolNotFound"
	// ReasonInternalError: an unexpected error; the controller logs carry the details.
	ReasonInternalError = "InternalError"
)

// OCSPool reasons.
const (
	// ReasonProbing: a health probe round is running.
	ReasonProbing = "Probing"
	// ReasonServersServing: every server is healthy and not in maintenance.
	ReasonServersServing = "AllServersServing"
	// ReasonServerNotServing: at least one server is unreachable, unhealthy, draining or drained.
	ReasonServerNotServing = "ServerNotServing"
	// ReasonCredentialsSecretMissing: a credentials Secret or one of its keys is missing.
	ReasonCredentialsSecretMissing = "CredentialsSecretMissing"
	// ReasonCASecretMissing: a CA Secret or its ca.crt key is missing.
	ReasonCASecretMissing = "CASecretMissing"
	// ReasonAuthenticationFailed: WinRM refused the credentials (HTTP 401).
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonTLSFailed: the server's certificate did not verify.
	ReasonTLSFailed = "TLSFailed"
	// ReasonDirectoryAccessDenied: the servers answer, but Active Directory refuses the account's
	// user listings (and so its moves): the WinRM logon cannot make the second hop to a domain
	// controller (auth NTLM or Basic; use CredSSP) or the account lacks the OCS user-admin rights.
	// Stalled is True; nothing is moved until it is fixed.
	ReasonDirectoryAccessDenied = "DirectoryAccessDenied"
	// ReasonWinRMSetupFailed: a server's WinRM settings passed the API's validation but the
	// transport cannot use them (e.g. Basic over plain http stored before that was refused, a
	// port out of range, an unreadable CA); the message names the field.
	ReasonWinRMSetupFailed = "WinRMSetupFailed"
	// ReasonAllServersInMaintenance: spec.servers[].maintenance is true on every server, so a
	// drain has nowhere to send users.
	ReasonAllServersInMaintenance = "AllServersInMaintenance"
)

// UserHoming reasons.
const (
	// ReasonBalanced: users are spread within policy and no move is pending.
	ReasonBalanced = "Balanced"
	// ReasonMovesPending: the plan has moves that have not run yet.
	ReasonMovesPending = "MovesPending"
	// ReasonDraining, ReasonFailingOver, ReasonRebalancing, ReasonFailingBack: an operation runs.
	ReasonDraining        = "Draining"
	ReasonFailingOver     = "FailingOver"
	ReasonRebalancing     = "Rebalancing"
	ReasonFailingBack     = "FailingBack"
	ReasonRestoring       = "RestoringContacts"
	ReasonUsersFailedOver = "UsersOnFailoverHome"
	// ReasonFailoverDelay: a server is down but not yet for failover.delay.
	ReasonFailoverDelay = "WaitingForFailoverDelay"
	// ReasonServerNotDown: the server is not Unreachable or Unhealthy; nothing to fail over.
	ReasonServerNotDown = "ServerNotDown"
	// ReasonServerAnswering: the pool said the server was down, but it answered a direct check
	// with every service running; the pool status was stale, so no user is force-moved.
	ReasonServerAnswering = "ServerAnswering"
	// ReasonFailoverManual: failover.mode is Manual; a human must act.
	ReasonFailoverManual = "FailoverManual"
	// ReasonNoServingServer: no server serves; nothing moves (the observer may be the one cut off).
	ReasonNoServingServer = "NoServingServer"
	// ReasonFailbackManual: a server serves again but failback is Manual; users stay where they are.
	ReasonFailbackManual = "FailbackManual"
	// ReasonMovesFailing: moves failed repeatedly.
	ReasonMovesFailing = "MovesFailing"
	// ReasonPoolNotReady: the pool has not reported server states yet.
	ReasonPoolNotReady = "PoolNotReady"
	// ReasonInvalidSpec: the spec names something the pool does not have (a pin's or weight's
	// server) or pins one user twice in different case; the message names the fields. The
	// offending entries are ignored until fixed.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonWaitingForStableServer: a failback waits until its target servers have stayed
	// Healthy for spec.failback.stableFor.
	ReasonWaitingForStableServer = "WaitingForStableServer"
	// ReasonWaitingForApproval: spec.approval is Manual and status.proposal is not approved yet.
	ReasonWaitingForApproval = "WaitingForApproval"
	// ReasonOutsideMaintenanceWindow: a disruptive action waits for the next maintenance window.
	ReasonOutsideMaintenanceWindow = "OutsideMaintenanceWindow"
	// ReasonFailoverWithoutSnapshot: a failover force-moved users with no snapshot to restore their contacts.
	ReasonFailoverWithoutSnapshot = "FailoverWithoutSnapshot"
	// ReasonPoolOwnedByAnother: another UserHoming, older (by creationTimestamp, then name),
	// owns the same OCSPool; this one does nothing until that one is gone. The message names it.
	ReasonPoolOwnedByAnother = "PoolOwnedByAnother"
	// ReasonFailoverIncomplete: the last failover ended leaving users without their contacts
	// (no snapshot could be read, no readable copy, an import refused) or on the failed server
	// (an address the agent refuses, a move refused pass after pass); the message names them.
	ReasonFailoverIncomplete = "FailoverIncomplete"
	// ReasonWaitingForSource: a running failover waits for a source whose state is not known
	// (re-created pool, refused credentials) before it moves on.
	ReasonWaitingForSource = "WaitingForSource"
)

// ContactBackup reasons.
const (
	// ReasonBackupSucceeded: the last scheduled run wrote a complete snapshot.
	ReasonBackupSucceeded = "BackupSucceeded"
	// ReasonBackupPartial: the last snapshot skipped at least one server.
	ReasonBackupPartial = "BackupPartial"
	// ReasonBackupFailed: the last run wrote no snapshot.
	ReasonBackupFailed = "BackupFailed"
	// ReasonBackingUp: a run is in progress.
	ReasonBackingUp = "BackingUp"
	// ReasonInvalidSchedule: spec.schedule does not parse.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonStorageUnavailable: spec.storage cannot be written (or, for Verified, read): the
	// directory, or the S3 endpoint, bucket, credentials or CA.
	ReasonStorageUnavailable = "StorageUnavailable"
	// ReasonBackupOverdue: the last success is older than two schedule periods.
	ReasonBackupOverdue = "BackupOverdue"
	// ReasonWaitingForSchedule: no run has happened yet.
	ReasonWaitingForSchedule = "WaitingForSchedule"
)

// ContactBackup Verified reasons (restore drills, spec.verify).
const (
	// ReasonVerifying: a restore drill is running (a Reconciling reason).
	ReasonVerifying = "Verifying"
	// ReasonSnapshotVerified: every object of the snapshot matched its digest, every user's list
	// encoded into the product's import format, and the round trip (if asked) gave the list back.
	ReasonSnapshotVerified = "SnapshotVerified"
	// ReasonBlobCorrupt: stored data is missing or does not match its digest.
	ReasonBlobCorrupt = "BlobCorrupt"
	// ReasonDocumentNotEncodable: data matches its digest but a user's contact list no longer
	// decodes, or does not encode into the import format of the pool's product.
	ReasonDocumentNotEncodable = "DocumentNotEncodable"
	// ReasonSnapshotUnreadable: the newest snapshot's manifest cannot be read.
	ReasonSnapshotUnreadable = "SnapshotUnreadable"
	// ReasonRoundTripFailed: the canary's list, imported into its home server, did not read back
	// as the snapshot holds it (or the canary is not in the snapshot or the directory).
	ReasonRoundTripFailed = "RoundTripFailed"
	// ReasonNoSnapshot: there is no snapshot to verify yet.
	ReasonNoSnapshot = "NoSnapshot"
	// ReasonWaitingForVerify: no drill has run yet.
	ReasonWaitingForVerify = "WaitingForVerifySchedule"
	// ReasonInvalidVerifySchedule: spec.verify.schedule does not parse.
	ReasonInvalidVerifySchedule = "InvalidVerifySchedule"
)
