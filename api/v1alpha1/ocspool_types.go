package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Product is the server software of a pool; it decides the admin dialect.
// +kubebuilder:validation:Enum=OCS2007R2;SkypeForBusiness
type Product string

const (
	// ProductOCS2007R2 is Office Communications Server 2007 R2 Standard Edition (WMI, dbimpexp, lcscmd).
	ProductOCS2007R2 Product = "OCS2007R2"
	// ProductSkypeForBusiness is Skype for Business Server 2015/2019/Subscription Edition (Cs cmdlets).
	ProductSkypeForBusiness Product = "SkypeForBusiness"
)

// WinRMAuth is the HTTP authentication scheme used against WinRM.
// +kubebuilder:validation:Enum=Basic;NTLM;CredSSP
type WinRMAuth string

const (
	// WinRMAuthBasic works with local accounts only.
	WinRMAuthBasic WinRMAuth = "Basic"
	// WinRMAuthNTLM works with domain accounts (DOMAIN\user or user@domain), but its sessions
	// cannot reach Active Directory from the server (the second hop): on a domain, user listings
	// and moves fail with access denied.
	WinRMAuthNTLM WinRMAuth = "NTLM"
	// WinRMAuthCredSSP logs on a domain account like NTLM and delegates its credentials to the
	// server, so that listings and moves reach Active Directory. The server needs
	// Enable-WSManCredSSP -Role Server.
	WinRMAuthCredSSP WinRMAuth = "CredSSP"
)

// WinRMSpec says how to reach a server's WinRM listener.
// The scheme is compared without regard to case, as URL parsers (and WinRM) do: HTTP:// is plain http.
// +kubebuilder:validation:XValidation:rule="!(self.auth == 'Basic' && !self.endpoint.lowerAscii().startsWith('https://')) || (has(self.allowUnencryptedBasic) && self.allowUnencryptedBasic)",message="winrm.auth Basic over plain http:// sends the password readable on the wire: use an https:// endpoint (recommended) or set winrm.allowUnencryptedBasic: true"
// +kubebuilder:validation:XValidation:rule="!(has(self.insecureSkipVerify) && self.insecureSkipVerify && has(self.caSecretRef))",message="winrm.insecureSkipVerify and winrm.caSecretRef exclude each other"
type WinRMSpec struct {
	// Endpoint is the WS-Management URL, e.g. https://ocs1.corp.example.com:5986/wsman.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || url(self).getScheme() == 'http') && url(self).getHost() != ''",message="winrm.endpoint must be an http(s) URL such as https://ocs1.corp.example.com:5986/wsman"
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="winrm.endpoint must not carry user info (user:password@): credentials belong in winrm.credentialsSecretRef"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || (url(self).getEscapedPath() in ['', '/wsman'] && !self.contains('?') && !self.contains('#'))",message="winrm.endpoint path must be /wsman, with no query or fragment: WinRM listens there and nothing else in the URL is used"
	Endpoint string `json:"endpoint"`

	// CredentialsSecretRef names a Secret with keys username and password.
	CredentialsSecretRef LocalObjectReference `json:"credentialsSecretRef"`

	// CASecretRef names a Secret whose ca.crt key holds the PEM CA that signed the listener's certificate.
	// +optional
	CASecretRef *LocalObjectReference `json:"caSecretRef,omitempty"`

	// InsecureSkipVerify turns off certificate verification. Only for labs.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// Auth is the authentication scheme. OCS administration needs a domain account whose
	// credentials reach Active Directory from the server: CredSSP (the default). NTLM and Basic
	// (local accounts only) suit workgroup labs.
	// +kubebuilder:default=CredSSP
	// +optional
	Auth WinRMAuth `json:"auth,omitempty"`

	// AllowUnencryptedBasic permits Basic authentication over plain http://.
	// +optional
	AllowUnencryptedBasic bool `json:"allowUnencryptedBasic,omitempty"`
}

