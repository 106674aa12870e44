package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// computeFloor is the least time the cost model allows for an operation that ran commands per
// server (counted from the emulator) and spent per-user costs for moves and imports.
//
// Each command holds one of the server's Concurrency slots for at least RoundTrips × Latency
// plus the per-user costs it spends. So no server can finish before its own round trips divided
// by its slots, and the whole work (every round trip and every per-user cost) cannot finish before
// it is divided over the slots of the servers that are up. The floor is the larger of the two.
func computeFloor(cm costModel, commands map[string]int, activeServers, moves, imports int) floor {
	c := max(cm.Concurrency, 1)
	active := max(activeServers, 1)
	rt := time.Duration(cm.RoundTrips) * time.Duration(cm.Latency)
	var total, worst time.Duration
	for _, n := range commands {
		d := time.Duration(n) * rt
		total += d
		worst = max(worst, d/time.Duration(c))
	}
	perUser := time.Duration(moves)*time.Duration(cm.MoveCost) + time.Duration(imports)*time.Duration(cm.ImportCost)
	f := max(worst, (total+perUser)/time.Duration(c*active))
	return floor{
		Commands:      commands,
		ActiveServers: active,
		Moves:         moves,
		Imports:       imports,
		RoundTripTerm: secs(total / time.Duration(c*active)),
		PerUserTerm:   secs(perUser / time.Duration(c*active)),
		Floor:         secs(f),
	}
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

// classifyCommands counts command lines by what they do, for the "what limits it" column. The
// agent sends PowerShell encoded, so the label comes from the visible program names only.
func classifyCommands(lines []string) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		low := strings.ToLower(l)
		switch {
		case strings.Contains(low, "dbimpexp") && strings.Contains(low, "/import"):
			out["dbimpexp import"]++
		case strings.Contains(low, "dbimpexp"):
			out["dbimpexp export"]++
		case strings.Contains(low, "lcscmd"):
			out["lcscmd"]++
		case strings.HasPrefix(low, "sc ") || strings.Contains(low, "sc query"):
			out["sc query"]++
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
