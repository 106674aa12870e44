package main

import (
	"encoding/base64"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

func TestComputeFloor(t *testing.T) {
	cm := costModel{Latency: secs(2 * time.Millisecond), MoveCost: secs(2 * time.Millisecond),
		ImportCost: secs(2 * time.Millisecond), Concurrency: 2, RoundTrips: 5}
	tests := map[string]struct {
		commands        map[string]int
		active          int
		moves, imports  int
		want, rt, perUs time.Duration
	}{
		"failover on one survivor: everything shares its two slots": {
			commands: map[string]int{"ocs1": 60}, active: 1, moves: 2500, imports: 2500,
			// (60 × 5 × 2 ms + 5000 × 2 ms) / 2
			want: 5300 * time.Millisecond, rt: 300 * time.Millisecond, perUs: 5 * time.Second,
		},
		"drain with two servers up: the work spreads over four slots": {
			// (40 × 5 × 2 ms + 2500 × 2 ms) / 4
			commands: map[string]int{"ocs1": 10, "ocs2": 30}, active: 2, moves: 2500,
			want: 1350 * time.Millisecond, rt: 100 * time.Millisecond, perUs: 1250 * time.Millisecond,
		},
		"round trips of one busy server dominate": {
			commands: map[string]int{"ocs1": 1000, "ocs2": 0}, active: 2,
			want: 5 * time.Second, rt: 2500 * time.Millisecond,
		},
		"no commands and no users": {
			commands: map[string]int{}, active: 0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := computeFloor(cm, tc.commands, tc.active, work{Moves: tc.moves, Imports: tc.imports})
			if time.Duration(f.Floor) != tc.want || time.Duration(f.RoundTripTerm) != tc.rt || time.Duration(f.PerUserTerm) != tc.perUs {
				t.Errorf("floor %v (round trips %v, per user %v), want %v (%v, %v)",
					time.Duration(f.Floor), time.Duration(f.RoundTripTerm), time.Duration(f.PerUserTerm), tc.want, tc.rt, tc.perUs)
			}
		})
	}
}

