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

// Install paths of the OCS 2007 R2 tools. lcscmd.exe sits in the Common Files folder of the
// product, as the only public R2 backup script calls it (Get-OCSBackup.ps1:
// 'c:\Program Files\common files\microsoft office communications server 2007 R2\lcscmd.exe';
// ocs-evidence.md #6). DBImpExp.exe ships in the \Support folder of the media and is not
// installed; admins copy it next to the tools (LyncAddContacts.vbs), and Lync 2010 installs it as
// %CommonProgramFiles%\Microsoft Lync Server 2010\Support\DBImpExp.exe (UpdateLyncContacts.ps1),
// so the emulator keeps R2's copy in a Support folder of the R2 directory [inferred]. Neither is
// on PATH: a bare name gets cmd's 9009.
const (
	ocsToolsDir  = `C:\Program Files\Common Files\Microsoft Office Communications Server 2007 R2`
	LcscmdPath   = ocsToolsDir + `\lcscmd.exe`
	DBImpExpPath = ocsToolsDir + `\Support\DBImpExp.exe`
)

// Costs (cost.go) fall where Windows spends them; their default is zero and their sizes are the
// bench's business (docs/benchmarks.md names the public figures). Where: every program start pays
// the process cost (powershell.exe's start is documented at ~0.2-0.6 s for Windows PowerShell 5.1,
// PowerShell/PowerShell#4239 and #6443; cmd's own start is ~40 ms, #6443); a powershell process loads
// the product's module once, by Import-Module or, from PowerShell 3.0, by autoloading at the first
// Cs cmdlet (about_Modules, "module auto-loading"); Export-CsUserData and dbimpexp's export pay per
// user written, so -UserFilter (Export-CsUserData.md, learn.microsoft.com: "-UserFilter" exports one
// user's data) and /user: cost
// one user; the emulator's own rendering of the export is the work that cost stands for, so it
// counts towards the cost rather than after it (renderExport). That a per-user export cost exists at all, and that a loaded module stays loaded for
// the process, are [inferred]: no public measurement of either was found.

// defaultPowerShell is the PowerShell of a product's servers: OCS 2007 R2 runs on Windows Server
// 2008 / 2008 R2, whose PowerShell is 2.0 with WMF 2.0 (KB968929) or built in (ocs-evidence.md
// #11); Skype for Business 2015/2019 runs on 2012 R2 or later, here with 5.1 [inferred].
func defaultPowerShell(p Product) string {
	if p == ProductSkypeForBusiness {
		return "5.1"
	}
	return "2.0"
}

// defaultConsoleWidth is where a product's powershell.exe wraps its output over WinRM: the 2.0
// host wraps stdout and stderr every 80 columns with CRLF (pywinrm #216, ocs-evidence.md #12);
// later hosts of the SfB era are not reported to, so they do not wrap [inferred].
func defaultConsoleWidth(p Product) int {
	if p == ProductSkypeForBusiness {
		return 0
	}
	return 80
}

// Standard input under -EncodedCommand [unverifiable]: no public source shows
// [Console]::In.ReadToEnd() receiving piped data inside -EncodedCommand on PowerShell 2.0
// (ocs-evidence.md #15; Ansible reads stdin with $input and requires 3.0), and a 2.0 host is
// known to wait for the end of a redirected stdin (StackStorm st2 #1695, ocs-evidence.md #14).
// The emulated 1.0 and 2.0 hosts therefore consume stdin before the script runs, so that a
// script reading [Console]::In finds nothing: the agent must, and does, move data as 2.0-era
// clients proved to work, in base64 chunks appended to a %TEMP% file by cmd's echo (Packer's
// winrmcp), each command line within cmd's 8191 characters. The 5.1 host (SfB) passes stdin on.

