package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The golden tests replay real Windows WinRS exchanges (recorded by the pypsrp project) against
// the emulator and compare the answers structurally: Action, RelatesTo, element and attribute
// structure, decoded stream contents, exit codes and fault codes. Ignored as facts of the
// recording host, not of the protocol: MessageID, ShellId/CommandId values (mapped to the
// emulator's), a:Address, rsp:Owner, rsp:ClientIP, the fault's Machine, namespace declarations,
// p:ActivityId (only newer builds send it), and how output is cut into Stream elements (Windows
// cuts per process write). The `set` output of test_winrs_environment and test_winrs_noprofile
// depends on the recording machine; only the variables in setChecked are compared.
//
// The emulator runs as Start builds it by default, with the OCS host world: cmd.exe and the
// emulated powershell.exe answer every recorded command. Only time is the replay's: Start-Sleep
// (through Config.Sleep) waits until the replay releases it, just before the Receive that Windows
// answered with the command's end.

// recordingsDir finds ../shared/data/windows-winrs-recordings next to the module root.
func recordingsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	rec := filepath.Join(dir, "..", "shared", "data", "windows-winrs-recordings")
	if _, err := os.Stat(rec); err != nil {
		if os.Getenv("OCSHA_NO_SHARED") == "1" {
			t.Skip("shared recordings absent and OCSHA_NO_SHARED=1")
		}
		t.Fatalf("recordings directory missing: %v", err)
	}
	return rec
}

type recording struct {
	Messages []struct {
		Request  string `yaml:"request"`
		Response string `yaml:"response"`
	} `yaml:"messages"`
}

// sleepGate is the replay's Config.Sleep: every sleep lasts until the gate opens (or the
// command is stopped), whatever its duration.
type sleepGate struct {
	release chan struct{}
	once    sync.Once
}

func (g *sleepGate) open() { g.once.Do(func() { close(g.release) }) }

func (g *sleepGate) sleep(ctx context.Context, _ time.Duration) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestGoldenRecordings(t *testing.T) {
	dir := recordingsDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yml"), func(t *testing.T) {
			t.Parallel()
			replay(t, f)
		})
	}
}

func replay(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rec recording
	if err := yaml.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	gate := &sleepGate{release: make(chan struct{})}
	e := startStub(t, func(c *Config) {
		c.Username = "vagrant"
		// A blocked Receive then times out after the 1 s floor instead of OperationTimeout − 5 s.
		c.TimeoutMargin = time.Hour
		c.NewWorld = nil // Start's default: the OCS host world
		c.Sleep = gate.sleep
		// The recordings come from Windows Server 2012 R2 to 2019: PowerShell 4.0 and later,
		// which passes stdin on and does not wrap at 80 columns.
		c.Profile = Profile{PowerShell: "5.1", ConsoleWidth: -1}
	})
	ids := map[string]string{}
	sawFault := false
	for i, m := range rec.Messages {
		req := m.Request
		for old, cur := range ids {
			req = strings.ReplaceAll(req, old, cur)
		}
		want, err := parseXML(m.Response)
		if err != nil {
			t.Fatalf("message %d: recorded response: %v", i, err)
		}
		// Release a sleeping command just before the Receive that Windows answered with Done.
		if sawFault && want.find("CommandState") != nil {
			gate.open()
		}
		status, body := postSOAP(t, e.Endpoint("ocs1"), req)
		got, err := parseXML(body)
		if err != nil {
			t.Fatalf("message %d: response does not parse: %v\n%s", i, err, body)
		}
		isFault := want.find("Fault") != nil
		sawFault = sawFault || isFault
		if (status == 500) != isFault {
			t.Errorf("message %d: status %d, recorded fault %v", i, status, isFault)
		}
		learnIDs(want, got, ids)
		reqTree, _ := parseXML(req)
		if rel := got.find("RelatesTo"); rel == nil || rel.text != reqTree.find("MessageID").text {
			t.Errorf("message %d: RelatesTo does not echo the MessageID", i)
		}
		normalize(want, ids, filepath.Base(file))
		normalize(got, ids, filepath.Base(file))
		if diff := compare("", want, got); diff != "" {
			t.Errorf("message %d (%s): %s\nwant %s\ngot  %s", i, want.find("Action").text, diff, want, got)
		}
	}
	gate.open()
}

func postSOAP(t *testing.T, endpoint, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	req.SetBasicAuth("vagrant", DefaultPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); ct != "application/soap+xml;charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// elem is a generic XML element for structural comparison.
type elem struct {
	name     string // local name; namespaces are checked by the clients' parsers, not here
	attrs    map[string]string
	text     string
	children []*elem
}

func parseXML(s string) (*elem, error) {
	dec := xml.NewDecoder(strings.NewReader(s))
	var stack []*elem
	var root *elem
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			el := &elem{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				el.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, el)
			} else {
				root = el
			}
			stack = append(stack, el)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	if root == nil {
		return nil, errors.New("empty document")
	}
	return root, nil
}

func (e *elem) find(name string) *elem {
	if e.name == name {
		return e
	}
	for _, c := range e.children {
		if f := c.find(name); f != nil {
			return f
		}
	}
	return nil
}

