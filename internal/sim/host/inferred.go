package host

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// Every behaviour of the emulator that no document confirms lives here, each with the section
// of reference/ocs-admin.md (or docs/admin-scripts.md) it reconstructs, so a correction is one edit.

// ocsMajorVersion and ocsMinorVersion are what the WMI classes report for OCS 2007 R2 (3.5)
// [inferred, §3.1: the property names are documented, not the values].
const (
	ocsMajorVersion = 3
	ocsMinorVersion = 5
)

// poolType is MSFT_SIPPoolSetting.PoolType of an SE server (§3.1 names the property) [inferred].
const poolType = "Standard Edition"

// poolDN is the OCS-shaped DN of a Standard Edition server's pool (§3.1 "DN shapes"; the
// Configuration-container suffix is R2's default, §3.1).
func poolDN(name, domain string) string {
	return "CN=LC Services,CN=Microsoft,CN=" + name + ",CN=Pools,CN=RTC Service,CN=Services,CN=Configuration," + domainDN(domain)
}

func domainDN(domain string) string {
	parts := strings.Split(domain, ".")
	for i, p := range parts {
		parts[i] = "DC=" + p
	}
	return strings.Join(parts, ",")
}

// userDN is a user's AD DN (§3.1 lists UserDN; the Users container is [inferred]).
func userDN(display, domain string) string { return "CN=" + display + ",CN=Users," + domainDN(domain) }

// Directory values [inferred, §3.1 names the properties only]: DisplayName "User 0001", UserDN
// in CN=Users, InstanceID a random GUID from the seed, the other MSFT_SIPESUserSetting flags
// False/0/null. Put() acts on HomeServerDN and TargetServerDNIfMoving only; other changes are
// accepted and ignored.

// Move rules [inferred: docs/admin-scripts.md "Move a batch", ocs-admin.md §4.1, §4.3, §11].
//   - A Put() that changes HomeServerDN with TargetServerDNIfMoving empty is a planned move:
//     source and target must be up with RtcSrv running; the contacts travel.
//   - With TargetServerDNIfMoving set (to any DN), it is a forced move: only the target must be
//     up; the home changes and the contacts stay in the source's database.
//   - Move-CsUser -Force drops the contacts: removed from a reachable source, left behind on a
//     dead one (§4.2 "cannot be recovered").
//   - After a forced move the user starts with an empty list on the target: a record left
//     there by an earlier forced move is discarded, so nothing stale reappears.
//   - A move to the server the user is already homed on is a no-op success.

func errSourceUnavailable(fqdn string) string {
	return fmt.Sprintf("The move failed: the source server %s is not available.", fqdn)
}

func errTargetUnavailable(fqdn string) string {
	return fmt.Sprintf("The move failed: the target server %s is not available.", fqdn)
}

func errUnknownTargetDN(dn string) string {
	return fmt.Sprintf("The move failed: no pool has the distinguished name %s.", dn)
}

// WMI errors (§11 table: "unknown class → CLIXML error"; texts as Get-WmiObject prints
// ManagementException messages [inferred]).
const (
	wmiInvalidClass     = "Invalid class"
	wmiInvalidQuery     = "Invalid query"
	wmiInvalidNamespace = "Invalid namespace"
	wmiFQID             = "GetWMIManagementException,Microsoft.PowerShell.Commands.GetWmiObjectCommand"
	// wmiAccessDenied is ManagementException's text for WBEM_E_ACCESS_DENIED, trailing space
	// included, which a Put() reports inside "Exception calling "Put" …" [inferred: the WMI provider
	// of OCS reaching AD without delegated credentials is not documented; access denied is what an
	// anonymous LDAP bind gets, ocs-evidence.md "The second hop"].
	wmiAccessDenied = "Access denied "
)

// errCsDirectoryDenied is a Skype for Business cmdlet's error when the domain controller refuses
// the session [inferred: shape of Lync's AD errors, "Active Directory operation failed on
// DC1.contoso.com. You cannot retry this operation: …" (docs.microsoft.com, skypeforbusiness
// troubleshoot "issue-attempt-move-or-enable-user-command"), with access denied as the cause].
func errCsDirectoryDenied(dc string) string {
	return fmt.Sprintf("Active Directory operation failed on %q. You cannot retry this operation: \"Access is denied.\"", dc)
}