// Persistent powershell.exe (`-Command -` with stdin left open, the agent's warm PowerShell):
// the emulated host runs each statement once its lines have arrived and keeps variables and the
// loaded module between statements, as about_PowerShell_exe (5.1) and PowerShell/PowerShell#3223
// describe; the process cost is spent once per start and the module cost once per process
// (cost.go), as a module stays loaded for the life of its runspace. The emulator does not end an
// open statement at a blank line as the real host does (#3223): the agent never sends one inside
// a statement.

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
//   - With MoveLag set, directory reads (MSFT_SIPESUserSetting, Get-CsUser) keep showing the old
//     home for that long after a move: the class reads Active Directory (ocs-evidence.md #5), and
//     SolidCP's R2 provider polls up to ten times after Put() before the change is visible. That
//     R2 moves behave so is unverifiable; the default lag is 0, and tests set one to hold the
//     agent to re-reading until the directory shows the new home.

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

// The parts of an Export-CsUserData ZIP: "a .ZIP file containing a pair of XML documents"
// (Export-CsUserData.md), one of them DocItemSet.xml, opened as an OPC package by Backup-Lync
// ([System.IO.Packaging.Package]::Open), so it also holds the OPC [Content_Types].xml. The second
// document's name and content were not found [inferred: ExportSummary.xml, invented]. Update-
// and Import-CsUserData refuse a ZIP that lacks any of them — an [inferred] strictness that keeps
// the agent restoring from a package shaped like a real export (public restore scripts re-zip
// every part of the original export, lync2013_contact_restore_tool.ps1; ocs-evidence.md #20).
type packagePart struct{ name, body string }

func packageParts(poolFQDN string, users int) []packagePart {
	return []packagePart{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="text/xml" /></Types>`},
		{"DocItemSet.xml", ""},
		{"ExportSummary.xml", fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><ExportSummary Source="%s" Users="%d" />`, poolFQDN, users)},
	}
}

func errCsIncompletePackage(path, part string) string {
	return fmt.Sprintf("The file %q is not a valid user data package: it has no %s.", path, part)
}

// Confirmation: Move-CsUser, Update-CsUserData and Import-CsUserData ask before they act unless
// given -Confirm:$false (or -Force); under powershell.exe -NonInteractive the question is the
// host's terminating error (ps.Call.Confirmed). That these cmdlets prompt is [inferred] from both
// public restore scripts passing -Confirm:$False and Move-CsUser.md's "-Confirm:$False bypasses
// the prompt" (ocs-evidence.md #17, #20); the error text is PowerShell's own.

func errCsFilterUnsupported(f string) string {
	return fmt.Sprintf("The filter %q is not supported: use {RegistrarPool -eq \"<fqdn>\"}.", f)
}

// Services of an emulated server: short name, display name (§8.1, §8.2; OCS short names other
// than RtcSrv are [inferred] from the Lync/SfB lineage). Cs marks the product's own services,
// the only ones Get-CsWindowsService reports: it "can only return information for Skype for
// Business Server services; you cannot use this cmdlet … for other Windows services"
// (Get-CsWindowsService.md; ocs-evidence.md #21). IIS and SQL Server answer sc query only.
var serviceCatalog = []catalogService{
	{"RtcSrv", "Front-End", "FrontEnd", true},
	{"RTCIMMCU", "IM Conferencing", "FrontEnd", true},
	{"RTCDATAMCU", "Web Conferencing", "FrontEnd", true},
	{"RTCAVMCU", "Audio/Video Conferencing", "FrontEnd", true},
	{"RTCASMCU", "Application Sharing", "FrontEnd", true},
	{"REPLICA", "Replica Replicator Agent", "FrontEnd", true},
	{"MSSQL$RTC", "SQL Server (RTC)", "BackEnd", false},
	{"W3SVC", "World Wide Web Publishing Service", "WebServer", false},
}