func (e *elem) String() string {
	var sb strings.Builder
	sb.WriteString("<" + e.name)
	keys := make([]string, 0, len(e.attrs))
	for k := range e.attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%q", k, e.attrs[k])
	}
	sb.WriteString(">" + e.text)
	for _, c := range e.children {
		sb.WriteString(c.String())
	}
	sb.WriteString("</" + e.name + ">")
	return sb.String()
}

// learnIDs maps the recording's ShellId and CommandId to the emulator's.
func learnIDs(want, got *elem, ids map[string]string) {
	for _, name := range []string{"Selector", "CommandId"} {
		w, g := want.find(name), got.find(name)
		if w != nil && g != nil && strings.TrimSpace(w.text) != "" {
			ids[strings.TrimSpace(w.text)] = strings.TrimSpace(g.text)
		}
	}
}

// setChecked are the variables whose `set` lines must match the recording: those the client set
// and the machine-independent Windows ones the emulator reproduces.
var setChecked = []string{"1234", "env1", `_-(){}[]<>*+-/\?"!@#$^&|;:i,.` + "`~0", "ALLUSERSPROFILE", "CommonProgramFiles",
	"CommonProgramFiles(x86)", "CommonProgramW6432", "ComSpec", "NUMBER_OF_PROCESSORS", "OS", "PATHEXT",
	"PROCESSOR_ARCHITECTURE", "ProgramData", "ProgramFiles", "ProgramFiles(x86)", "ProgramW6432", "PROMPT", "PUBLIC",
	"SystemDrive", "SystemRoot", "windir"}

// normalize removes what the comparison ignores and merges each stream's data into one element.
func normalize(e *elem, ids map[string]string, file string) {
	if e.name != "Stream" {
		// A Stream's text is the decoded output (merged by its ReceiveResponse): compared byte
		// for byte, line ends and trailing blanks included.
		e.text = strings.TrimSpace(e.text)
	}
	for k, v := range e.attrs {
		if cur, ok := ids[v]; ok {
			v = cur
		}
		e.attrs[k] = v
	}
	switch e.name {
	case "MessageID", "Address", "Owner", "ClientIP", "Selector", "ShellId", "CommandId":
		e.text = ""
	case "RelatesTo":
		// Checked against the request's MessageID instead: one recording pairs a Delete with
		// another request's answer.
		e.text = ""
	case "WSManFault":
		delete(e.attrs, "Machine")
	case "Envelope":
		delete(e.attrs, "lang")
	case "Header":
		// p:ActivityId appears only on newer Windows builds (optional, not emitted).
		e.children = slices.DeleteFunc(e.children, func(c *elem) bool { return c.name == "ActivityId" })
	case "Reason", "Text", "Message", "ProviderFault":
		e.text = strings.TrimSpace(e.text)
	case "ReceiveResponse":
		merged := map[string]*elem{}
		var kids []*elem
		for _, c := range e.children {
			if c.name == "Stream" && c.attrs["End"] == "" {
				b, _ := base64.StdEncoding.DecodeString(c.text)
				if m, ok := merged[c.attrs["Name"]]; ok {
					m.text += string(b)
					continue
				}
				c.text = string(b)
				merged[c.attrs["Name"]] = c
			}
			kids = append(kids, c)
		}
		e.children = kids
		if strings.Contains(file, "environment") || strings.Contains(file, "noprofile") {
			for _, c := range kids {
				if c.name == "Stream" && c.attrs["Name"] == "stdout" && c.attrs["End"] == "" {
					c.text = setFacts(c.text)
				}
			}
		}
	}
	for _, c := range e.children {
		normalize(c, ids, file)
	}
}

// setFacts reduces `set` output to the checked variables (and the absence of per-profile ones
// that WINRS_NOPROFILE removes), keeping its line format.
func setFacts(out string) string {
	var keep []string
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(out, "\r\n") {
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		seen[strings.ToUpper(name)] = true
		if slices.Contains(setChecked, name) || name == "TEMP" && strings.Contains(line, `C:\Windows\TEMP`) ||
			name == "USERPROFILE" && strings.Contains(line, `Default`) {
			keep = append(keep, line)
		}
	}
	slices.Sort(keep)
	keep = append(keep, fmt.Sprintf("APPDATA present: %v\r\n", seen["APPDATA"]))
	return strings.Join(keep, "")
}

// compare reports the first structural difference between two normalized trees.
func compare(path string, want, got *elem) string {
	path += "/" + want.name
	if want.name != got.name {
		return fmt.Sprintf("%s: element %s, want %s", path, got.name, want.name)
	}
	if want.text != got.text {
		return fmt.Sprintf("%s: text %q, want %q", path, got.text, want.text)
	}
	for k, v := range want.attrs {
		if got.attrs[k] != v {
			return fmt.Sprintf("%s: @%s = %q, want %q", path, k, got.attrs[k], v)
		}
	}
	for k := range got.attrs {
		if _, ok := want.attrs[k]; !ok {
			return fmt.Sprintf("%s: extra attribute %s", path, k)
		}
	}
	if len(want.children) != len(got.children) {
		var w, g bytes.Buffer
		for _, c := range want.children {
			w.WriteString(c.name + " ")
		}
		for _, c := range got.children {
			g.WriteString(c.name + " ")
		}
		return fmt.Sprintf("%s: children [%s], want [%s]", path, g.String(), w.String())
	}
	for i := range want.children {
		if d := compare(path, want.children[i], got.children[i]); d != "" {
			return d
		}
	}
	return ""
}