// ServerSpec is one Standard Edition server of the pool.
type ServerSpec struct {
	// Name identifies the server within the pool (a DNS label).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// FQDN is the server's DNS name, as OCS knows it (the pool FQDN of a Standard Edition server).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`
	FQDN string `json:"fqdn"`

	// WinRM says how to reach the server.
	WinRM WinRMSpec `json:"winrm"`

	// Maintenance drains the server: its users move to the others with their contacts.
	// Setting it back to false returns the server to service.
	// +optional
	Maintenance bool `json:"maintenance,omitempty"`
}

// HealthSpec tunes the health probes.
// +kubebuilder:validation:XValidation:rule="!has(self.probeTimeout) || !has(self.probeInterval) || duration(self.probeTimeout) <= duration(self.probeInterval)",message="health.probeTimeout must not exceed health.probeInterval"
type HealthSpec struct {
	// ProbeInterval is the time between two probes of a server.
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="health.probeInterval must be at least 1s: faster probes load the servers and the API server for no earlier failover"
	// +optional
	ProbeInterval string `json:"probeInterval,omitempty"`

	// ProbeTimeout bounds one probe. A timed-out probe counts as a failure but is not proof of death.
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="health.probeTimeout must be positive"
	// +optional
	ProbeTimeout string `json:"probeTimeout,omitempty"`

	// FailureThreshold is how many consecutive failed probes mark a server Unreachable or Unhealthy.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	FailureThreshold int32 `json:"failureThreshold,omitempty"`

	// Services that must run on every server, by service short name (RtcSrv, MSSQL$RTC). Empty
	// means the product's default (RtcSrv). The pattern is the one the admin agent accepts.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_-]{1,80}(\$[A-Za-z0-9_-]{1,80})?$`
	// +optional
	Services []string `json:"services,omitempty"`
}

// ToolsSpec says where the OCS 2007 R2 command-line tools are on every server of the pool. A path
// may start with a %VARIABLE% of the server's environment; it is expanded there. The tools are
// not on PATH on a real server, so the operator always runs them by this path.
type ToolsSpec struct {
	// LcscmdPath is LCSCmd.exe, installed with the product's administrative tools.
	// +kubebuilder:default="%CommonProgramFiles%\\Microsoft Office Communications Server 2007 R2\\lcscmd.exe"
	// +kubebuilder:validation:MinLength=5
	// +kubebuilder:validation:MaxLength=260
	// +kubebuilder:validation:XValidation:rule="self.matches(r'^(%[A-Za-z0-9_()]+%|[A-Za-z]:)([\\x5c][A-Za-z0-9 _.()-]+)+[.][eE][xX][eE]$')",message="tools.lcscmdPath must be an absolute Windows path (or start with a %VARIABLE%) to an .exe, of letters, digits, spaces and _ . ( ) -; no quotes or & | < > ^ !"
	// +optional
	LcscmdPath string `json:"lcscmdPath,omitempty"`

	// DBImpExpPath is DBImpExp.exe. It ships in the \Support folder of the installation media
	// and must be copied to the servers; the default is a Support folder beside LCSCmd.exe.
	// +kubebuilder:default="%CommonProgramFiles%\\Microsoft Office Communications Server 2007 R2\\Support\\DBImpExp.exe"
	// +kubebuilder:validation:MinLength=5
	// +kubebuilder:validation:MaxLength=260
	// +kubebuilder:validation:XValidation:rule="self.matches(r'^(%[A-Za-z0-9_()]+%|[A-Za-z]:)([\\x5c][A-Za-z0-9 _.()-]+)+[.][eE][xX][eE]$')",message="tools.dbimpexpPath must be an absolute Windows path (or start with a %VARIABLE%) to an .exe, of letters, digits, spaces and _ . ( ) -; no quotes or & | < > ^ !"
	// +optional
	DBImpExpPath string `json:"dbimpexpPath,omitempty"`
}

// Role is what a server of the site that is not a front end does.
// +kubebuilder:validation:Enum=Mediation;Edge
type Role string

