package cmdexe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// testPrograms are stand-ins for the server's executables.
func testPrograms() map[string]Program {
	return map[string]Program{
		"args": func(_ context.Context, p *Proc) int {
			fmt.Fprintf(p.Stdout, "%q|%s\r\n", p.Args, p.RawArgs)
			return 0
		},
		"fail": func(_ context.Context, p *Proc) int {
			fmt.Fprint(p.Stderr, "failed\r\n")
			return 7
		},
		"digest": func(_ context.Context, p *Proc) int {
			data, _ := io.ReadAll(p.Stdin)
			fmt.Fprintf(p.Stdout, "%d %x\r\n", len(data), sha256.Sum256(data))
			return 0
		},
		"env": func(_ context.Context, p *Proc) int {
			fmt.Fprint(p.Stdout, p.Env[strings.ToUpper(p.Args[0])])
			return 0
		},
		"unicode": func(_ context.Context, p *Proc) int {
			fmt.Fprint(p.Stdout, "héllo ─ こ\r\n")
			return 0
		},
	}
}

func run(t *testing.T, line string, mod func(*Options)) (string, string, int, *winfs.FS) {
	t.Helper()
	fs := winfs.New()
	opts := Options{Programs: testPrograms(), FS: fs, Env: NewEnvironment("TEMP", winfs.TempDir, "Path", `C:\Windows`), CodePage: CodePageUTF8}
	if mod != nil {
		mod(&opts)
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), opts, line, strings.NewReader("input"), &out, &errb)
	return out.String(), errb.String(), code, fs
}

