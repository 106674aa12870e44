package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Cost-model profiles: windows charges what a real server spends (published figures scaled
// down by --time-scale so that a run fits in minutes); legacy is the first model, latency and two
// per-user costs only, kept to compare with earlier reports.
const (
	profileWindows = "windows"
	profileLegacy  = "legacy"
)

// defaultTimeScale divides the published Windows figures: a failover of 2,500 users at a real
// Move-CsUser's pace would take about 17 minutes on two slots.
const defaultTimeScale = 0.01

// published is one figure of the windows profile as its source states it, before scaling.
type published struct {
	flag   string
	value  time.Duration
	source string
}

// windowsFigures are the public figures behind the windows profile (docs/benchmarks.md quotes
// them). Where no public measurement exists the figure says so and names its assumption.
var windowsFigures = []published{
	{"move-cost", 800 * time.Millisecond, "Move-CsUser: 35,000 users projected at just under 8 h by one `Get-CsUser | Move-CsUser` pipeline, ≈ 0.8 s per user " +
		"(skypeadmin.com, \"Move your Lync/Skype users faster\", 2015; the same post's lab moved a similar number in 40 min per direction, ≈ 0.07 s)"},
	{"process-cost", 250 * time.Millisecond, "powershell.exe start: 190–230 ms warm with -NoProfile for Windows PowerShell 5.1 (PowerShell/PowerShell#6443, #12843), " +
		"600 ms cold (#4239, SteveL-MSFT); cmd /c 42 ms (#6443). Charged to every program start (sc, dbimpexp, lcscmd too): an upper bound for the small tools"},
	{"module-cost", 3 * time.Second, "Import-Module SkypeForBusiness: no public measurement found; \"several seconds\" (issue 19) is assumed as 3 s. " +
		"OCS 2007 R2, the bench's product, has no module, so no run of the bench pays it"},
	{"shell-cost", 100 * time.Millisecond, "WinRS Create: Windows starts a shell host process (winrshost.exe) and loads the user's logon; no public measurement found, " +
		"assumed 2.5 × cmd's start"},
	{"export-cost", 20 * time.Millisecond, "dbimpexp / Export-CsUserData per user: no public measurement found; assumed 20 ms (one SQL read of the user's contacts and groups)"},
	{"import-cost", 20 * time.Millisecond, "dbimpexp /import / Update-CsUserData per user: no public measurement found; assumed equal to the export"},
}

// profileModel is the cost model of a named profile; scale applies to the windows figures (the
// network latency stays as measured on a LAN).
func profileModel(name string, scale float64) (costModel, error) {
	cm := costModel{Profile: name, Latency: secs(2 * time.Millisecond), Concurrency: 2}
	switch name {
	case profileLegacy:
		cm.MoveCost, cm.ImportCost = secs(2*time.Millisecond), secs(2*time.Millisecond)
		// A shell per command: Create, Command, Receive, Signal, Delete.
		cm.RoundTrips = 5
	case profileWindows:
		if scale <= 0 {
			return cm, fmt.Errorf("--time-scale %v: want a positive factor", scale)
		}
		cm.TimeScale = scale
		// A shell kept open: Command, Receive, Signal; Create is the shell cost, paid once per slot.
		cm.RoundTrips = 3
		for _, f := range windowsFigures {
			d := secs(time.Duration(float64(f.value) * scale))
			switch f.flag {
			case "move-cost":
				cm.MoveCost = d
			case "import-cost":
				cm.ImportCost = d
			case "process-cost":
				cm.ProcessCost = d
			case "module-cost":
				cm.ModuleCost = d
			case "shell-cost":
				cm.ShellCost = d
			case "export-cost":
				cm.ExportCost = d
			}
		}
	default:
		return cm, fmt.Errorf("unknown cost-model profile %q: want %s or %s", name, profileWindows, profileLegacy)
	}
	return cm, nil
}

// overrideCosts applies the cost flags given explicitly on the command line to a profile.
func overrideCosts(cm *costModel, set map[string]time.Duration) {
	for flag, d := range set {
		switch flag {
		case "latency":
			cm.Latency = secs(d)
		case "move-cost":
			cm.MoveCost = secs(d)
		case "import-cost":
			cm.ImportCost = secs(d)
		case "process-cost":
			cm.ProcessCost = secs(d)
		case "module-cost":
			cm.ModuleCost = secs(d)
		case "shell-cost":
			cm.ShellCost = secs(d)
		case "export-cost":
			cm.ExportCost = secs(d)
		}
	}
}

// emulatorFlags prints the model as ocs-sim flags.
func (cm costModel) emulatorFlags() string {
	parts := []string{"--latency " + time.Duration(cm.Latency).String()}
	for _, f := range []struct {
		name string
		d    secs
	}{{"move-cost", cm.MoveCost}, {"import-cost", cm.ImportCost}, {"process-cost", cm.ProcessCost},
		{"module-cost", cm.ModuleCost}, {"shell-cost", cm.ShellCost}, {"export-cost", cm.ExportCost}} {
		if f.d > 0 {
			parts = append(parts, "--"+f.name+" "+time.Duration(f.d).String())
		}
	}
	sort.Strings(parts[1:])
	return strings.Join(parts, " ")
}
