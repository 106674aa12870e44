package ocs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
)

// The scripts below are the shapes of docs/admin-scripts.md. Every value that comes from users
// or the directory enters a script either on stdin or through QuotePS; cmd.exe arguments are
// only validated FQDNs, service names and temporary file names the agent generated.

const (
	// psPrefix runs an encoded script. -NonInteractive keeps a script from waiting for a prompt.
	psPrefix = "powershell.exe -NoProfile -NonInteractive -EncodedCommand "
	// maxScriptChars keeps a script within the -EncodedCommand budget: cmd.exe accepts 8,191
	// characters, and the base64 of UTF-16LE takes 8/3 characters per script character.
	maxScriptChars = 3000
	// maxCommandLine is cmd.exe's limit on a composed command line.
	maxCommandLine = 8191
)

// psHeader starts every script: stop on the first error (so failures reach catch or the exit
// code) and suppress progress records, which would otherwise arrive as CLIXML on stderr.
const psHeader = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n"

// sfbHeader adds the management module for Skype for Business scripts.
const sfbHeader = psHeader + "Import-Module " + sfbModule + "\n"

// encodePS returns the powershell.exe command line running script.
func encodePS(script string) (string, error) {
	if n := len([]rune(script)); n > maxScriptChars {
		return "", fmt.Errorf("%w: script of %d characters exceeds the %d-character budget", ErrInvalidArgument, n, maxScriptChars)
	}
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return psPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// joinCmd joins cmd.exe commands with op ("&&" or "&") and checks the line length.
func joinCmd(op string, parts ...string) (string, error) {
	line := strings.Join(parts, " "+op+" ")
	if len(line) > maxCommandLine {
		return "", fmt.Errorf("%w: command line of %d characters exceeds %d", ErrInvalidArgument, len(line), maxCommandLine)
	}
	return line, nil
}

// tempName returns a fresh temporary file name "ocsha-<16 hex><suffix>".
func tempName(suffix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return tempPrefix + hex.EncodeToString(b[:]) + suffix
}

// cmdTempPath is a temporary file's path for cmd.exe, quoted because %TEMP% may hold spaces (a
// profile named after a user with a space); the name itself is agent-generated.
func cmdTempPath(name string) string { return `"%TEMP%\` + name + `"` }

// readDeleteScript prints each temporary file as a frame and deletes it.
func readDeleteScript(header string, names ...string) (string, error) {
	var b strings.Builder
	b.WriteString(header)
	for _, n := range names {
		q, err := QuotePS(n)
		if err != nil {
			return "", err
		}
		b.WriteString("$p = Join-Path $env:TEMP " + q + "\n")
		b.WriteString(psFrame("[IO.File]::ReadAllBytes($p)"))
		b.WriteString("Remove-Item -LiteralPath $p\n")
	}
	return b.String(), nil
}

// moveLoop is the per-user loop shared by both dialects: one SIP address per line of the
// uploaded $data, one framed CSV result row per user, a failure of one user never stopping the
// batch.
func moveLoop(body string) string {
	return "foreach ($line in [Text.Encoding]::UTF8.GetString($data).Split(\"`n\")) {\n" +
		"  $sip = $line.Trim()\n" +
		"  if ($sip -eq '') { continue }\n" +
		"  try {\n" +
		body +
		"    $row = '\"' + $sip + '\",\"OK\",\"\"'\n" +
		"  } catch {\n" +
		"    $row = '\"' + $sip + '\",\"Failed\",\"' + ($_.Exception.Message -replace '\"','\"\"') + '\"'\n" +
		"  }\n" +
		psFrameCSV("row") +
		"}\n"
}

// homesLoop reads each uploaded SIP address's home with body, which sets $h, and prints a framed
// `"<sip>","<home>"` row per user.
func homesLoop(body string) string {
	return "foreach ($line in [Text.Encoding]::UTF8.GetString($data).Split(\"`n\")) {\n" +
		"  $sip = $line.Trim()\n" +
		"  if ($sip -eq '') { continue }\n" +
		"  $h = ''\n" +
		body +
		"  $row = '\"' + $sip + '\",\"' + ($h -replace '\"','\"\"') + '\"'\n" +
		psFrameCSV("row") +
		"}\n"
}