const (
	// RoleMediation translates between the pool and a PSTN gateway or SIP trunk.
	RoleMediation Role = "Mediation"
	// RoleEdge gives remote, federated and anonymous users access (Access, A/V and Web
	// Conferencing Edge).
	RoleEdge Role = "Edge"
)

// RoleServerSpec is a Mediation or Edge server of the site. It is probed like a front end and
// reported in status.roles; it homes no user and is never a failover target.
// +kubebuilder:validation:XValidation:rule="self.role == 'Mediation' ? (has(self.paths) && size(self.paths) > 0) : (!has(self.paths) || size(self.paths) == 0)",message="spec.roles[].paths names the PSTN paths of a Mediation server (at least one) and is not set on an Edge server"
type RoleServerSpec struct {
	// Name identifies the server within the pool (a DNS label, not one of spec.servers[].name).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Role is Mediation or Edge.
	Role Role `json:"role"`

	// FQDN is the server's DNS name.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`
	FQDN string `json:"fqdn"`

	// WinRM says how to reach the server, as for a front end.
	WinRM WinRMSpec `json:"winrm"`

	// Paths are the PSTN paths this Mediation server carries (spec.gateways[].path): a path
	// serves while one of its Mediation servers and one of its gateways do.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`
	// +listType=set
	// +optional
	Paths []string `json:"paths,omitempty"`

	// Services overrides the services that must run, by short name. Empty means the role's
	// services for the pool's product (docs/metrics.md lists them).
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_-]{1,80}(\$[A-Za-z0-9_-]{1,80})?$`
	// +optional
	Services []string `json:"services,omitempty"`
}

// SIPTransport is how a gateway is reached.
// +kubebuilder:validation:Enum=TCP;TLS
type SIPTransport string

const (
	// SIPTransportTCP is SIP over TCP (port 5060 by convention).
	SIPTransportTCP SIPTransport = "TCP"
	// SIPTransportTLS is SIP over TLS (port 5061 by convention), which Microsoft recommends.
	SIPTransportTLS SIPTransport = "TLS"
)

// GatewaySpec is a PSTN gateway or SIP trunk of a PSTN path. The operator asks it SIP OPTIONS,
// as the Mediation servers do; any final response means it is alive.
// +kubebuilder:validation:XValidation:rule="!has(self.caSecretRef) || self.transport == 'TLS'",message="spec.gateways[].caSecretRef applies to transport TLS only"
type GatewaySpec struct {
	// Name identifies the gateway within the pool.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Address is the gateway's DNS name or IP address.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$`
	Address string `json:"address"`

	// Port is the gateway's SIP port.
	// +kubebuilder:default=5061
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// Transport is TCP or TLS.
	// +kubebuilder:default=TLS
	// +optional
	Transport SIPTransport `json:"transport,omitempty"`

	// Path names the PSTN path the gateway belongs to; the Mediation servers listing it in
	// spec.roles[].paths carry its calls. A path without a Mediation server (or without a
	// gateway) never serves, and PSTNAvailable says so.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`
	Path string `json:"path"`

	// CASecretRef names a Secret whose ca.crt key holds the PEM CA that signed the gateway's
	// certificate; absent, the system's roots are trusted.
	// +optional
	CASecretRef *LocalObjectReference `json:"caSecretRef,omitempty"`
}

// OCSPoolSpec is the desired state of a pair (or more) of Standard Edition servers.
// +kubebuilder:validation:XValidation:rule="self.servers.all(a, self.servers.exists_one(b, b.fqdn.lowerAscii() == a.fqdn.lowerAscii()))",message="spec.servers[].fqdn must be unique"
// +kubebuilder:validation:XValidation:rule="!has(self.roles) || self.roles.all(r, !self.servers.exists(s, s.name == r.name))",message="spec.roles[].name must differ from every spec.servers[].name"
type OCSPoolSpec struct {
	// Product is the server software; it cannot change.
	// +kubebuilder:default=OCS2007R2
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.product is immutable"
	// +optional
	Product Product `json:"product,omitempty"`

	// Servers of the pool, 2 to 16, with unique names.
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Servers []ServerSpec `json:"servers"`

	// Health tunes the probes.
	// +kubebuilder:default={}
	// +optional
	Health HealthSpec `json:"health,omitempty"`

	// Tools says where the OCS 2007 R2 tools are (unused by Skype for Business).
	// +kubebuilder:default={}
	// +optional
	Tools ToolsSpec `json:"tools,omitempty"`

	// Suspend pauses all probes and actions.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Roles are the site's Mediation and Edge servers. They are probed with spec.health and
	// reported; they never home users and are never failover targets.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Roles []RoleServerSpec `json:"roles,omitempty"`

	// Gateways are the PSTN gateways or SIP trunks of the site's PSTN paths.
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	// +optional
	Gateways []GatewaySpec `json:"gateways,omitempty"`
}