// Skype for Business cmdlet errors (§11 table: "wording invented").
func errCsIdentityNotFound(id string) string {
	return fmt.Sprintf("Management object not found for identity %q.", id)
}

func errCsPoolNotFound(fqdn string) string {
	return fmt.Sprintf("Cannot find a Registrar pool with the FQDN %q.", fqdn)
}

func errCsSourceDown(sip, fqdn string) string {
	return fmt.Sprintf("Cannot move user %q: the source pool %q is not available. Use -Force to move the user without the user data.", sip, fqdn)
}

func errCsTargetDown(fqdn string) string {
	return fmt.Sprintf("Cannot move the user: the target pool %q is not available.", fqdn)
}

func errCsPoolUnavailable(fqdn string) string {
	return fmt.Sprintf("The pool %q is not available.", fqdn)
}

func errCsServiceNotFound(name string) string {
	return fmt.Sprintf("Cannot find any service with service name %q.", name)
}

func errCsWriteFile(path string) string { return fmt.Sprintf("Cannot write the file %q.", path) }

func errCsFileNotFound(path string) string { return fmt.Sprintf("Cannot find the file %q.", path) }

func errCsBadPackage(path string) string {
	return fmt.Sprintf("The file %q is not a valid user data package.", path)
}

// User data rules (§6, §11): Update-CsUserData merges at once (mergeResource: groups by number,
// contacts by buddy, container members by container and member, existing entries win);
// Import-CsUserData stages the package on the pool and overwrites each user's data when RtcSrv
// restarts there (SetState to up from service-stopped or down). Users missing from the
// directory are skipped, as "only users enabled in the target are kept" (§6) [inferred detail].
// Export-CsConfiguration writes a ZIP whose DocItemSet.xml holds the lcscmd document below
// (§7.2 documents only that it is a ZIP).

func errCsFilterUnsupported(f string) string {
	return fmt.Sprintf("The filter %q is not supported: use {RegistrarPool -eq \"<fqdn>\"}.", f)
}

// Services of an emulated server: short name, display name (§8.1, §8.2; OCS short names other
// than RtcSrv are [inferred] from the Lync/SfB lineage).
var serviceCatalog = []struct{ Name, Display, Role string }{
	{"RtcSrv", "Front-End", "FrontEnd"},
	{"RTCIMMCU", "IM Conferencing", "FrontEnd"},
	{"RTCDATAMCU", "Web Conferencing", "FrontEnd"},
	{"RTCAVMCU", "Audio/Video Conferencing", "FrontEnd"},
	{"RTCASMCU", "Application Sharing", "FrontEnd"},
	{"REPLICA", "Replica Replicator Agent", "FrontEnd"},
	{"MSSQL$RTC", "SQL Server (RTC)", "BackEnd"},
	{"W3SVC", "World Wide Web Publishing Service", "WebServer"},
}

