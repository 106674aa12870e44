package restoreplan

import (
	"sort"
	"sync"
)

// Memory remembers, per operation, what this process knows of whose contact list holds data, so
// that a restore pass need not export every target again. Two facts make that knowledge:
//
//   - the users this process force-moved, when it ran every forced move of the operation and
//     knows each outcome: such a user arrived with an empty list, and nobody else lost theirs;
//   - the users a finished pass saw holding data (from an export or the memory) or filled itself.
//
// It is only a shortcut, never the truth: an import whose outcome is unknown spoils it, and a
// restarted process starts empty and reads the servers afresh. It is safe for concurrent use.
type Memory struct {
	mu   sync.Mutex
	byOp map[string]*opMemory
}

type opMemory struct {
	// forcedHere: every forced move of the operation ran here with its outcome known.
	forcedHere bool
	// movesKnown: every forced move of the operation ran here, each outcome known (imports
	// whose outcome is unknown do not clear it).
	movesKnown bool
	moved      map[string]bool
	// filled, when not nil, holds the users known to hold data: it wins over moved.
	filled map[string]bool
	// spoils counts the imports whose outcome was unknown; a Basis is its value.
	spoils uint64
}

// Basis is the state of an operation's memory a pass planned from. Remember takes it back and
// ignores a pass planned before an unknown outcome spoiled the memory: such a pass saw neither
// that import's users nor what it filled, so what it knows is not the whole.
type Basis uint64

// BeginForcedMoves starts the record of an operation none of whose users has moved yet: every
// forced move of it will run in this process. It keeps a record already started.
func (m *Memory) BeginForcedMoves(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byOp[op] == nil {
		rec := m.record(op)
		rec.forcedHere, rec.movesKnown = true, true
	}
}

// ForceMoved records users force-moved by this process. uncertain (a batch whose outcome is
// unknown) means the forced moves are no longer all known.
func (m *Memory) ForceMoved(op string, sips []string, uncertain bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.byOp[op]
	if rec == nil {
		return
	}
	if uncertain {
		rec.forcedHere, rec.movesKnown = false, false
	}
	for _, sip := range sips {
		rec.moved[Key(sip)] = true
	}
}

// Holds returns who is known to hold data, as a function of a key for Input.Holds, and whether
// anything is known; false means the servers must be asked.
func (m *Memory) Holds(op string) (func(key string) bool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.byOp[op]
	switch {
	case rec == nil:
		return nil, false
	case rec.filled != nil:
		filled := copySet(rec.filled)
		return func(k string) bool { return filled[k] }, true
	case rec.forcedHere:
		moved := copySet(rec.moved)
		return func(k string) bool { return !moved[k] }, true
	default:
		return nil, false
	}
}

// Unrestored returns, in key order, the users this process force-moved for the operation that
// are not known to hold contact data, and whether that is known: every forced move ran here
// with its outcome known, and no import since has an unknown outcome. A report names them
// with it; it never decides a restore.
func (m *Memory) Unrestored(op string) ([]string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.byOp[op]
	if rec == nil || !rec.movesKnown || (rec.filled == nil && !rec.forcedHere) {
		return nil, false
	}
	out := []string{}
	for k := range rec.moved {
		if !rec.filled[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, true
}

// Basis returns the state a pass plans from; read it before the pass learns who holds data (from
// Holds or an export), so that a Spoil in between makes Remember ignore the pass.
func (m *Memory) Basis(op string) Basis {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec := m.byOp[op]; rec != nil {
		return Basis(rec.spoils)
	}
	return 0
}

// Remember records, once the outcome of each of a pass's imports is known, the users holding
// data. What is known only grows (an import adds data, nothing here removes it), so the
// imports of a pass that each report when they end, in any order, add up. A pass planned on a
// basis an unknown outcome spoiled since is ignored.
func (m *Memory) Remember(op string, filled map[string]bool, basis Basis) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.record(op)
	if Basis(rec.spoils) != basis {
		return
	}
	if rec.filled == nil {
		rec.filled = map[string]bool{}
	}
	for k, v := range filled {
		if v {
			rec.filled[k] = true
		}
	}
}

// Spoil forgets what is known after an import whose outcome is unknown: some users may hold
// data now that neither the forced moves nor the last pass tell of.
func (m *Memory) Spoil(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.record(op)
	rec.forcedHere, rec.filled = false, nil
	rec.spoils++
}

// record returns op's record, started empty (nothing known) when there is none.
func (m *Memory) record(op string) *opMemory {
	if m.byOp == nil {
		m.byOp = map[string]*opMemory{}
	}
	rec := m.byOp[op]
	if rec == nil {
		rec = &opMemory{moved: map[string]bool{}}
		m.byOp[op] = rec
	}
	return rec
}

// Forget drops the record of a finished operation.
func (m *Memory) Forget(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byOp, op)
}

func copySet(s map[string]bool) map[string]bool {
	out := make(map[string]bool, len(s))
	for k, v := range s {
		if v {
			out[k] = true
		}
	}
	return out
}
