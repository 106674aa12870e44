package restoreplan

import (
	"sort"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
)

// Sizes applied when Input leaves one at zero.
const (
	// DefaultBatchSize is the number of users per import.
	DefaultBatchSize = 100
	// DefaultBatchesPerTarget bounds the imports per server in one pass. Every pass without
	// Memory starts with a full export of each server (the guard against restoring twice), so a
	// pass imports several batches to spread that cost.
	DefaultBatchesPerTarget = 16
	// DefaultMaxMarks bounds the imports of one pass in all: the bound of
	// status.lastOperation.pendingRestores.
	DefaultMaxMarks = 64
)

// Key is the key of a user in a snapshot and in every set of this package: "sip:" and the
// lower-cased user@host, so that a restore finds the user whatever case the directory and the
// contact database use. It accepts a SIP URI with or without its "sip:" prefix.
func Key(sip string) string {
	s := strings.ToLower(strings.TrimSpace(sip))
	return "sip:" + strings.TrimPrefix(s, "sip:")
}

// User is a user of the directory now.
type User struct {
	SIP  string
	Home string
}

// Mark names an import a pass started: the candidates homed on Server whose keys sort from
// Key(First) to Key(Last).
type Mark struct {
	Server, First, Last string
}

// Input is everything one restore pass decides on.
type Input struct {
	// Snapshot is the user table of the pinned snapshot, by Key; its Server is the home then.
	Snapshot map[string]backup.UserEntry
	// Directory lists the users now, with their home.
	Directory []User
	// Sources are the servers the failover moved users off.
	Sources []string
	// Serving are the servers that serve now; only users homed on one are restored.
	Serving []string
	// Holds reports whether the user of a key holds contact data on its home now. Nil means
	// that nobody is known to.
	Holds func(key string) bool
	// Pending are the marks of imports a pass started and did not count.
	Pending []Mark
	// BatchSize, BatchesPerTarget and MaxMarks bound the imports (Default* when not positive).
	BatchSize, BatchesPerTarget, MaxMarks int
}

// Plan is the outcome of Compute: the candidates of one pass and what is known of them.
type Plan struct {
	// Targets are the servers holding candidates, in name order.
	Targets []string
	// Candidates lists, per target, the directory SIPs of its candidates in key order.
	Candidates map[string][]string
	// Holding holds the keys of the candidates that hold data on their home: they are skipped.
	Holding map[string]bool
	// Waiting lists the users of the restore set homed on a server that does not serve, in key
	// order: they are restored once it serves again, if the operation still runs.
	Waiting []string
	// Settled is the number of users of Input.Pending that hold data now.
	Settled int
	// BatchSize and BatchesPerTarget are the bounds Fill uses.
	BatchSize, BatchesPerTarget int
}

// Compute derives the candidates of a restore pass from the snapshot and the directory, and
// counts what the pending marks restored.
func Compute(in Input) Plan {
	sources, serving := setOf(in.Sources), setOf(in.Serving)
	p := Plan{Candidates: map[string][]string{}, Holding: map[string]bool{}}
	for _, u := range in.Directory {
		k := Key(u.SIP)
		e, ok := in.Snapshot[k]
		if !ok || !sources[e.Server] {
			continue
		}
		if !serving[u.Home] {
			p.Waiting = append(p.Waiting, u.SIP)
			continue
		}
		p.Candidates[u.Home] = append(p.Candidates[u.Home], u.SIP)
		if in.Holds != nil && in.Holds(k) {
			p.Holding[k] = true
		}
	}
	for t, sips := range p.Candidates {
		p.Targets = append(p.Targets, t)
		sortByKey(sips)
	}
	sort.Strings(p.Targets)
	sortByKey(p.Waiting)
	p.Settled = p.settled(in.Pending)
	p.BatchSize = positiveOr(in.BatchSize, DefaultBatchSize)
	p.BatchesPerTarget = batchesPerTarget(len(p.Targets), positiveOr(in.BatchesPerTarget, DefaultBatchesPerTarget),
		positiveOr(in.MaxMarks, DefaultMaxMarks))
	return p
}

// settled counts the candidates inside a pending mark that hold data now: imports of a pass that
// died before its status write. Each user counts once, even under overlapping marks.
func (p Plan) settled(marks []Mark) int {
	counted := map[string]bool{}
	for _, m := range marks {
		first, last := Key(m.First), Key(m.Last)
		for _, sip := range p.Candidates[m.Server] {
			k := Key(sip)
			if k >= first && k <= last && p.Holding[k] && !counted[k] {
				counted[k] = true
			}
		}
	}
	return len(counted)
}

// Keys returns the keys of every candidate.
func (p Plan) Keys() []string {
	var out []string
	for _, t := range p.Targets {
		for _, sip := range p.Candidates[t] {
			out = append(out, Key(sip))
		}
	}
	return out
}

// batchesPerTarget keeps the marks of one pass within maxMarks, with one batch per target at
// the least.
func batchesPerTarget(targets, most, maxMarks int) int {
	if targets <= 0 {
		return most
	}
	return max(1, min(most, maxMarks/targets))
}

func sortByKey(sips []string) {
	sort.SliceStable(sips, func(i, j int) bool {
		ki, kj := Key(sips[i]), Key(sips[j])
		if ki != kj {
			return ki < kj
		}
		return sips[i] < sips[j]
	})
}

func setOf(names []string) map[string]bool {
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out
}

func positiveOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
