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
		s := &Session{FS: winfs.New(), Env: map[string]string{}, Stdin: strings.NewReader("a\nb"), Cmdlets: Builtins()}
		Run(ctx, s, src, io.Discard, io.Discard)
	})
}
