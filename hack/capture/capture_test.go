package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// recordingsEnv names a folder of recordings (for example from a lab's servers) that
// TestReplayRecordings replays against the emulator.
const recordingsEnv = "OCSHA_RECORDINGS"

// TestCaptureAgainstTheEmulator captures a "site" the emulator plays (domain contoso.test, a
// server ocsfe01, an account labadmin), checks that nothing of it is left in the recordings,
// and replays them against an emulator with the default site.
func TestCaptureAgainstTheEmulator(t *testing.T) {
	for _, product := range []ocs.Product{ocs.ProductOCS2007R2, ocs.ProductSkypeForBusiness} {
		t.Run(string(product), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			lab, err := sim.Start(ctx, sim.Config{Servers: []string{"ocsfe01"}, Domain: "contoso.test", Users: 6, ContactsPerUser: 3,
				Admin: "127.0.0.1:0", Username: "labadmin", Password: "Lab-Pa55!", Product: string(product)})
			if err != nil {
				t.Fatal(err)
			}
			defer lab.Close()
			out := t.TempDir()
			args := []string{"--endpoint", lab.Endpoint("ocsfe01"), "--name", "ocsfe01", "--fqdn", "ocsfe01.contoso.test",
				"--product", string(product), "--auth", "NTLM", "--username", "labadmin", "--out", out, "--netbios-domain", "CONTOSO"}
			cfg, err := parseFlags(args, &bytes.Buffer{}, func(k string) string { return map[string]string{passwordEnv: "Lab-Pa55!"}[k] })
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			if err := capture(ctx, cfg, &log); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log.String(), "failed") {
				t.Fatalf("an operation failed against the emulator:\n%s", log.String())
			}
			files, _ := filepath.Glob(filepath.Join(out, "*.yml"))
			if len(files) < 6 {
				t.Fatalf("%d recordings", len(files))
			}
			for _, f := range files {
				data, _ := os.ReadFile(f)
				if leak := leaked(t, data, "contoso", "ocsfe01", "labadmin", "Lab-Pa55!"); leak != "" {
					t.Fatalf("%s still holds %q", filepath.Base(f), leak)
				}
			}
			replayAll(t, out, product)
		})
	}
}

// leaked reads a recording the way a reader would, decoding every layer, and returns the first
// word found.
func leaked(t *testing.T, data []byte, words ...string) string {
	t.Helper()
	ex, _, err := readRecording(data)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{string(data), ex.command, string(ex.stdin), string(ex.result.Stdout), string(ex.result.Stderr)}
	for _, part := range strings.Split(ex.command, "-EncodedCommand ")[1:] {
		enc, _, _ := strings.Cut(part, " ")
		raw, _ := base64.StdEncoding.DecodeString(enc)
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
		}
		texts = append(texts, string(utf16.Decode(u)))
	}
	frames, _ := ocs.ParseFrames(ex.result.Stdout)
	for _, f := range frames {
		texts = append(texts, string(f), string(decodeUTF16(f)))
	}
	for _, text := range texts {
		for _, w := range words {
			if strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
				return w
			}
		}
	}
	return ""
}

func decodeUTF16(b []byte) []byte {
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xFE {
		return nil
	}
	u := make([]uint16, (len(b)-2)/2)
	for i := range u {
		u[i] = uint16(b[2+2*i]) | uint16(b[3+2*i])<<8
	}
	return []byte(string(utf16.Decode(u)))
}

// TestReplayRecordings replays the recordings in $OCSHA_RECORDINGS, if set, against the
// emulator: each answer the emulator gives must have the shape of the recorded one.
func TestReplayRecordings(t *testing.T) {
	dir := os.Getenv(recordingsEnv)
	if dir == "" {
		t.Skipf("set %s to a folder of recordings (hack/capture writes them) to replay them", recordingsEnv)
	}
	replayAll(t, dir, "")
}

// replayAll replays every recording of dir, each against a fresh emulator of its product
// (product, when set, for recordings that do not say).
func replayAll(t *testing.T, dir string, product ocs.Product) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ex, info, err := readRecording(data)
			if err != nil {
				t.Fatal(err)
			}
			p := ocs.Product(info.Product)
			if p == "" {
				p = product
			}
			server := info.Server
			if server == "" {
				server = "ocs1"
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			e, err := sim.Start(ctx, sim.Config{Servers: []string{server, "ocs9"}, Users: 6, ContactsPerUser: 3, Admin: "127.0.0.1:0", Product: string(p)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			pool := winrm.NewPool(winrm.Options{})
			defer pool.Close()
			if err := pool.SetTargets([]winrm.Target{{Server: server, Endpoint: e.Endpoint(server), Username: sim.DefaultUsername, Password: sim.DefaultPassword, AllowUnencryptedBasic: true}}); err != nil {
				t.Fatal(err)
			}
			diffs, err := replay(ctx, pool, server, ex)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Errorf("%s (%s): %s", filepath.Base(f), info.Operation, d)
			}
		})
	}
}