func TestComputeFloorChargesWindowsCosts(t *testing.T) {
	cm := costModel{Latency: secs(2 * time.Millisecond), MoveCost: secs(8 * time.Millisecond), ImportCost: secs(time.Millisecond),
		ProcessCost: secs(3 * time.Millisecond), ShellCost: secs(10 * time.Millisecond), ExportCost: secs(time.Millisecond),
		ModuleCost: secs(30 * time.Millisecond), Concurrency: 2, RoundTrips: 3}
	tests := map[string]struct {
		commands              map[string]int
		active                int
		w                     work
		want, cmds, sh, perUs time.Duration
	}{
		"each command pays its round trips and a program start; each slot one shell": {
			// commands 10 × (3 × 2 + 3) ms = 90 ms; shells 2 × 10 ms; (90 + 20) / 2 = 55 ms
			commands: map[string]int{"ocs1": 10}, active: 1,
			want: 55 * time.Millisecond, cmds: 45 * time.Millisecond, sh: 10 * time.Millisecond,
		},
		"a single command needs a single shell": {
			// busiest server: 9 ms / 2 + 10 ms shell = 14.5 ms beats (9 + 10) / 2
			commands: map[string]int{"ocs1": 1}, active: 1,
			want: 14500 * time.Microsecond, cmds: 4500 * time.Microsecond, sh: 5 * time.Millisecond,
		},
		"exports and module loads are per-user work": {
			// (2 × 9 + 2 × 10 + 100 × 1 + 2 × 30) ms / 4
			commands: map[string]int{"ocs1": 1, "ocs2": 1}, active: 2, w: work{Exports: 100, ModuleLoads: 2},
			want: 49500 * time.Microsecond, cmds: 4500 * time.Microsecond, sh: 5 * time.Millisecond, perUs: 40 * time.Millisecond,
		},
		"a read-back is an export, and a program start where the tool exports one user per run": {
			// (10 × 9 + 2 × 10 + 100 × (1 + 3)) ms / 2
			commands: map[string]int{"ocs1": 10}, active: 1, w: work{ReadBacks: 100, ReadBackStarts: true},
			want: 255 * time.Millisecond, cmds: 45 * time.Millisecond, sh: 10 * time.Millisecond, perUs: 200 * time.Millisecond,
		},
		"a read-back inside the script's powershell.exe is an export only": {
			// (10 × 9 + 2 × 10 + 100 × 1) ms / 2
			commands: map[string]int{"ocs1": 10}, active: 1, w: work{ReadBacks: 100},
			want: 105 * time.Millisecond, cmds: 45 * time.Millisecond, sh: 10 * time.Millisecond, perUs: 50 * time.Millisecond,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := computeFloor(cm, tc.commands, tc.active, tc.w)
			got := []time.Duration{time.Duration(f.Floor), time.Duration(f.RoundTripTerm), time.Duration(f.ShellTerm), time.Duration(f.PerUserTerm)}
			want := []time.Duration{tc.want, tc.cmds, tc.sh, tc.perUs}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("floor, commands, shells, per user = %v, want %v", got, want)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	legacy, err := profileModel(profileLegacy, defaultTimeScale)
	if err != nil {
		t.Fatal(err)
	}
	if legacy.emulatorFlags() != "--latency 2ms --import-cost 2ms --move-cost 2ms" || legacy.RoundTrips != 5 {
		t.Errorf("legacy profile %q, %d round trips", legacy.emulatorFlags(), legacy.RoundTrips)
	}
	win, err := profileModel(profileWindows, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if win.MoveCost != secs(8*time.Millisecond) || win.ProcessCost != secs(2500*time.Microsecond) || win.ShellCost != secs(time.Millisecond) ||
		win.Latency != secs(2*time.Millisecond) || win.RoundTrips != 3 {
		t.Errorf("windows profile at 0.01: %+v", win)
	}
	if _, err := profileModel("nope", 1); err == nil {
		t.Error("an unknown profile was accepted")
	}
	overrideCosts(&win, map[string]time.Duration{"export-cost": time.Second})
	if win.ExportCost != secs(time.Second) {
		t.Error("an explicit flag did not override the profile")
	}
}

func TestCommandDelta(t *testing.T) {
	before := map[string][]string{"ocs1": {"a", "b"}, "ocs2": {"x"}}
	after := map[string][]string{"ocs1": {"a", "b", "c"}, "ocs2": {"x"}, "ocs3": {"y", "z"}}
	if got, want := commandDelta(before, after), map[string]int{"ocs1": 1, "ocs3": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("commandDelta = %v, want %v", got, want)
	}
	if got := len(newCommands(before, after)); got != 3 {
		t.Errorf("newCommands returned %d lines, want 3", got)
	}
}

func TestClassifyCommands(t *testing.T) {
	got := classifyCommands([]string{
		`dbimpexp.exe /hrxmlfile:"%TEMP%\a.xml" /restype:user && powershell.exe -EncodedCommand x`,
		`powershell.exe -EncodedCommand x && dbimpexp.exe /import /hrxmlfile:"%TEMP%\a.xml" /restype:user`,
		`sc query RtcSrv`,
		`powershell.exe -NoProfile -NonInteractive -EncodedCommand x`,
		`lcscmd.exe /config /action:export`,
		`whoami`,
		`echo QUJD >> "%TEMP%\ocsha-1.b64"`,
		`echo QUJD >> "%TEMP%\ocsha-1.b64" && powershell.exe -NoProfile -NonInteractive -EncodedCommand x`,
		`powershell.exe -NoProfile -NonInteractive -EncodedCommand ` + encodeUTF16LE(`$exe = 'C:\Program Files\Common Files\Microsoft Office Communications Server 2007 R2\DBImpExp.exe'`+"\n"+`& $exe /import /hrxmlfile:$f`),
	})
	want := map[string]int{"dbimpexp export": 1, "dbimpexp import": 2, "sc query": 1, "powershell": 2, "lcscmd": 1, "other": 1, "upload echo": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("classifyCommands = %v, want %v", got, want)
	}
}

func TestParseProcUsage(t *testing.T) {
	status := "Name:\tmanager\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\nRssAnon:\t   60000 kB\nRssFile:\t   40000 kB\nThreads:\t12\n"
	// utime 250 and stime 50 ticks = 3 s; the name holds a space and a parenthesis.
	stat := "4242 (my (mgr) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 1 2 3"
	got, err := parseProcUsage([]byte(status), []byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	want := procUsage{RSS: 100000 * 1024, HWM: 123456 * 1024, RSSFile: 40000 * 1024, UserSys: secs(3 * time.Second), Available: true}
	if got != want {
		t.Errorf("parseProcUsage = %+v, want %+v", got, want)
	}
	for name, in := range map[string][2]string{
		"no memory lines": {"Name:\tx\n", stat},
		"truncated stat":  {status, "1 (x) S 1 2"},
		"no name":         {status, "1 x S"},
	} {
		if _, err := parseProcUsage([]byte(in[0]), []byte(in[1])); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseBenchOutput(t *testing.T) {
	out := strings.Join([]string{
		"goos: linux",
		"BenchmarkCompute100k/servers=2-2         	      12	  95000000 ns/op	 1234 B/op	      56 allocs/op",
		"BenchmarkParseHomedResources-2   	     100	  10500000 ns/op	  95.20 MB/s	 2000000 B/op	   30000 allocs/op",
		"BenchmarkBroken-2  x ns/op",
		"PASS",
	}, "\n")
	want := []microResult{
		{Name: "BenchmarkCompute100k/servers=2", Iterations: 12, NsPerOp: 95e6, BytesPerOp: 1234, AllocsPerOp: 56},
		{Name: "BenchmarkParseHomedResources", Iterations: 100, NsPerOp: 10.5e6, BytesPerOp: 2000000, AllocsPerOp: 30000},
	}
	if got := parseBenchOutput(out); !reflect.DeepEqual(got, want) {
		t.Errorf("parseBenchOutput = %+v, want %+v", got, want)
	}
}

func TestSecsJSON(t *testing.T) {
	b, err := secs(1234567891 * time.Nanosecond).MarshalJSON()
	if err != nil || string(b) != "1.234568" {
		t.Errorf("MarshalJSON = %s, %v; want 1.234568", b, err)
	}
	for _, d := range []time.Duration{200 * time.Microsecond, 300 * time.Microsecond, 2500 * time.Microsecond, 8 * time.Millisecond} {
		var back secs
		b, _ := secs(d).MarshalJSON()
		if err := back.UnmarshalJSON(b); err != nil || time.Duration(back) != d {
			t.Errorf("%s → %s → %s, %v: --render would report another cost model", d, b, time.Duration(back), err)
		}
	}
	var s secs
	if err := s.UnmarshalJSON([]byte("2.5")); err != nil || time.Duration(s) != 2500*time.Millisecond {
		t.Errorf("UnmarshalJSON = %v, %v", time.Duration(s), err)
	}
}

func TestMachineParsers(t *testing.T) {
	if got := parseMemTotal("MemFree: 1 kB\nMemTotal:       24684544 kB\n"); got != 24684544 {
		t.Errorf("parseMemTotal = %d", got)
	}
	if got := parseCPUModel("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n"); got != "AMD EPYC 7B13" {
		t.Errorf("parseCPUModel = %q", got)
	}
}

func TestRenderMarkdownStatesMachineCostModelAndRatios(t *testing.T) {
	cm := costModel{Latency: secs(2 * time.Millisecond), MoveCost: secs(2 * time.Millisecond),
		ImportCost: secs(2 * time.Millisecond), Concurrency: 2, RoundTrips: 5}
	action := computeFloor(cm, map[string]int{"ocs1": 60}, 1, work{Moves: 2500, Imports: 2500})
	r := &results{
		Started: time.Unix(0, 0), Finished: time.Unix(600, 0),
		Machine: machine{CPUs: 2, MemoryMiB: 1024, CPUModel: "Test CPU", GoVersion: "go1.26.8"},
		Cost:    cm,
		Config:  runConfig{Users: 5000, ContactsPerUser: 50, MoveBatchSize: 100, FailoverDelay: secs(5 * time.Second)},
		Failover: &failoverResult{Users: 5000, Evacuated: 2500, Total: secs(20 * time.Second), Action: secs(6 * time.Second),
			ConfiguredDelay: secs(5 * time.Second), ActionFloor: action, TotalFloor: action.Floor + secs(time.Second),
			ActionRatio: 6 / time.Duration(action.Floor).Seconds(), TotalRatio: 2.5},
		Drain:  &drainResult{Users: 2500, Total: secs(3 * time.Second), Floor: computeFloor(cm, map[string]int{"ocs2": 30}, 2, work{Moves: 2500}), Ratio: 2},
		Manual: &manualResult{Sample: 250, Target: 2500, Total: secs(180 * time.Second), Extrapolated: true, Floor: computeFloor(cm, map[string]int{"ocs1": 500, "ocs2": 250}, 1, work{Moves: 250, Imports: 250})},
		Backup: &backupResult{Users: 5000, Changed: 50, FullTime: secs(10 * time.Second), FullBytes: 3 << 20, ExportFloor: secs(200 * time.Millisecond)},
		Scale:  &scaleResult{Pools: 20, UsersPerPool: 5000, Users: 100000, PeakRSSMiB: 120, ReadyPools: 20},
		Micro:  []microResult{{Name: "BenchmarkCompute100k/servers=2", NsPerOp: 2e7}},
		Errors: map[string]string{"drain": "waiting for ocs1 Drained: context deadline exceeded"},
	}
	md := renderMarkdown(r)
	for _, want := range []string{
		"| 2 | 1024 MiB | Test CPU | go1.26.8 |",
		"`--latency 2ms --import-cost 2ms --move-cost 2ms`",
		"30.0× (vs moves + restore)",
		"extrapolated linearly to 2500",
		"| Manager peak RSS, 20 pools × 5000 users (100000 users) | 120.0 MiB",
		"| Placement planner, 100,000 users (servers=2) | 20 ms/op | – | – | < 200 ms | yes |",
		"- **drain**: waiting for ocs1 Drained",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestOwnCostPer1000Users(t *testing.T) {
	before := processesUsage{manager: procUsage{Available: true, UserSys: secs(time.Second), RSS: 50 << 20},
		emulator: procUsage{Available: true, UserSys: secs(2 * time.Second)}}
	after := processesUsage{manager: procUsage{Available: true, UserSys: secs(6 * time.Second), RSS: 60 << 20},
		emulator: procUsage{Available: true, UserSys: secs(12 * time.Second)}}
	oc := ownCost(before, after, 80<<20, 2500)
	if oc == nil || oc.ManagerCPU != secs(5*time.Second) || oc.ManagerCPUPer1000 != secs(2*time.Second) ||
		oc.EmulatorCPUPer1000 != secs(4*time.Second) || oc.ManagerPeakRSSMiB != 80 || oc.ManagerRSSBeforeMiB != 50 {
		t.Errorf("ownCost = %+v", oc)
	}
	if ownCost(processesUsage{}, after, 0, 2500) != nil {
		t.Error("a cost without a first reading")
	}
}

// encodeUTF16LE is what -EncodedCommand takes: the script's UTF-16LE bytes in base64.
func encodeUTF16LE(script string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(script)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestWholeExportFloorIsOneCommand(t *testing.T) {
	cm := costModel{Latency: secs(2 * time.Millisecond), ProcessCost: secs(3 * time.Millisecond), ShellCost: secs(10 * time.Millisecond),
		ExportCost: secs(time.Millisecond), Concurrency: 2, RoundTrips: 3}
	// 100 users × 1 ms in one command (3 × 2 + 3 ms) on a new shell (10 ms): no share of a second slot.
	if got, want := wholeExportFloor(cm, 100), 119*time.Millisecond; got != want {
		t.Errorf("wholeExportFloor = %v, want %v", got, want)
	}
}
