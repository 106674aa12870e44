package restoreplan

import (
	"reflect"
	"testing"
)

func TestMemory(t *testing.T) {
	a, b, c := sipOf(1), sipOf(2), sipOf(3)
	tests := map[string]struct {
		do func(m *Memory)
		// known is whether Holds knows anything; holds lists the users that hold data then.
		known bool
		holds []string
	}{
		"an operation never seen is not known": {do: func(*Memory) {}},
		"every forced move ran here: the moved users are empty, everybody else holds data": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a, "SIP:USER0002@corp.example.com"}, false)
			},
			known: true, holds: []string{c},
		},
		"a forced batch with an unknown outcome spoils the record": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a}, true)
				m.ForceMoved("op", []string{b}, false)
			},
		},
		"beginning again keeps the record": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a}, false)
				m.BeginForcedMoves("op")
			},
			known: true, holds: []string{b, c},
		},
		"moves recorded without a beginning are ignored": {
			do: func(m *Memory) { m.ForceMoved("op", []string{a}, false) },
		},
		"what a finished pass saw wins over the forced moves": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a, b}, false)
				m.Remember("op", map[string]bool{Key(a): true, Key(c): true}, m.Basis("op"))
			},
			known: true, holds: []string{a, c},
		},
		"what passes saw adds up, in any order": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a, b, c}, false)
				m.Remember("op", map[string]bool{Key(b): true}, m.Basis("op"))
				m.Remember("op", map[string]bool{Key(a): true}, m.Basis("op"))
			},
			known: true, holds: []string{a, b},
		},
		"an import with an unknown outcome forgets both facts": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a}, false)
				m.Remember("op", map[string]bool{Key(b): true}, m.Basis("op"))
				m.Spoil("op")
			},
		},
		"a pass planned before an unknown outcome does not make the record whole again": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a, b}, false)
				stale := m.Basis("op")
				m.Spoil("op")
				m.Remember("op", map[string]bool{Key(c): true}, stale)
			},
		},
		"a pass planned after an unknown outcome (from an export) is known again": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a, b}, false)
				m.Spoil("op")
				m.Remember("op", map[string]bool{Key(c): true}, m.Basis("op"))
			},
			known: true, holds: []string{c},
		},
		"an unknown outcome without a record still outdates the passes planned before it": {
			do: func(m *Memory) {
				stale := m.Basis("op")
				m.Spoil("op")
				m.Remember("op", map[string]bool{Key(c): true}, stale)
			},
		},
		"what a pass saw is known without forced moves": {
			do:    func(m *Memory) { m.Remember("op", map[string]bool{Key(b): true, Key(c): false}, m.Basis("op")) },
			known: true, holds: []string{b},
		},
		"a finished operation is forgotten": {
			do: func(m *Memory) {
				m.Remember("op", map[string]bool{Key(b): true}, m.Basis("op"))
				m.Forget("op")
			},
		},
		"operations are apart": {
			do: func(m *Memory) {
				m.BeginForcedMoves("other")
				m.Remember("op", map[string]bool{Key(a): true}, m.Basis("op"))
				m.Spoil("other")
			},
			known: true, holds: []string{a},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var m Memory
			tt.do(&m)
			holds, known := m.Holds("op")
			if known != tt.known {
				t.Fatalf("Holds() known = %v, want %v", known, tt.known)
			}
			if !known {
				return
			}
			want := map[string]bool{}
			for _, s := range tt.holds {
				want[Key(s)] = true
			}
			for _, s := range []string{a, b, c} {
				if got := holds(Key(s)); got != want[Key(s)] {
					t.Errorf("holds(%s) = %v, want %v", s, got, want[Key(s)])
				}
			}
		})
	}
}

func TestMemoryHandsOutCopies(t *testing.T) {
	var m Memory
	filled := map[string]bool{Key(sipOf(1)): true}
	m.Remember("op", filled, m.Basis("op"))
	holds, _ := m.Holds("op")
	filled[Key(sipOf(2))] = true
	m.Remember("op", map[string]bool{}, m.Basis("op"))
	if !holds(Key(sipOf(1))) || holds(Key(sipOf(2))) {
		t.Fatal("a function handed out changed with the memory or the caller's set")
	}
}

func TestMemoryUnrestored(t *testing.T) {
	a, b, c := sipOf(1), sipOf(2), sipOf(3)
	tests := map[string]struct {
		do    func(m *Memory)
		known bool
		want  []string
	}{
		"an operation never seen is not known": {do: func(*Memory) {}},
		"nobody restored yet: every moved user, in key order": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{c, a}, false)
			},
			known: true, want: []string{Key(a), Key(c)},
		},
		"users a pass filled are not named": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a, b, c}, false)
				m.Remember("op", map[string]bool{Key(b): true}, m.Basis("op"))
			},
			known: true, want: []string{Key(a), Key(c)},
		},
		"everybody restored: known and empty": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a}, false)
				m.Remember("op", map[string]bool{Key(a): true}, m.Basis("op"))
			},
			known: true, want: []string{},
		},
		"a forced batch with an unknown outcome: not known": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a}, true)
			},
		},
		"an import with an unknown outcome: not known": {
			do: func(m *Memory) {
				m.BeginForcedMoves("op")
				m.ForceMoved("op", []string{a}, false)
				m.Spoil("op")
			},
		},
		"moves not seen here (a restarted process): not known": {
			do: func(m *Memory) { m.Remember("op", map[string]bool{Key(b): true}, m.Basis("op")) },
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var m Memory
			tt.do(&m)
			got, known := m.Unrestored("op")
			if known != tt.known {
				t.Fatalf("Unrestored() known = %v, want %v", known, tt.known)
			}
			if known && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unrestored() = %v, want %v", got, tt.want)
			}
		})
	}
}
