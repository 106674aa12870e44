package ocs

import (
	"context"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// TestEmulatorPreflight runs the preflight against emulated servers that lack what the
// operator needs, one thing each: the report names the first failed check.
func TestEmulatorPreflight(t *testing.T) {
	tests := map[string]struct {
		product Product
		profile sim.Profile
		want    string // first failed check, "" when all pass
		version string
		message string
	}{
		"OCS 2007 R2 as installed":       {product: ProductOCS2007R2, version: "2.0"},
		"Skype for Business":             {product: ProductSkypeForBusiness, version: "5.1"},
		"PowerShell 1.0":                 {product: ProductOCS2007R2, profile: sim.Profile{PowerShell: "1.0"}, want: CheckPowerShellVersion, version: "1.0", message: "Windows Management Framework 2.0"},
		"no lcscmd":                      {product: ProductOCS2007R2, profile: sim.Profile{MissingTools: []string{"lcscmd"}}, want: CheckLcscmdPath, version: "2.0", message: "spec.tools.lcscmdPath"},
		"no dbimpexp":                    {product: ProductOCS2007R2, profile: sim.Profile{MissingTools: []string{"dbimpexp"}}, want: CheckDBImpExpPath, version: "2.0", message: "spec.tools.dbimpexpPath"},
		"no WMI classes":                 {product: ProductOCS2007R2, profile: sim.Profile{MissingModule: true}, want: CheckWMIClasses, version: "2.0", message: "Invalid class"},
		"no SkypeForBusiness module":     {product: ProductSkypeForBusiness, profile: sim.Profile{MissingModule: true}, want: CheckSfBModule, version: "5.1", message: "SkypeForBusiness"},
		"SfB on PowerShell 2.0, no wrap": {product: ProductSkypeForBusiness, profile: sim.Profile{PowerShell: "2.0"}, version: "2.0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e, err := sim.Start(ctx, sim.Config{Servers: []string{"ocs1", "ocs2"}, Users: 4, Admin: "127.0.0.1:0",
				Product: string(tc.product), ServerProfiles: map[string]sim.Profile{"ocs2": tc.profile}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			a := emulatorAgent(t, e, tc.product)
			report, err := a.Preflight(ctx, "ocs2")
			if err != nil {
				t.Fatal(err)
			}
			if report.PowerShellVersion != tc.version {
				t.Fatalf("version %q, want %q", report.PowerShellVersion, tc.version)
			}
			failed, ok := report.FirstFailure()
			if tc.want == "" {
				if ok {
					t.Fatalf("failed: %+v", report)
				}
				return
			}
			if !ok || failed.Name != tc.want || !strings.Contains(failed.Message, tc.message) {
				t.Fatalf("first failure %+v, want %s mentioning %q; report %+v", failed, tc.want, tc.message, report)
			}
			if good, err := a.Preflight(ctx, "ocs1"); err != nil {
				t.Fatal(err)
			} else if f, bad := good.FirstFailure(); bad {
				t.Fatalf("the other server failed: %+v", f)
			}
		})
	}
}

func TestPreflightWriteCheckHook(t *testing.T) {
	ctx := context.Background()
	e, err := sim.Start(ctx, sim.Config{Servers: []string{"ocs1", "ocs2"}, Users: 2, Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	report, err := emulatorAgent(t, e, ProductOCS2007R2).Preflight(ctx, "ocs1")
	if err != nil || report.Checks[len(report.Checks)-1].Result != CheckSkipped {
		t.Fatalf("without a hook the write check is skipped: %+v, %v", report, err)
	}
	denied := func(context.Context, string) error { return errString("the session holds no delegated credentials") }
	report, err = emulatorAgent(t, e, ProductOCS2007R2, WithDirectoryWriteCheck(denied)).Preflight(ctx, "ocs1")
	f, ok := report.FirstFailure()
	if err != nil || !ok || f.Name != CheckDirectoryWrite || !f.AccessDenied {
		t.Fatalf("hook: %+v, %v", report, err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCheckRows(t *testing.T) {
	checks, err := checkRows([]byte(`"ReadUsers","Failed","Get-WmiObject : Access is denied. (Exception from HRESULT: 0x80070005)"` + "\n" + `"WMIClasses","Passed","ok"`))
	if err != nil || len(checks) != 2 || !checks[0].AccessDenied || checks[1].Result != CheckPassed {
		t.Fatalf("%+v, %v", checks, err)
	}
	if _, err := checkRows([]byte(`"X","Maybe",""`)); err == nil {
		t.Fatal("an unknown result was accepted")
	}
}

func FuzzCheckRows(f *testing.F) {
	f.Add([]byte(`"ReadUsers","Passed","Users can be read."`))
	f.Add([]byte("\"a\",\"Failed\",\"b\"\"c\"\n\"x\""))
	f.Fuzz(func(t *testing.T, out []byte) {
		checks, err := checkRows(out)
		for _, c := range checks {
			if err == nil && c.Result != CheckPassed && c.Result != CheckFailed && c.Result != CheckSkipped {
				t.Fatalf("result %q", c.Result)
			}
		}
	})
}
