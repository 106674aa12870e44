package ps

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// FuzzParse checks that no input makes the parser panic or hang, and that parsed scripts
// run to completion within a bound.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		moveScript, exportScript, "", "'a'", `"$x`, "if ($a) { 'b' } else { 'c' }", "@(1,2)", "[Console]::In",
		"foreach ($l in 'a'.Split(\",\")) { try { throw 'x' } catch { $_.Exception.Message } }",
		"Get-X -A:$false -B 'c' | Select-Object a,b | ConvertTo-Csv -NoTypeInformation", "((((", "{{{{", "`",
		"Write-Host hi; Start-Sleep 30; Write-Host hi again", "(pwd).Path", "Write-Host -Separator ',' @(1,2) -NoNewline",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		blk, err := Parse(src)
		if err != nil || blk == nil {
			return
		}
		// Only scripts without loops over large inputs run: foreach over stdin is bounded by it.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		// Start-Sleep returns at once: the bound is for the interpreter, not for waiting.
		noSleep := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		s := &Session{FS: winfs.New(), Env: map[string]string{}, Stdin: strings.NewReader("a\nb"), Cmdlets: Builtins(), Sleep: noSleep}
		Run(ctx, s, src, io.Discard, io.Discard)
	})
}

// FuzzRunLines checks that no stdin makes the line-by-line runner panic or hang.
func FuzzRunLines(f *testing.F) {
	for _, s := range []string{
		`Write-Host "output 1";Write-Host "output 2";`, "if ($true) {\n'x'\n}\n", "'a\nb'\n", "{\n{\n", "exit 3\n'x'",
		"\uFEFF$a = 1\n$a\n", "\n\n;\n", "$(\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stdin string) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		noSleep := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		s := &Session{FS: winfs.New(), Env: map[string]string{}, Cmdlets: Builtins(), Sleep: noSleep}
		RunLines(ctx, s, strings.NewReader(stdin), io.Discard, io.Discard)
	})
}