// scQuery renders `sc query <name>` (§11 "Output layouts": the usual Windows Server 2008 layout).
func scQuery(name string, running bool) string {
	state, flags := "4  RUNNING", "(STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)"
	if !running {
		state, flags = "1  STOPPED", "(NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)"
	}
	lines := []string{
		"",
		"SERVICE_NAME: " + name,
		"        TYPE               : 10  WIN32_OWN_PROCESS",
		"        STATE              : " + state,
		"                                " + flags,
		"        WIN32_EXIT_CODE    : 0  (0x0)",
		"        SERVICE_EXIT_CODE  : 0  (0x0)",
		"        CHECKPOINT         : 0x0",
		"        WAIT_HINT          : 0x0",
		"",
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// scNotFound is the 1060 failure of `sc query` (§11).
const (
	scNotFound     = "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n\r\n"
	scNotFoundCode = 1060
	scUsage        = "DESCRIPTION:\r\n        SC is a command line program used for communicating with the\r\n        Service Control Manager and services.\r\nUSAGE:\r\n        sc <server> [command] [service name] <option1> <option2>...\r\n"
)

// dbimpexp console text and exit codes (§5.1 "Console text, exit codes … [not found]",
// docs/admin-scripts.md "Import contacts").
const dbimpexpUsage = "Usage: DBImpExp.exe /hrxmlfile:<file> [/sqlserver:<server[\\instance]>] [/restype:user] [/user:<user@host>] [/import]\r\n"

func dbimpexpExported(n int, file string) string {
	return fmt.Sprintf("DBImpExp: exported %d homed resources to %s.\r\n", n, file)
}

func dbimpexpImported(user string) string { return "Imported " + user + "\r\n" }

func dbimpexpSkipped(user string) string {
	return "Skipped " + user + ": the user is not homed on this server.\r\n"
}

func dbimpexpSummary(imported, total int) string {
	return fmt.Sprintf("DBImpExp: imported %d of %d homed resources.\r\n", imported, total)
}

func dbimpexpFileError(file string) string {
	return fmt.Sprintf("DBImpExp: cannot read homed resources from %s.\r\n", file)
}

func dbimpexpWriteError(file string) string {
	return fmt.Sprintf("DBImpExp: cannot write %s.\r\n", file)
}

func dbimpexpUserNotHomed(user string) string {
	return fmt.Sprintf("DBImpExp: user %s is not homed on this server.\r\n", user)
}

func dbimpexpSQLError(sql string) string {
	return fmt.Sprintf("DBImpExp: cannot connect to SQL Server %s.\r\n", sql)
}

// sqlServerIsLocal decides whether dbimpexp's /sqlserver names this SE server's own back end
// (§11 table: "/sqlserver naming another server → message, exit 1"): its FQDN or name, "." or
// "(local)", with any instance. An import replaces each user's data (§11 "replace"; merge vs
// replace is unconfirmed).
func sqlServerIsLocal(s *server, sql string) bool {
	host, _, _ := strings.Cut(sql, `\`)
	return strings.EqualFold(host, s.fqdn) || strings.EqualFold(host, s.name) || host == "." || strings.EqualFold(host, "(local)")
}

// lcscmd /config (§7.1, all [inferred]): an emulator-defined XML document and short messages.
const (
	lcscmdNamespace = "urn:ocsha:sim:lcscmd-config"
	lcscmdUsage     = "LCSCmd: usage: LCSCmd.exe /Config /Action:Export|Import /Level:Global[,Pool][,Machine] /ConfigFile:<file> [/FQDN:<server>] [/PoolName:<pool>]\r\n"
)

func lcscmdExported(levels, file string) string {
	return fmt.Sprintf("LCSCmd: exported %s configuration to %s.\r\nSuccess\r\n", levels, file)
}

func lcscmdImported(file string) string {
	return fmt.Sprintf("LCSCmd: imported configuration from %s.\r\nSuccess\r\n", file)
}

func lcscmdFailed(reason string) string { return "LCSCmd: " + reason + "\r\nFailure\r\n" }

// lcsConfig is the emulator-defined document of `lcscmd /config /action:export`.
type lcsConfig struct {
	XMLName  xml.Name     `xml:"LcsConfiguration"`
	Xmlns    string       `xml:"xmlns,attr"`
	Levels   string       `xml:"Levels,attr"`
	Source   string       `xml:"Source,attr"`
	Global   *lcsGlobal   `xml:"Global"`
	Pools    []lcsPool    `xml:"Pool"`
	Machines []lcsMachine `xml:"Machine"`
}

type lcsGlobal struct {
	SipDomain string `xml:"SipDomain,attr"`
	Users     int    `xml:"Users,attr"`
}

type lcsPool struct {
	Name   string `xml:"Name,attr"`
	FQDN   string `xml:"FQDN,attr"`
	PoolDN string `xml:"PoolDN,attr"`
	Type   string `xml:"PoolType,attr"`
}

type lcsMachine struct {
	FQDN       string `xml:"FQDN,attr"`
	InstanceID string `xml:"InstanceID,attr"`
	Services   string `xml:"Services,attr"`
}
