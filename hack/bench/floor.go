package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
)

// work is what an operation must do beyond its commands, each charged at the model's cost.
type work struct {
	Moves, Imports, Exports int
	// ModuleLoads counts the powershell processes that must load the product's module (Skype for
	// Business only; OCS 2007 R2 has none).
	ModuleLoads int
	// ReadBacks counts the imported users whose import is verified by exporting them again, one
	// by one (internal/ocs readback.go: the tools' output is undocumented, so the read-back is
	// the only proof an import landed). Each costs one export, and one program start where the
	// product's tool exports one user per run (ReadBackStarts: dbimpexp /user: on OCS 2007 R2;
	// Export-CsUserData runs inside the script's powershell.exe).
	ReadBacks      int
	ReadBackStarts bool
}

// readBacksOf is the read-back work of imports of n users on the bench's product.
func readBacksOf(cfg config, n int) (int, bool) {
	return n, cfg.product != "SkypeForBusiness"
}

// computeFloor is the least time the cost model allows for an operation that ran commands per
// server (counted from the emulator) and did the given per-user work.
//
// Each command holds one of the server's Concurrency slots for at least RoundTrips × Latency plus
// one program start (ProcessCost) plus the per-user costs it spends; each slot needs one shell
// (ShellCost), created once when shells are kept open. So no server can finish before its own
// commands divided by its slots plus one shell, and the whole work cannot finish before it is
// divided over the slots of the servers that are up. The floor is the larger of the two.
func computeFloor(cm costModel, commands map[string]int, activeServers int, w work) floor {
	c := max(cm.Concurrency, 1)
	active := max(activeServers, 1)
	perCmd := time.Duration(cm.RoundTrips)*time.Duration(cm.Latency) + time.Duration(cm.ProcessCost)
	shell := time.Duration(cm.ShellCost)
	var total, worst, shells time.Duration
	for _, n := range commands {
		if n <= 0 {
			continue
		}
		d := time.Duration(n) * perCmd
		total += d
		shells += time.Duration(min(n, c)) * shell
		worst = max(worst, d/time.Duration(c)+shell)
	}
	readBack := time.Duration(w.ReadBacks) * time.Duration(cm.ExportCost)
	if w.ReadBackStarts {
		readBack += time.Duration(w.ReadBacks) * time.Duration(cm.ProcessCost)
	}
	perUser := time.Duration(w.Moves)*time.Duration(cm.MoveCost) + time.Duration(w.Imports)*time.Duration(cm.ImportCost) +
		time.Duration(w.Exports)*time.Duration(cm.ExportCost) + time.Duration(w.ModuleLoads)*time.Duration(cm.ModuleCost) + readBack
	slots := time.Duration(c * active)
	f := max(worst, (total+shells+perUser)/slots)
	return floor{
		Commands:      commands,
		ActiveServers: active,
		Moves:         w.Moves,
		Imports:       w.Imports,
		Exports:       w.Exports,
		ReadBacks:     w.ReadBacks,
		ReadBackTerm:  secs(readBack / slots),
		NoReadBacks:   secs(max(worst, (total+shells+perUser-readBack)/slots)),
		RoundTripTerm: secs(total / slots),
		ShellTerm:     secs(shells / slots),
		PerUserTerm:   secs(perUser / slots),
		Floor:         secs(f),
	}
}

// wholeExportFloor is the least time one server's whole export of users takes: it is one command
// (dbimpexp exports all users or one, Export-CsUserData a whole pool), so its users' export cost
// is not shared out over the server's slots as computeFloor's per-user term would have it.
func wholeExportFloor(cm costModel, users int) time.Duration {
	perCmd := time.Duration(cm.RoundTrips)*time.Duration(cm.Latency) + time.Duration(cm.ProcessCost)
	return time.Duration(users)*time.Duration(cm.ExportCost) + perCmd + time.Duration(cm.ShellCost)
}

// commandDelta counts the commands each server ran between two GET /commands answers.
func commandDelta(before, after map[string][]string) map[string]int {
	out := map[string]int{}
	for s, cmds := range after {
		if n := len(cmds) - len(before[s]); n > 0 {
			out[s] = n
		}
	}
	return out
}

// newCommands returns the command lines each server ran after the before answer.
func newCommands(before, after map[string][]string) []string {
	var out []string
	for s, cmds := range after {
		if n := len(before[s]); n < len(cmds) {
			out = append(out, cmds[n:]...)
		}
	}
	return out
}

// classifyCommands counts command lines by what they do, for the "what limits it" column. A
// PowerShell line is judged by its decoded -EncodedCommand script, where the tools it runs are.
func classifyCommands(lines []string) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		low := strings.ToLower(l) + "\n" + strings.ToLower(encodedScript(l))
		switch {
		case strings.HasPrefix(low, "echo ") && strings.Contains(low, ">>") && !strings.Contains(low, "powershell"):
			// internal/ocs uploads data in cmd echo lines before the script that reads it.
			out["upload echo"]++
		case strings.Contains(low, "dbimpexp") && strings.Contains(low, "/import"):
			out["dbimpexp import"]++
		case strings.Contains(low, "dbimpexp"):
			out["dbimpexp export"]++
		case strings.Contains(low, "lcscmd"):
			out["lcscmd"]++
		case strings.HasPrefix(low, "sc ") || strings.Contains(low, "sc query"):
			out["sc query"]++
		case strings.Contains(low, "powershell") && strings.HasSuffix(low, "-command -"):
			out["powershell (persistent)"]++
		case strings.Contains(low, "powershell"):
			out["powershell"]++
		default:
			out["other"]++
		}
	}
	return out
}

// ratio is measured/floor, 0 when the floor is zero.
func ratio(measured, fl time.Duration) float64 {
	if fl <= 0 {
		return 0
	}
	return float64(measured) / float64(fl)
}

// fmtDur prints a duration with three significant figures in s or ms.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}

// fmtCounts prints a map of counts in key order: "ocs1 12, ocs2 3".
func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// moduleLoads is the least number of module loads an operation on active servers needs: one per
// slot, in a powershell.exe kept for the slot (Skype for Business; OCS 2007 R2 has no module).
func moduleLoads(cfg config, active int) int {
	if cfg.product != "SkypeForBusiness" {
		return 0
	}
	return max(cfg.cost.Concurrency, 1) * active
}

// encodedScript returns the script of a `powershell.exe … -EncodedCommand <base64>` line (UTF-16LE
// base64), or "" for any other line.
func encodedScript(line string) string {
	const flag = "-EncodedCommand "
	i := strings.Index(line, flag)
	if i < 0 {
		return ""
	}
	b64, _, _ := strings.Cut(line[i+len(flag):], " ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw)%2 != 0 {
		return ""
	}
	units := make([]uint16, len(raw)/2)
	for j := range units {
		units[j] = binary.LittleEndian.Uint16(raw[2*j:])
	}
	return string(utf16.Decode(units))
}