// roleCatalog is what a Mediation or Edge server runs, per product. Every name is one of the
// names the agent's table asks about (internal/ocs roles.go; roles_test.go checks it). OCS 2007
// R2: the Edge display names are documented, the short names are the Lync/SfB lineage's, and
// the Mediation Server runs RTCMEDSRV, the lineage's name (ocs-admin.md §8.1) [inferred].
// Skype for Business: the Edge list and RTCMEDSRV are Microsoft's Cloud Connector monitoring
// list (ocs-admin.md §8.2, learn.microsoft.com plan-skype-for-business-cloud-connector-edition);
// REPLICA runs on every server of a topology (§8.2). Role names as Get-CsWindowsService shows
// them are invented (the agent reads Name and Status only).
//
// Role servers (roles.go): a Mediation or Edge server homes no users, has no contact database
// and is no pool. What a directory command does there is not documented (an Edge is usually
// outside the domain, so no directory read can work on it); the emulator refuses as a machine
// without the management pieces does, never with invented text: on OCS 2007 R2 the MSFT_SIP*
// classes are absent ("Invalid class") and dbimpexp and lcscmd are not at their install paths
// (9009); on Skype for Business the module offers only Get-CsWindowsService, so the user cmdlets
// are "not recognized" (CommandNotFoundException) [inferred].
var roleCatalog = map[Product]map[string][]catalogService{
	ProductOCS2007R2: {
		RoleMediation: {{"RTCMEDSRV", "Mediation Server", "MediationServer", true}},
		RoleEdge: {
			{"RTCSRV", "Access Edge", "EdgeServer", true},
			{"RTCMRAUTH", "Audio/Video Authentication", "EdgeServer", true},
			{"RTCMEDIARELAY", "Audio/Video Edge", "EdgeServer", true},
			{"RTCDATAPROXY", "Web Conferencing Edge", "EdgeServer", true},
		},
	},
	ProductSkypeForBusiness: {
		RoleMediation: {
			{"REPLICA", "Replica Replicator Agent", "MediationServer", true},
			{"RTCMEDSRV", "Mediation", "MediationServer", true},
		},
		RoleEdge: {
			{"REPLICA", "Replica Replicator Agent", "EdgeServer", true},
			{"RTCSRV", "Access Edge", "EdgeServer", true},
			{"RTCMRAUTH", "Audio/Video Authentication", "EdgeServer", true},
			{"RTCMEDIARELAY", "Audio/Video Edge", "EdgeServer", true},
			{"RTCDATAPROXY", "Web Conferencing Edge", "EdgeServer", true},
		},
	},
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
// "(local)", with any instance.
//
// An import MERGES into each user's data (contacts.Merge: groups by number, contacts by buddy,
// container members; what the user has wins): a public restore script imports an XML holding
// only the missing contacts and says "Existing contacts in address books won't be affected"
// (UpdateLyncContacts.ps1, Lync 2010 DBImpExp; ocs-evidence.md #9). That R2's dbimpexp does the
// same is [inferred]. Its console text above is invented (ocs-evidence.md #8); the agent reads
// only its exit code and the files it writes.
func sqlServerIsLocal(s *server, sql string) bool {
	host, _, _ := strings.Cut(sql, `\`)
	return strings.EqualFold(host, s.fqdn) || strings.EqualFold(host, s.name) || host == "." || strings.EqualFold(host, "(local)")
}

// lcscmd /config (§7.1, all [inferred]): an emulator-defined XML document and short messages.
// The argument rules follow the only real R2 script (Get-OCSBackup.ps1; ocs-evidence.md #10):
// one level per call, global, pool or machine, each with /poolname:<pool>. The emulator refuses
// what no source shows, so that the agent cannot depend on it: a list of levels
// (/level:global,pool), /fqdn, or a missing or unknown /poolname. The pool name is the CN of the
// pool in its DN (CN=<pool>,CN=Pools,…; ocs-admin.md §3.1); for a Standard Edition server the
// emulator names its pool after the server. The wording of the refusals is invented.
const (
	lcscmdNamespace = "urn:ocsha:sim:lcscmd-config"
	lcscmdUsage     = "LCSCmd: usage: LCSCmd.exe /Config /Action:Export|Import /Level:Global|Pool|Machine /PoolName:<pool> /ConfigFile:<file>\r\n"
)

func lcscmdUnknownParameter(name string) string {
	return fmt.Sprintf("/%s is not a valid parameter of the /Config context.", name)
}

func lcscmdBadLevel(level string) string {
	return fmt.Sprintf("/Level:%s is not valid: give one of Global, Pool or Machine.", level)
}

func lcscmdUnknownPool(name string) string {
	if name == "" {
		return "/PoolName is required."
	}
	return fmt.Sprintf("cannot find the pool %s.", name)
}

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
