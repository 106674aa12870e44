package ocs

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateToolPath(t *testing.T) {
	valid := []string{
		defaultLcscmdPath, defaultDBImpExpPath,
		`C:\Program Files (x86)\OCS Tools\dbimpexp.EXE`,
		`D:\tools\DBImpExp.exe`,
		`%ProgramFiles(x86)%\Common Files\lcscmd.exe`,
	}
	invalid := []string{
		"dbimpexp.exe", `.\dbimpexp.exe`, `\\server\share\dbimpexp.exe`, `C:\tools\dbimpexp.cmd`,
		`C:\a"b\x.exe`, `C:\a&calc\x.exe`, `C:\a|b\x.exe`, `C:\a<b\x.exe`, `C:\a>b\x.exe`, `C:\a^b\x.exe`,
		`C:\a!b\x.exe`, `C:\a'b\x.exe`, "C:\\a\nb\\x.exe", `C:\` + strings.Repeat("a", 260) + `\x.exe`,
		`%TEMP%%x%\x.exe`, `C:\tools\`, "",
	}
	for _, p := range valid {
		if err := ValidateToolPath(p); err != nil {
			t.Errorf("ValidateToolPath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range invalid {
		if err := ValidateToolPath(p); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ValidateToolPath(%q) = %v, want ErrInvalidArgument", p, err)
		}
	}
}

func TestNewAgentChecksToolPaths(t *testing.T) {
	e := &scriptedExec{t: t}
	if _, err := NewAgent(ProductOCS2007R2, testServers, e, WithTools(Tools{DBImpExpPath: `C:\x&y\DBImpExp.exe`})); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a tool path with & was accepted: %v", err)
	}
	a, err := NewAgent(ProductOCS2007R2, testServers, e, WithTools(Tools{LcscmdPath: `D:\OCS\lcscmd.exe`}))
	if err != nil {
		t.Fatal(err)
	}
	d := a.(*agent).d.(*ocsDialect)
	if d.tools.LcscmdPath != `D:\OCS\lcscmd.exe` || d.tools.DBImpExpPath != defaultDBImpExpPath {
		t.Fatalf("tools %+v: an empty field must keep its default", d.tools)
	}
}