func TestRedactorKeepsFramesWhole(t *testing.T) {
	r := newRedactor(map[string]string{"fe01": "fe01.contoso.test"}, "labadmin", "CONTOSO", ocs.Tools{}, ocs.DefaultTools(), []string{"Springfield"})
	text := "\"PrimaryURI\",\"HomeServerDN\"\n\"sip:homer.simpson@contoso.test\",\"CN=LC Services,CN=Microsoft,CN=fe01,CN=Pools,DC=contoso,DC=test\"\n\"sip:HOMER.SIMPSON@contoso.test\",\"Springfield\""
	enc := base64.StdEncoding.EncodeToString([]byte(text))
	out := string(r.output([]byte("#ocsha-begin\r\n" + enc[:76] + "\r\n" + enc[76:] + "\r\n#ocsha-end " + itoa(len(text)) + "\r\nCONTOSO\\labadmin\r\n")))
	frames, err := ocs.ParseFrames([]byte(out))
	if err != nil || len(frames) != 1 {
		t.Fatalf("frames %q, %v", frames, err)
	}
	want := "\"PrimaryURI\",\"HomeServerDN\"\n\"sip:user0001@corp.example.com\",\"CN=LC Services,CN=Microsoft,CN=ocs1,CN=Pools,DC=corp,DC=example,DC=com\"\n\"sip:user0001@corp.example.com\",\"redacted\""
	if string(frames[0]) != want {
		t.Fatalf("frame\n%s\nwant\n%s", frames[0], want)
	}
	if !strings.HasSuffix(out, "CORP\\ocsadmin\r\n") {
		t.Fatalf("text outside frames: %q", out)
	}
	if got := r.text("Select-Object fe01x fe01"); got != "Select-Object fe01x ocs1" {
		t.Fatalf("names are replaced as whole words only: %q", got)
	}
}

// A gzip frame is redacted inside its compressed content and stays a valid gzip frame.
func TestRedactorRedactsGzipFrames(t *testing.T) {
	r := newRedactor(map[string]string{"fe01": "fe01.contoso.test"}, "labadmin", "CONTOSO", ocs.Tools{}, ocs.DefaultTools(), nil)
	text := "\"PrimaryURI\"\n\"sip:homer.simpson@contoso.test\""
	z := gzipBytes([]byte(text))
	out := r.output([]byte(ocs.GzipFrameBegin + "\r\n" + base64.StdEncoding.EncodeToString(z) + "\r\n#ocsha-end " + itoa(len(z)) + "\r\n"))
	if !strings.HasPrefix(string(out), ocs.GzipFrameBegin+"\r\n") {
		t.Fatalf("the gzip frame lost its begin line: %q", out)
	}
	frames, err := ocs.ParseFrames(out)
	if want := "\"PrimaryURI\"\n\"sip:user0001@corp.example.com\""; err != nil || len(frames) != 1 || string(frames[0]) != want {
		t.Fatalf("frames %q, %v; want %q", frames, err, want)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCompareShapes(t *testing.T) {
	frame := func(text string) string {
		return "#ocsha-begin\r\n" + base64.StdEncoding.EncodeToString([]byte(text)) + "\r\n#ocsha-end " + itoa(len(text)) + "\r\n"
	}
	users := ocs.Result{Stdout: []byte(frame("\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\n\"sip:a@x\",\"CN=p\",\"True\""))}
	moreUsers := ocs.Result{Stdout: []byte(frame("\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\n\"sip:a@x\",\"CN=p\",\"True\"\n\"sip:b@x\",\"CN=p\",\"True\""))}
	otherColumns := ocs.Result{Stdout: []byte(frame("\"SipAddress\",\"RegistrarPool\"\n\"sip:a@x\",\"p\""))}
	failed := ocs.Result{ExitCode: 1, Stderr: []byte("#< CLIXML\r\n<Objs/>")}
	tests := map[string]struct {
		a, b  ocs.Result
		diffs int
	}{
		"the same shape with other data": {users, moreUsers, 0},
		"other CSV columns":              {users, otherColumns, 1},
		"a failure where it worked":      {users, failed, 4},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := shapeOf(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := shapeOf(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if d := compareShapes(a, b); len(d) != tc.diffs {
				t.Fatalf("diffs %q, want %d", d, tc.diffs)
			}
		})
	}
	if _, err := shapeOf(ocs.Result{Stdout: []byte("#ocsha-begin\r\nYWJj\r\n")}); err == nil {
		t.Fatal("a cut frame was read")
	}
}
