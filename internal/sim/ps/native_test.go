package ps

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// echoArgs is a native program that prints its arguments one a line and exits with the number
// of them; with "fail" it also writes to stderr.
func echoArgs(_ context.Context, p *cmdexe.Proc) int {
	for _, a := range p.Args {
		_, _ = io.WriteString(p.Stdout, "["+a+"]\r\n")
		if a == "fail" {
			_, _ = io.WriteString(p.Stderr, "failed\r\n")
		}
	}
	return len(p.Args)
}

func runNative(t *testing.T, script string) result {
	t.Helper()
	var out, errb bytes.Buffer
	programs := map[string]cmdexe.Program{`c:\tools dir\echo.exe`: echoArgs}
	s := &Session{FS: winfs.New(), Env: map[string]string{"TEMP": winfs.TempDir, "TOOLS": `C:\Tools Dir`}, Stdin: strings.NewReader(""),
		Cmdlets: Builtins(), Native: func(name string) cmdexe.Program { return cmdexe.Lookup(programs, name) }}
	code := Run(context.Background(), s, script, &out, &errb)
	return result{out.String(), errb.String(), code}
}

func TestCallOperator(t *testing.T) {
	tests := []struct {
		name, script, want, stderr string
		code                       int
	}{
		{"quoted path, arguments as PowerShell passes them",
			`& 'C:\Tools Dir\echo.exe' /a:b "/p:x y" -Flag 'q'; 'code ' + $LASTEXITCODE`,
			"[/a:b]\r\n[/p:x y]\r\n[-Flag]\r\n[q]\r\ncode 4\r\n", "", 0},
		{"path from a variable, output captured",
			"$exe = [Environment]::ExpandEnvironmentVariables('%TOOLS%\\echo.exe')\n$out = & $exe one two\n$out -join '+'",
			"[one]+[two]\r\n", "", 0},
		{"a comma makes two arguments", `& 'C:\Tools Dir\echo.exe' /level:global,pool`, "[/level:global]\r\n[pool]\r\n", "", 0},
		{"stderr passes through", `$o = & 'C:\Tools Dir\echo.exe' fail; $LASTEXITCODE`, "1\r\n", "failed\r\n", 0},
		{"a cmdlet by name", `& 'Write-Output' 'x'`, "x\r\n", "", 0},
		{"a missing program", `& 'C:\Tools Dir\nope.exe' x`, "", "is not recognized as the name of a cmdlet", 1},
		{"a bare name not on PATH", `& echo.exe x`, "", "is not recognized as the name of a cmdlet", 1},
		{"unknown variables stay as written", `[Environment]::ExpandEnvironmentVariables('%NOPE%\a%TOOLS%b%')`, "%NOPE%\\aC:\\Tools Dirb%\r\n", "", 0},
		{"join of nothing", `$null -join ','`, "\r\n", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runNative(t, tc.script)
			if r.code != tc.code || r.stdout != tc.want || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("got %+v", r)
			}
		})
	}
}