func TestRun(t *testing.T) {
	notRecognized := func(n string) string {
		return "'" + n + "' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
	}
	tests := []struct {
		name, line, stdout, stderr string
		code                       int
	}{
		{"echo", "echo ok", "ok\r\n", "", 0},
		{"echo keeps space before operators", "echo out && echo err>&2 && exit 1", "out \r\n", "err \r\n", 1},
		{"echo empty", "echo", "ECHO is on.\r\n", "", 0},
		{"echo dot", "echo.", "\r\n", "", 0},
		{"echo off", "echo off", "", "", 0},
		{"unknown program", "lcscmdx /x", "", notRecognized("lcscmdx"), ExitNotRecognized},
		{"and skips after failure", "fail && echo no", "", "failed\r\n", 7},
		{"or keeps the level", "fail || echo yes", "yes\r\n", "failed\r\n", 7},
		{"amp always", "fail & echo yes", "yes\r\n", "failed\r\n", 7},
		{"or skipped keeps success", "echo a || echo b && echo c", "a \r\nc\r\n", "", 0},
		{"exit b", "exit /b 3", "", "", 3},
		{"exit stops the line", "exit 4 & echo no", "", "", 4},
		{"args windows rules", `args a "b c" d\"e "f\\" g`, `["a" "b c" "d\"e" "f\\" "g"]|a "b c" d\"e "f\\" g` + "\r\n", "", 0},
		{"program case and exe", `ARGS.EXE x`, `["x"]|x` + "\r\n", "", 0},
		{"program path", `C:\Windows\system32\args.exe x`, `["x"]|x` + "\r\n", "", 0},
		{"expand", "echo %TEMP%", winfs.TempDir + "\r\n", "", 0},
		{"undefined stays", "echo %NOPE% 100%", "%NOPE% 100%\r\n", "", 0},
		{"set prefix", "set TE", "TEMP=" + winfs.TempDir + "\r\n", "", 0},
		{"set missing", "set ZZZ", "", "Environment variable ZZZ not defined\r\n", 1},
		{"set then program", "set X=1& env x", "1", "", 0},
		{"set list sorted", "set", "Path=C:\\Windows\r\nTEMP=" + winfs.TempDir + "\r\n", "", 0},
		{"caret escapes", "echo a ^& b", "a & b\r\n", "", 0},
		{"quoted operator", `echo "a & b"`, "\"a & b\"\r\n", "", 0},
		{"stdin", "digest", fmt.Sprintf("5 %x\r\n", sha256.Sum256([]byte("input"))), "", 0},
		{"nested cmd", "cmd.exe /c echo hi", "hi\r\n", "", 0},
		{"nested cmd exit", "cmd /c exit 5 & echo after", "after\r\n", "", 5},
		{"slash c quotes", `"echo hi"`, "hi\r\n", "", 0},
		{"ver", "ver", "\r\nMicrosoft Windows [Version 6.1.7601]\r\n", "", 0},
		{"cd no-op", "cd C:\\ && echo x", "x\r\n", "", 0},
		{"pipe", "echo abc| digest", fmt.Sprintf("5 %x\r\n", sha256.Sum256([]byte("abc\r\n"))), "", 0},
		{"del missing keeps level", "fail & del C:\\nope.txt", "", "failed\r\nCould Not Find C:\\nope.txt\r\n", 7},
		{"type missing", "type C:\\nope.txt", "", "The system cannot find the file specified.\r\n", 1},
		{"too long", strings.Repeat("x", MaxLine+1), "", "The command line is too long.\r\n", 1},
		{"stderr to stdout", "fail 2>&1", "failed\r\n", "", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code, _ := run(t, tt.line, nil)
			if out != tt.stdout || errs != tt.stderr || code != tt.code {
				t.Errorf("Run(%q) = %q, %q, %d; want %q, %q, %d", tt.line, out, errs, code, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
}

func TestMaxLineBoundary(t *testing.T) {
	line := "echo " + strings.Repeat("x", MaxLine-5)
	if _, errs, code, _ := run(t, line, nil); code != 0 || errs != "" {
		t.Errorf("8191-character line: code %d stderr %q, want success", code, errs)
	}
}

func TestRedirectionToFiles(t *testing.T) {
	line := `echo one > %TEMP%\a.txt & echo two>>"%TEMP%\a.txt" & type %TEMP%\a.txt & del %TEMP%\a.txt & type %TEMP%\a.txt`
	out, errs, _, fs := run(t, line, nil)
	if out != "one  \r\ntwo \r\n" { // the spaces around a removed redirection stay
		t.Errorf("stdout = %q", out)
	}
	if errs != "The system cannot find the file specified.\r\n" {
		t.Errorf("stderr = %q", errs)
	}
	if len(fs.List()) != 0 {
		t.Errorf("files left: %v", fs.List())
	}
}

func TestTypeUTF16(t *testing.T) {
	out, _, _, _ := run(t, `type C:\u.xml`, func(o *Options) {
		_ = o.FS.WriteFile(`C:\u.xml`, []byte{0xFF, 0xFE, 'h', 0, 'i', 0})
	})
	if out != "hi" {
		t.Errorf("type of UTF-16 file = %q, want hi", out)
	}
}

func TestCodePage437(t *testing.T) {
	out, _, _, _ := run(t, "unicode", func(o *Options) { o.CodePage = CodePageOEM })
	want := []byte{'h', 0x82, 'l', 'l', 'o', ' ', 0xC4, ' ', '?', '\r', '\n'}
	if !bytes.Equal([]byte(out), want) {
		t.Errorf("437 output = %x, want %x", out, want)
	}
	out, _, _, _ = run(t, "unicode", nil)
	if out != "héllo ─ こ\r\n" {
		t.Errorf("65001 output = %q", out)
	}
}

func TestStdinCodePage437(t *testing.T) {
	var out bytes.Buffer
	opts := Options{Programs: testPrograms(), CodePage: CodePageOEM}
	Run(context.Background(), opts, "digest", bytes.NewReader([]byte{'h', 0x82}), &out, io.Discard)
	if want := fmt.Sprintf("3 %x\r\n", sha256.Sum256([]byte("hé"))); out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestTextWriterSplitSequence(t *testing.T) {
	var b bytes.Buffer
	w := newTextWriter(&b, CodePageOEM)
	s := []byte("é")
	_, _ = w.Write(s[:1])
	_, _ = w.Write(s[1:])
	if !bytes.Equal(b.Bytes(), []byte{0x82}) {
		t.Errorf("got %x", b.Bytes())
	}
}

func TestRunDirectAndResolve(t *testing.T) {
	opts := Options{Programs: testPrograms()}
	if err := Resolve(opts, "args x"); err == nil {
		t.Error("Resolve without a path succeeded")
	}
	if err := Resolve(opts, `C:\tools\args.exe x`); err != nil {
		t.Errorf("Resolve with a path: %v", err)
	}
	var out bytes.Buffer
	code := RunDirect(context.Background(), opts, `C:\tools\args.exe "a b" & c`, nil, &out, io.Discard)
	if code != 0 || out.String() != `["a b" "&" "c"]|"a b" & c`+"\r\n" {
		t.Errorf("RunDirect = %d %q", code, out.String())
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`a b`, []string{"a", "b"}},
		{`"a b" c`, []string{"a b", "c"}},
		{`a\\b`, []string{`a\\b`}},
		{`a\\\"b`, []string{`a\"b`}},
		{`"a""b"`, []string{`a"b`}},
		{`/hrxmlfile:C:\x.xml /restype:user`, []string{`/hrxmlfile:C:\x.xml`, "/restype:user"}},
	}
	for _, tt := range tests {
		if got := SplitArgs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
