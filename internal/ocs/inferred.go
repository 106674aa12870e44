package ocs

import (
	"regexp"
	"strings"
)

// Facts about the servers' tools that no document confirms (marked [inferred] in the admin
// reference). Each lives here once so that a correction is one edit; the emulator keeps its own
// copy of the same facts.

const (
	// sfbModule is the PowerShell module imported by Skype for Business scripts. Lync 2010 used
	// "Lync"; 2015 and later ship "SkypeForBusiness".
	sfbModule = "SkypeForBusiness"

	// defaultLcscmdPath is where R2 installs LCSCmd.exe: the only public R2 backup script calls
	// 'c:\Program Files\common files\microsoft office communications server 2007 R2\lcscmd.exe'
	// (Get-OCSBackup.ps1), and MS bb905979 puts LCSCmd under %programfiles%\Common Files\Microsoft
	// Office Communications Server 2007 (ocs-evidence.md #6). Neither tool is on PATH, so the
	// agent never runs one by its bare name (cmd would answer 9009).
	defaultLcscmdPath = `%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\lcscmd.exe`
	// defaultDBImpExpPath: DBImpExp.exe is not installed by R2; it ships in the \Support folder
	// of the media and admins copy it to the server (LyncAddContacts.vbs). Lync 2010 installs it
	// in a Support folder of its Common Files directory
	// (%CommonProgramFiles%\Microsoft Lync Server 2010\Support\DBImpExp.exe, UpdateLyncContacts.ps1),
	// so the default asks for the same layout under R2's directory [inferred: an admin's choice;
	// spec.tools.dbimpexpPath changes it, and preflight says when the file is not there].
	defaultDBImpExpPath = `%CommonProgramFiles%\Microsoft Office Communications Server 2007 R2\Support\DBImpExp.exe`

	// The tools are run from PowerShell with the call operator on their expanded path, as
	// Get-OCSBackup.ps1 runs lcscmd (`& 'c:\…\lcscmd.exe' /config …`): PowerShell quotes the
	// path for CreateProcess, and arguments that come from data (file names, SIP addresses)
	// never pass through cmd.exe, whose %-expansion would rewrite them.

	// tempPrefix names the agent's temporary files in %TEMP%: "ocsha-<16 hex>.<ext>".
	tempPrefix = "ocsha-"

	// scNotFound is the sc.exe failure code for a service that does not exist.
	scNotFound = "1060"
)

var (
	// scState matches the STATE line of `sc query`; real lines carry trailing spaces, so no
	// fixed columns are assumed.
	scState = regexp.MustCompile(`STATE\s*:\s*(\d+)\s+(\w+)`)
	// scServiceName and scFailed start one service's section in chained `sc query` output.
	scServiceName = regexp.MustCompile(`^\s*SERVICE_NAME:\s*(\S+)`)
	scFailed      = regexp.MustCompile(`FAILED\s+(\d+)`)
)

// isSfBService reports whether Get-CsWindowsService knows a service: it "can only return
// information for Skype for Business Server services" (Get-CsWindowsService.md; ocs-evidence.md
// #21). The product's services are the RTC* ones and FTA, LYNCBACKUP, MASTER, REPLICA and
// MEDSVC (ocs-admin.md §8.2); W3SVC, FabricHostSvc and SQL Server's MSSQL$… are Windows' and are
// asked with sc query.
func isSfBService(name string) bool {
	n := strings.ToUpper(name)
	switch n {
	case "FTA", "LYNCBACKUP", "MASTER", "REPLICA", "MEDSVC":
		return true
	}
	return strings.HasPrefix(n, "RTC")
}
