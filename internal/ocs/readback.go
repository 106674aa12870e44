package ocs

import (
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// An import is judged by its exit code and by reading the imported users back, never by the
// tool's words: dbimpexp's console text is documented nowhere (ocs-evidence.md #8), and
// Update-CsUserData reports no per-user outcome. After the import, the script exports each
// imported user alone and prints the file as a frame, or a "no file" frame when the export
// wrote none; judgeImport then checks that every imported entry is there. Imports merge, so the
// read-back may hold more than was imported, and retrying a failed user is safe.

// noFileFrame starts the frame a read-back prints for a user whose export wrote no file:
// "#ocsha-nofile <exit code> <user@host>".
const noFileFrame = "#ocsha-nofile "

// psNoFile renders the lines that print the no-file frame of user $u with exit code $c.
func psNoFile() string { return psFrameText("('" + noFileFrame + "' + $c + ' ' + $u)") }

// importPayload is the data an import script reads: the users to read back, one per line, a
// blank line, then the file to import.
func importPayload(doc *contacts.Document, file []byte) []byte {
	var b strings.Builder
	for _, r := range doc.Resources {
		b.WriteString(r.UserAtHost + "\n")
	}
	b.WriteString("\n")
	return append([]byte(b.String()), file...)
}

// psImportPayload renders the lines that split the uploaded payload ($data) into $users and
// $file (a string).
const psImportPayload = "$text = [Text.Encoding]::UTF8.GetString($data)\n" + psSplitImportPayload

// psSplitImportPayload splits the payload's text ($text) into $users and $file.
const psSplitImportPayload = "$i = $text.IndexOf(\"`n`n\")\n" +
	"$users = $text.Substring(0, $i).Split(\"`n\")\n" +
	"$file = $text.Substring($i + 2)\n"

// readBackOf maps each read-back frame to its user: parse reads one user's exported file.
// A user with a no-file frame, or whose file does not hold them, is absent from the map.
func readBackOf(frames [][]byte, parse func([]byte) (*contacts.Document, error)) (map[string]contacts.Resource, map[string]string, error) {
	got := map[string]contacts.Resource{}
	why := map[string]string{}
	for _, f := range frames {
		if s := string(f); strings.HasPrefix(s, noFileFrame) {
			code, user, _ := strings.Cut(strings.TrimPrefix(s, noFileFrame), " ")
			why[strings.ToLower(user)] = fmt.Sprintf("the read-back export of this user wrote no file (exit code %s)", code)
			continue
		}
		doc, err := parse(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: read-back: %w", ErrBadOutput, err)
		}
		for _, r := range doc.Resources {
			got[strings.ToLower(r.UserAtHost)] = r
		}
	}
	return got, why, nil
}

// judgeImport gives one result per imported resource: OK when the read-back holds every entry
// it imported.
func judgeImport(doc *contacts.Document, got map[string]contacts.Resource, why map[string]string) []ImportResult {
	results := make([]ImportResult, len(doc.Resources))
	for i, want := range doc.Resources {
		key := strings.ToLower(want.UserAtHost)
		have, ok := got[key]
		switch missing := contacts.Missing(have, want); {
		case !ok && why[key] != "":
			results[i].Message = "The import was not verified: " + why[key] + "; the user may not be homed on this server."
		case !ok:
			results[i].Message = "The import was not verified: the read-back export does not hold this user; the user may not be homed on this server."
		case len(missing) > 0:
			results[i].Message = fmt.Sprintf("The read-back after the import lacks %d imported entries (first: %s).", len(missing), missing[0])
		default:
			results[i].OK = true
		}
	}
	return results
}

// utf16Text decodes a UTF-16LE document with its BOM (as contacts.MarshalHomedResources writes
// it) to text, for a payload that carries it as UTF-8.
func utf16Text(data []byte) (string, error) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xFE || len(data)%2 != 0 {
		return "", fmt.Errorf("%w: not UTF-16LE with a byte-order mark", ErrInvalidArgument)
	}
	u := make([]uint16, (len(data)-2)/2)
	for i := range u {
		u[i] = uint16(data[2+2*i]) | uint16(data[3+2*i])<<8
	}
	return string(utf16.Decode(u)), nil
}
