package cmdexe

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// FuzzRun feeds arbitrary command lines to the cmd.exe emulation: it must neither panic nor hang.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"echo out && echo err>&2 && exit 1",
		`dbimpexp.exe /hrxmlfile:%TEMP%\ocsha-0123456789abcdef.xml /restype:user & del %TEMP%\x.xml`,
		`"echo hi"`, "cmd /c cmd /c echo ^& & set", `echo a >> "C:\x y.txt" 2>&1 | digest`, "exit /b", "%", "^",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		opts := Options{Programs: testPrograms(), FS: winfs.New(), Env: NewEnvironment("TEMP", winfs.TempDir)}
		_ = Run(context.Background(), opts, line, strings.NewReader(""), io.Discard, io.Discard)
		_ = SplitArgs(line)
	})
}
