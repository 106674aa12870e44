package ocs

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// parseCSVTable parses ConvertTo-Csv -NoTypeInformation output into rows keyed by the header's
// column names. Repeated header rows (one ConvertTo-Csv per object) are skipped; want lists the
// columns that must be present.
func parseCSVTable(out []byte, want ...string) ([]map[string]string, error) {
	records, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, nil
	}
	header := records[0]
	index := map[string]int{}
	for i, h := range header {
		index[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, w := range want {
		if _, ok := index[strings.ToLower(w)]; !ok {
			return nil, fmt.Errorf("%w: CSV header %q lacks column %s", ErrBadOutput, strings.Join(header, ","), w)
		}
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		if equalFoldAll(rec, header) {
			continue
		}
		row := map[string]string{}
		for name, i := range index {
			if i < len(rec) {
				row[name] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func equalFoldAll(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

// readCSV reads every record, tolerating a BOM, CRLF and blank lines.
func readCSV(out []byte) ([][]string, error) {
	out = bytes.TrimPrefix(out, []byte{0xEF, 0xBB, 0xBF})
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	var records [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return records, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: CSV: %w", ErrBadOutput, err)
		}
		records = append(records, rec)
	}
}

// resultRow is one `"<sip>","OK|Failed","<message>"` row of a batch script.
type resultRow struct {
	SIP     string
	OK      bool
	Message string
}

// parseResultRows extracts the result rows of a batch script. Other lines (warnings a module may
// print) are ignored.
func parseResultRows(out []byte) ([]resultRow, error) {
	records, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	var rows []resultRow
	for _, rec := range records {
		if len(rec) != 3 {
			continue
		}
		switch strings.ToLower(rec[1]) {
		case "ok":
			rows = append(rows, resultRow{SIP: rec[0], OK: true, Message: rec[2]})
		case "failed":
			rows = append(rows, resultRow{SIP: rec[0], Message: rec[2]})
		}
	}
	return rows, nil
}

// parseSCQuery parses the output of chained `sc query` commands, one section per service in the
// order queried: a section starts at SERVICE_NAME (a state follows) or at a FAILED line.
func parseSCQuery(out []byte, services []string) ([]ServiceStatus, error) {
	type section struct {
		name   string
		state  string
		failed string
	}
	var sections []*section
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case scServiceName.MatchString(line):
			sections = append(sections, &section{name: scServiceName.FindStringSubmatch(line)[1]})
		case scFailed.MatchString(line):
			sections = append(sections, &section{failed: scFailed.FindStringSubmatch(line)[1]})
		case scState.MatchString(line):
			if len(sections) == 0 || sections[len(sections)-1].failed != "" {
				return nil, fmt.Errorf("%w: sc query: STATE outside a service section", ErrBadOutput)
			}
			sections[len(sections)-1].state = strings.ToUpper(scState.FindStringSubmatch(line)[2])
		}
	}
	if len(sections) != len(services) {
		return nil, fmt.Errorf("%w: sc query: %d sections for %d services", ErrBadOutput, len(sections), len(services))
	}
	out2 := make([]ServiceStatus, len(services))
	for i, s := range sections {
		st := ServiceStatus{Name: services[i]}
		switch {
		case s.failed == scNotFound:
			st.State = StateNotFound
		case s.failed != "":
			st.State = "FAILED_" + s.failed
		case !strings.EqualFold(s.name, services[i]):
			return nil, fmt.Errorf("%w: sc query: section for %q where %q was expected", ErrBadOutput, s.name, services[i])
		case s.state == "":
			return nil, fmt.Errorf("%w: sc query: no STATE for %s", ErrBadOutput, services[i])
		default:
			st.State = s.state
		}
		st.Running = st.State == StateRunning
		out2[i] = st
	}
	return out2, nil
}

// clixmlEscape matches the _xHHHH_ escapes of CLIXML strings.
var clixmlEscape = regexp.MustCompile(`_x([0-9A-Fa-f]{4})_`)

// ErrorMessage returns the readable text of a command's stderr: the error record's message when
// it holds PowerShell CLIXML (without the CategoryInfo and FullyQualifiedErrorId lines), the
// trimmed text otherwise.
func ErrorMessage(stderr []byte) string {
	s := string(stderr)
	i := strings.Index(s, "#< CLIXML")
	if i < 0 {
		return strings.TrimSpace(s)
	}
	before := strings.TrimSpace(s[:i])
	rest := s[i+len("#< CLIXML"):]
	var msgs []string
	if before != "" {
		msgs = append(msgs, before)
	}
	for _, block := range strings.Split(rest, "#< CLIXML") {
		// The document is one line, its own line breaks escaped as _x000D__x000A_: every CR and
		// LF in it is the console's wrapping (80 columns on PowerShell 2.0) and goes.
		block = strings.NewReplacer("\r", "", "\n", "").Replace(block)
		if m := clixmlMessage(block); m != "" {
			msgs = append(msgs, m)
		}
	}
	return strings.Join(msgs, "; ")
}

// clixmlMessage extracts the error text of one <Objs> document.
func clixmlMessage(doc string) string {
	d := xml.NewDecoder(strings.NewReader(doc))
	var text strings.Builder
	inError := false
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			inError = false
			if t.Name.Local == "S" {
				for _, a := range t.Attr {
					if a.Name.Local == "S" && strings.EqualFold(a.Value, "Error") {
						inError = true
					}
				}
			}
		case xml.EndElement:
			inError = false
		case xml.CharData:
			if inError {
				text.Write(t)
			}
		}
	}
	decoded := clixmlEscape.ReplaceAllStringFunc(text.String(), func(m string) string {
		n, err := strconv.ParseUint(m[2:6], 16, 16)
		if err != nil {
			return m
		}
		return string(rune(n))
	})
	// Keep the message lines: stop at the record's "+ CategoryInfo" detail, and undo the console
	// wrapping (a space before each break, three spaces before each continuation).
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(decoded, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "+ ") || strings.HasPrefix(trimmed, "At line:") || strings.HasPrefix(trimmed, "At char:") {
			if len(lines) > 0 {
				break
			}
			continue
		}
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(line, "   ") && len(lines) > 0 {
			lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], " ") + strings.TrimPrefix(line, "   ")
			continue
		}
		lines = append(lines, line)
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}

// parseBool reads PowerShell's True/False; empty means unknown and counts as true (enabled).
func parseBool(s string) bool {
	return !strings.EqualFold(strings.TrimSpace(s), "false")
}

// homesOf reads homesLoop's rows: lower-case SIP address -> server, by server(home).
func homesOf(out []byte, server func(home string) string) (map[string]string, error) {
	records, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	homes := map[string]string{}
	for _, rec := range records {
		if len(rec) == 2 {
			homes[strings.ToLower(rec[0])] = server(rec[1])
		}
	}
	return homes, nil
}