// ServerState is the observed state of one server.
// +kubebuilder:validation:Enum=Unknown;Healthy;Unhealthy;Unreachable;Draining;Drained;AuthenticationFailed;TLSFailed
type ServerState string

const (
	// ServerUnknown: not probed yet.
	ServerUnknown ServerState = "Unknown"
	// ServerHealthy: WinRM answers and every service runs.
	ServerHealthy ServerState = "Healthy"
	// ServerUnhealthy: WinRM answers but a service is not running (failureThreshold probes in a row).
	ServerUnhealthy ServerState = "Unhealthy"
	// ServerUnreachable: WinRM does not answer (failureThreshold probes in a row).
	ServerUnreachable ServerState = "Unreachable"
	// ServerDraining: in maintenance, users still homed on it.
	ServerDraining ServerState = "Draining"
	// ServerDrained: in maintenance, no user homed on it.
	ServerDrained ServerState = "Drained"
	// ServerAuthenticationFailed: WinRM answers but refuses the credentials of the server's
	// Secret (failureThreshold probes in a row). The server's health is unknown, and a wrong
	// password is no proof of death: it is never failed over.
	ServerAuthenticationFailed ServerState = "AuthenticationFailed"
	// ServerTLSFailed: the listener's certificate does not verify against the configured CA
	// (failureThreshold probes in a row). Like AuthenticationFailed, never failed over.
	ServerTLSFailed ServerState = "TLSFailed"
)

// ServerStatus is the observed state of one server.
type ServerStatus struct {
	// Name of the server (spec.servers[].name).
	Name string `json:"name"`
	// State of the server.
	State ServerState `json:"state"`
	// ConsecutiveFailures counts failed probes since the last success.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// LastProbeTime is when the server was last probed.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
	// LastTransitionTime is when State last changed; UserHoming measures failover.delay from it.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// DownSince is when the server last went down (Unreachable or Unhealthy); it does not move
	// while the server changes from one down state to the other, and is empty while it is not
	// down. UserHoming measures failover.delay from it.
	// +optional
	DownSince *metav1.Time `json:"downSince,omitempty"`
	// HomedUsers is the number of users whose home is this server.
	// +optional
	HomedUsers int32 `json:"homedUsers"`
	// Message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
	// Preflight is the last check that the server can be administered: PowerShell version,
	// tools, management interface, directory access. No move, export or import runs on a server
	// whose preflight has not passed.
	// +optional
	Preflight *PreflightStatus `json:"preflight,omitempty"`
}

// PreflightResult is the outcome of a server's preflight.
// +kubebuilder:validation:Enum=Passed;Failed;Pending
type PreflightResult string

const (
	// PreflightPassed: every check passed (a check that cannot be run is reported, not failed).
	PreflightPassed PreflightResult = "Passed"
	// PreflightFailed: a check failed; Reason names the first one.
	PreflightFailed PreflightResult = "Failed"
	// PreflightPending: the server answers but has not been checked since it (re)connected.
	PreflightPending PreflightResult = "Pending"
)

