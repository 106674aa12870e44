package ps

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

func TestCLIXMLMatchesReferenceSample(t *testing.T) {
	rec := &ErrorRecord{Message: "Invalid class", Command: "Get-WmiObject", Category: "InvalidOperation",
		Reason: "ManagementException", FQID: "GetWMIManagementException,Microsoft.PowerShell.Commands.GetWmiObjectCommand"}
	want := "#< CLIXML\r\n" +
		`<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">` +
		`<S S="Error">Get-WmiObject : Invalid class_x000D__x000A_</S>` +
		`<S S="Error">    + CategoryInfo          : InvalidOperation: (:) [Get-WmiObject], Managemen _x000D__x000A_</S>` +
		`<S S="Error">   tException_x000D__x000A_</S>` +
		`<S S="Error">    + FullyQualifiedErrorId : GetWMIManagementException,Microsoft.PowerShell.C _x000D__x000A_</S>` +
		`<S S="Error">   ommands.GetWmiObjectCommand_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S></Objs>`
	if got := CLIXML([]*ErrorRecord{rec}); got != want {
		t.Errorf("CLIXML mismatch\n got %q\nwant %q", got, want)
	}
}

func TestCLIXMLEscapes(t *testing.T) {
	got := CLIXML([]*ErrorRecord{{Message: "a<b>&_x\x01", Category: "C", Reason: "R", FQID: "F"}})
	if !strings.Contains(got, "a&lt;b&gt;&amp;_x005F_x_x0001_") {
		t.Errorf("escaping wrong: %q", got)
	}
}

func TestDecodeArgs(t *testing.T) {
	masterzen := "JABQAHIAbwBnAHIAZQBzAHMAUAByAGUAZgBlAHIAZQBuAGMAZQAgAD0AIAAnAFMAaQBsAGUAbgB0AGwAeQBDAG8AbgB0AGkAbgB1AGUAJwA7AGQAaQByAA=="
	tests := []struct {
		name string
		args []string
		want Invocation
	}{
		{"masterzen vector", []string{"-EncodedCommand", masterzen}, Invocation{Script: "dir"}},
		{"enc prefix", []string{"-NoProfile", "-NonInteractive", "-enc", EncodeCommand("'x'")}, Invocation{Script: "'x'", NonInteractive: true}},
		{"e prefix with BOM", []string{"-e", EncodeCommand("\uFEFF'x'")}, Invocation{Script: "'x'"}},
		{"ec and execution policy", []string{"-ExecutionPolicy", "Bypass", "-ec", EncodeCommand("1")}, Invocation{Script: "1"}},
		{"pywinrm lower case", []string{"-encodedcommand", EncodeCommand("1")}, Invocation{Script: "1"}},
		{"command from stdin", []string{"-NoProfile", "-Command", "-"}, Invocation{FromStdin: true}},
		{"command text", []string{"-InputFormat", "Text", "-OutputFormat", "Text", "-Command", "Write-Output", "'a'"}, Invocation{Script: "Write-Output 'a'"}},
		{"bare text", []string{"Write-Output", "1"}, Invocation{Script: "Write-Output 1"}},
		{"dash alone is stdin", []string{"-"}, Invocation{FromStdin: true}},
		{"no arguments is stdin", nil, Invocation{FromStdin: true}},
		{"parenthesised command", []string{"(pwd).Path"}, Invocation{Script: "(pwd).Path"}},
		{"command after switches", []string{"-NoProfile", "Write-Host", "hi"}, Invocation{Script: "Write-Host hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeArgs(tt.args)
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := DecodeArgs([]string{"-EncodedCommand", "!!"}); err == nil {
		t.Error("bad base64 accepted")
	}
}

func runProgram(t *testing.T, args []string, stdin string) result {
	t.Helper()
	var out, errb bytes.Buffer
	p := &cmdexe.Proc{Name: "powershell.exe", Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		FS: winfs.New(), Env: map[string]string{"TEMP": winfs.TempDir}}
	code := NewProgram(ProgramConfig{})(context.Background(), p)
	return result{out.String(), errb.String(), code}
}

func TestProgram(t *testing.T) {
	r := runProgram(t, []string{"-EncodedCommand", "JABQAHIAbwBnAHIAZQBzAHMAUAByAGUAZgBlAHIAZQBuAGMAZQAgAD0AIAAnAFMAaQBsAGUAbgB0AGwAeQBDAG8AbgB0AGkAbgB1AGUAJwA7AGQAaQByAA=="}, "")
	if r.code != 1 || !strings.Contains(r.stderr, "The term 'dir' is not recognized as the name of a cmdlet") || !strings.HasPrefix(r.stderr, "#< CLIXML\r\n") {
		t.Errorf("dir: %+v", r)
	}
	r = runProgram(t, []string{"-NoProfile", "-EncodedCommand", EncodeCommand("[Console]::In.ReadToEnd()")}, "stdin stays available")
	if r.code != 0 || r.stdout != "stdin stays available\r\n" {
		t.Errorf("stdin with -EncodedCommand: %+v", r)
	}
	r = runProgram(t, []string{"-Command", "-"}, "'from stdin'")
	if r.code != 0 || r.stdout != "from stdin\r\n" {
		t.Errorf("-Command -: %+v", r)
	}
	r = runProgram(t, []string{"-EncodedCommand", "%%%"}, "")
	if r.code != 1 || !strings.Contains(r.stderr, "EncodedCommand") {
		t.Errorf("bad encoding: %+v", r)
	}
}
