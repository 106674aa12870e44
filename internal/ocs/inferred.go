package ocs

import (
	"regexp"
	"strings"
	"time"
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

// Unverifiable behaviours, and what the agent does about each.
//
// Moves [unverifiable]: the OCS 2007 R2 planned move (HomeServerDN + Put()) and forced move
// (TargetServerDNIfMoving) are reconstructions that no public script shows working
// (ocs-evidence.md #3, #4), and the user class reads Active Directory (#5); SolidCP's R2
// provider polls up to ten times after Put() before its change is visible. So a move is
// counted only once the directory shows the user on the target: after a batch the agent
// re-reads the users the server reported moved (confirm.go) up to defaultConfirmReads times,
// the first at once and then with pauses doubling from firstConfirmPause to maxConfirmPause,
// and reports those still elsewhere as failed, to be retried (a move to the current home is a
// no-op). Skype for Business moves are documented (Move-CsUser.md) but get the same check.
const (
	defaultConfirmReads = 10
	firstConfirmPause   = 250 * time.Millisecond
	maxConfirmPause     = 4 * time.Second
)

// Moves via either server [inferred]: a planned move is a write of the user's Active Directory
// object (OCS 2007 R2: MSFT_SIPESUserSetting.HomeServerDN + Put(), a class that "defines the
// settings for a specific Active Directory user", ocs-evidence.md #5; Skype for Business:
// Move-CsUser -Target names the destination pool and runs wherever the management shell does,
// Move-CsUser.md), not an action of the server it runs on. The Move Users wizard is run from
// the administrative console of any server, and a planned move needs both servers up whichever
// runs it (bb936626). So the operator runs a planned batch on its source or its target
// (controllers moveVia: alternately, so that a drain uses both servers' command slots), and
// judges it only by the directory read back afterwards (confirm.go), as every move. A forced
// move runs on its target: its source is down.

// Standard input [unverifiable]: no public source shows [Console]::In receiving piped data
// inside -EncodedCommand on PowerShell 2.0 (ocs-evidence.md #15; Ansible's stdin bootstrap uses
// $input and requires 3.0), and a 2.0 host waits for the end of a redirected stdin (#14). So
// the agent never relies on it: data moves as 2.0-era clients proved it does (Packer's winrmcp,
// packer-community/winrmcp cp.go): its base64, in chunks, appended to a %TEMP% file by cmd's
// echo, one command line each within cmd's 8,191 characters (upload.go); the last chunk rides
// on the line that runs the script, which reads the file and deletes it. Base64 holds none of
// cmd's special characters, and user names travel inside it, never as text on a command line.
// stdin is still closed on every PowerShell line, as a 2.0 host waits for its end.

// Warm PowerShell (warm.go) [documented, and inferred for WinRS]: `powershell.exe -Command -`
// reads its commands from standard input and runs them "one statement at a time as though they
// were typed at the PowerShell command prompt" (learn.microsoft.com about_PowerShell_exe, 5.1);
// PowerShell/PowerShell#3223 and #2068 (5.1.14393) show it running each statement as its lines
// arrive, and that a statement spanning lines ends only at a blank line, so a request is one
// `try { … } catch { … }` statement with no blank line inside, closed by one (the workaround in
// MicrosoftDocs/PowerShell-Docs#11098), and #21808 that each statement is judged on its own, so
// the request sets $ErrorActionPreference inside itself. A persistent `-NoExit -Command -` process
// fed requests on stdin with an end marker per request is what go-powershell clients do locally
// (K265/go-powershell, after bhendo/go-powershell). That WinRS passes Send data to the process
// as it arrives, and Receive returns its output before it ends, is what the protocol is for
// (MS-WSMV Send/Receive; winrm-wsman.md §8, §12), not observed on a real SfB server. No PSRP
// library for Go is maintained (smnsjas/go-psrpcore: one author, untagged; pypsrp and psrp-rs
// are Python and Rust), so the operator keeps the cmd shell. `exit` would end the persistent
// process, so a request turns `exit 1` into a throw it catches. Data too long for one line is
// split into lines of 32 KiB (no line limit for a redirected stdin is documented; this stays far
// from any). Only Skype for Business uses it: the OCS 2007 R2 host is PowerShell 2.0, whose
// stdin handling is unverified (above).

// Compressed uploads: an import's payload travels gzipped (upload.go, psReadGzipUploadText), so
// that it takes several times fewer echo lines. The server decompresses it with
// System.IO.Compression.GZipStream, which .NET Framework 2.0 introduced (learn.microsoft.com,
// "GZipStream Class", applies to .NET Framework 2.0 and later), the runtime PowerShell 2.0 runs
// on; public PowerShell scripts of that era decode in the same way, with New-Object on a
// MemoryStream filled by Write and rewound, a GZipStream/DeflateStream in Decompress mode and a
// StreamReader over it (Spacial/awesome-csirt scripts/ghetto_decoder.ps1; the TechNet "unzip gz
// files using powershell" answer in yuys13/skk-develop.nvim powershell/degzip.ps1). The script
// uses no loop (StreamReader.ReadToEnd), no Stream.CopyTo (.NET 4) and no ::new (PowerShell 5).
// What the import did is still judged only by dbimpexp's exit code and the read-back export.

// Compressed answers: on OCS 2007 R2 the big answers (a whole server's export, per-user exports,
// an import's read-back files, the user listing) travel as gzip frames (frame.go, psFrameGzip):
// UTF-16 XML shrinks many times, and every byte saved is base64 the server prints, SOAP Receive
// envelopes the manager parses and Receive round trips. The script compresses with
// System.IO.Compression.GZipStream in Compress mode, .NET Framework 2.0's (learn.microsoft.com
// "GZipStream Class", .NET Framework 2.0 and later), as public PowerShell scripts do: New-Object
// on a MemoryStream, a GZipStream over it with ([IO.Compression.CompressionMode]::Compress),
// Write($bytes, 0, $bytes.Length), Close(), then the MemoryStream's ToArray() after it is closed
// (Get-CompressedByteArray, gist.github.com/marcgeld/bfacfd8d70b34fdf1db0022508b02aca, copied
// into many scripts; powershell.org forum "compressing data to gzip"). ToArray "works when the
// MemoryStream is closed" (learn.microsoft.com MemoryStream.ToArray remarks), and Close flushes
// the gzip trailer: GZipStream(stream, mode) does not leave its stream open. No ::new
// (PowerShell 5), no CopyTo (.NET 4), no compression level (.NET 4.5). .NET before 4.5
// compresses weakly (DeflateStream remarks: from 4.5 zlib gives "in most cases, a smaller
// compressed file"), so a real server's gzip frames may be larger than the emulator's (Go's
// gzip.BestSpeed) [inferred: not measured on a Windows host]; UTF-16 XML is redundant enough that
// weak deflate still shrinks it several times. The
// frame is checked as a plain one (its end line counts the compressed bytes), then gunzipped with
// its CRC checked to the stream's end and its size bounded (maxFrameBytes). Small answers (result
// rows, no-file frames, configuration) and Skype for Business exports (ZIP archives already)
// stay plain frames; the readers take either.

// Console width (ocs-evidence.md #12; pywinrm #216): a PowerShell 2.0 host wraps output lines at
// 80 columns with CRLF over WinRM. Every answer the agent reads travels in frames of base64 in
// lines of 76 characters (frame.go), and CLIXML on stderr is unwrapped before parsing.

// Tool output [not found]: dbimpexp's and lcscmd's console text and exit codes are documented
// nowhere (ocs-evidence.md #8). An import is judged by its exit code and a per-user read-back
// (readback.go); an export by the file it wrote.

// lcscmd's /poolname takes the pool's name (Get-OCSBackup.ps1 passes one: /poolname:OCSPool001);
// the agent reads it from the server's PoolDN, the CN before CN=Pools (ocs-admin.md §3.1 "DN
// shapes"; poolNameOf) [inferred: that an SE server's pool name is that CN].

// Native tools and errors [inferred]: a PowerShell host whose output is redirected may turn a
// native program's stderr into error records, which $ErrorActionPreference = 'Stop' would make
// fatal; the agent therefore runs each tool with 'Continue' and judges it by its exit code and
// files (psRunTool).

// Skype for Business restores (ocs-evidence.md #20): Update-CsUserData gets -Confirm:$false, as
// both public restore scripts pass it; the package imported is a real export's with
// DocItemSet.xml replaced and every other part copied (public scripts re-zip the whole export;
// admins pre-populate contacts from a template user's export, teamsadmin.com "docitemset-xml"),
// because the second document of an export is not known and a package without it may be
// refused [inferred]. The template is the agent's last full export, else one user's.

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

// The texts that mark a directory command refused for want of the second hop (NTLM or Basic on a
// domain) are in directory.go (directoryDenied) with their evidence: none is recorded publicly.

// Per-user exports (exportusers.go): Export-CsUserData -UserFilter exports one user's data
// (Export-CsUserData.md on learn.microsoft.com documents -UserFilter; the public restore scripts
// feed such an export, ocs-evidence.md #20). That dbimpexp /user:<user@host> exports one user is
// [inferred] from the import read-back, which relies on the same flag; no public document shows
// it. Either way the operator judges by what the file holds (exportedUsers keeps only users
// whose file holds them), not by the tool's exit code or words.

// Role services (roles.go). Skype for Business: Edge Servers run REPLICA, RTCSRV (Access Edge),
// RTCDATAPROXY (Web Conferencing Edge), RTCMRAUTH (A/V Authentication) and RTCMEDIARELAY (A/V
// Edge), and Mediation Servers run RTCMEDSRV: Microsoft's Cloud Connector monitoring list
// ("Edge Server services: REPLICA, RTCSRV, RTCDATAPROXY, RTCMRAUTH, RTCMEDIARELAY"; "Inbound firewall
// rules are disabled for CS RTCSRV on Edge server, CS RTCMEDSRV on Mediation server",
// learn.microsoft.com/skypeforbusiness/hybrid/plan-skype-for-business-cloud-connector-edition)
// and its OMS alert "RTCMEDSRV is NOT running in Mediation servers"; ocs-admin.md §8.2.
// REPLICA is not required: it replicates configuration, and an Edge whose replica lags still
// serves. OCS 2007 R2: the display names of the Edge services are documented (Access Edge, A/V
// Authentication, A/V Edge, Web Conferencing Edge; ocs-admin.md §8.1 [16]) but not their short
// names, which are taken from the Lync/SfB lineage [inferred]; the Mediation Server's short name
// is not documented either: RTCMEDSRV by lineage, RtcMediationSrv as the issue that asked for
// this names it, so both are asked and either RUNNING counts [inferred]. spec.roles[].services
// overrides the list where a site differs; a name that is not installed reads NOT_FOUND and the
// server Unhealthy, which names the service, so a wrong guess is visible, never silent.
//
// Gateways (controllers, internal/sipprobe): Mediation Servers talk SIP to their gateway over
// TLS (recommended) or TCP (learn.microsoft.com/previous-versions/office/ee323606(v=office.13),
// "Configure the new Mediation Server") and send it SIP OPTIONS to learn whether it is alive;
// any final response proves the gateway's SIP stack answers [inferred: a 4xx/5xx to OPTIONS
// still means the peer is up, as SIP OPTIONS pingers treat it].