// PreflightStatus is the last preflight of one server.
type PreflightStatus struct {
	// Result of the check.
	Result PreflightResult `json:"result"`
	// Reason names the first failed check, as the ServersCompatible condition does.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says what failed and how to fix it, or what was checked.
	// +optional
	Message string `json:"message,omitempty"`
	// PowerShellVersion is what the server runs ("1.0" when $PSVersionTable is absent).
	// +optional
	PowerShellVersion string `json:"powerShellVersion,omitempty"`
	// Checks lists each check with its outcome, e.g. "DBImpExpPath=Passed".
	// +optional
	Checks []string `json:"checks,omitempty"`
	// LastCheckTime is when the server was last checked.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
	// ObservedGeneration is the OCSPool generation checked: a spec change (tool paths) checks again.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// RoleServerStatus is the observed state of one Mediation or Edge server.
type RoleServerStatus struct {
	// Name of the server (spec.roles[].name).
	Name string `json:"name"`
	// Role of the server.
	Role Role `json:"role"`
	// State is Unknown, Healthy, Unhealthy, Unreachable, AuthenticationFailed or TLSFailed, with
	// the front ends' hysteresis (spec.health.failureThreshold).
	State ServerState `json:"state"`
	// ConsecutiveFailures counts failed probes since the last success.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// LastProbeTime is when the server was last probed.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
	// LastTransitionTime is when State last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// Message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
}

// GatewayState is the observed state of one gateway.
// +kubebuilder:validation:Enum=Unknown;Answering;NotAnswering;TLSFailed
type GatewayState string

const (
	// GatewayUnknown: not probed yet.
	GatewayUnknown GatewayState = "Unknown"
	// GatewayAnswering: the gateway sent a final response to OPTIONS.
	GatewayAnswering GatewayState = "Answering"
	// GatewayNotAnswering: no final response (refused, unreachable, timed out) failureThreshold
	// probes in a row.
	GatewayNotAnswering GatewayState = "NotAnswering"
	// GatewayTLSFailed: the gateway's certificate did not verify failureThreshold probes in a row.
	GatewayTLSFailed GatewayState = "TLSFailed"
)

// GatewayStatus is the observed state of one gateway.
type GatewayStatus struct {
	// Name of the gateway (spec.gateways[].name).
	Name string `json:"name"`
	// Path of the gateway (spec.gateways[].path).
	Path string `json:"path"`
	// State of the gateway.
	State GatewayState `json:"state"`
	// ConsecutiveFailures counts failed probes since the last success.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// LastProbeTime is when the gateway was last probed.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
	// LastTransitionTime is when State last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// LastResponse is the status line of the last final response, e.g. "200 OK".
	// +optional
	LastResponse string `json:"lastResponse,omitempty"`
	// Message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
}

// OCSPoolStatus is the observed state of the pool.
type OCSPoolStatus struct {
	CommonStatus `json:",inline"`

	// Servers reports each server, in spec order.
	// +optional
	// +listType=map
	// +listMapKey=name
	Servers []ServerStatus `json:"servers,omitempty"`

	// ServingServers counts Healthy servers that are not in maintenance, as "serving/total".
	// +optional
	ServingServers string `json:"servingServers,omitempty"`

	// HomedUsers is the number of users homed on the pool's servers.
	// +optional
	HomedUsers int32 `json:"homedUsers"`

	// Roles reports each Mediation and Edge server, in spec order.
	// +optional
	// +listType=map
	// +listMapKey=name
	Roles []RoleServerStatus `json:"roles,omitempty"`

	// Gateways reports each gateway, in spec order.
	// +optional
	// +listType=map
	// +listMapKey=name
	Gateways []GatewayStatus `json:"gateways,omitempty"`
}

// OCSPool is a set of OCS 2007 R2 (or Skype for Business) Standard Edition servers kept highly available.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ocspool,categories=ocs
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Product",type=string,JSONPath=`.spec.product`,priority=1
// +kubebuilder:printcolumn:name="Serving",type=string,JSONPath=`.status.servingServers`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.homedUsers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OCSPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   OCSPoolSpec   `json:"spec"`
	Status OCSPoolStatus `json:"status,omitempty"`
}

// OCSPoolList contains a list of OCSPool.
// +kubebuilder:object:root=true
type OCSPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OCSPool `json:"items"`
}
