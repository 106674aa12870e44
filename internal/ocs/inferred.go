package ocs

import "regexp"

// Facts about the servers' tools that no document confirms (marked [inferred] in the admin
// reference). Each lives here once so that a correction is one edit; the emulator keeps its own
// copy of the same facts.

const (
	// sfbModule is the PowerShell module imported by Skype for Business scripts. Lync 2010 used
	// "Lync"; 2015 and later ship "SkypeForBusiness".
	sfbModule = "SkypeForBusiness"

	// dbimpexpExe and lcscmdExe are run by name: both are assumed to be on the PATH of the WinRM
	// shell (real installs keep them under the Support folder and Common Files).
	dbimpexpExe = "dbimpexp.exe"
	lcscmdExe   = "lcscmd.exe"

	// tempPrefix names the agent's temporary files in %TEMP%: "ocsha-<16 hex>.<ext>".
	tempPrefix = "ocsha-"

	// scNotFound is the sc.exe failure code for a service that does not exist.
	scNotFound = "1060"
)

var (
	// dbimpexpImported and dbimpexpSkipped match dbimpexp's per-resource import lines, e.g.
	// "Imported user0001@corp.example.com" and
	// "Skipped user0002@corp.example.com: the user is not homed on this server.".
	dbimpexpImported = regexp.MustCompile(`(?i)^\s*Imported\s+(\S+?)\s*$`)
	dbimpexpSkipped  = regexp.MustCompile(`(?i)^\s*Skipped\s+([^\s:]+):?\s*(.*?)\s*$`)
	// dbimpexpSummary matches the import summary, "DBImpExp: imported 1 of 2 homed resources.".
	dbimpexpSummary = regexp.MustCompile(`(?i)DBImpExp:\s*imported\s+(\d+)\s+of\s+(\d+)`)

	// scState matches the STATE line of `sc query`; real lines carry trailing spaces, so no
	// fixed columns are assumed.
	scState = regexp.MustCompile(`STATE\s*:\s*(\d+)\s+(\w+)`)
	// scServiceName and scFailed start one service's section in chained `sc query` output.
	scServiceName = regexp.MustCompile(`^\s*SERVICE_NAME:\s*(\S+)`)
	scFailed      = regexp.MustCompile(`FAILED\s+(\d+)`)
)

// The texts that mark a directory command refused for want of the second hop (NTLM or Basic on a
// domain) are in directory.go (directoryDenied) with their evidence: none is recorded publicly.
