package restoreplan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
)

// world is a pool after a failover as its servers see it, and what the restore did to it.
type world struct {
	servers, sources, serving []string
	snapshot                  map[string]backup.UserEntry
	copies                    map[string]Copy // by key: what the snapshots hold
	dir                       []User
	data                      map[string]bool // by key: holds contact data on its home now
	imported                  map[string]int  // by key: imports that ran
}

// newWorld draws a pool: users of the sources were force-moved (empty lists), a few moved
// earlier with their contacts, some have no readable or an empty copy, some are new since the
// snapshot, and a target may not serve.
func newWorld(rng *rand.Rand) *world {
	w := &world{snapshot: map[string]backup.UserEntry{}, copies: map[string]Copy{}, data: map[string]bool{}, imported: map[string]int{}}
	for i := range 2 + rng.IntN(3) {
		w.servers = append(w.servers, fmt.Sprintf("s%d", i+1))
	}
	w.sources = w.servers[:1+rng.IntN(len(w.servers)-1)]
	rest := w.servers[len(w.sources):]
	w.serving = rest
	if len(rest) > 1 && rng.IntN(3) == 0 {
		w.serving = rest[:len(rest)-1]
	}
	for i := range rng.IntN(300) {
		sip := sipOf(i)
		if rng.IntN(4) == 0 {
			sip = strings.ToUpper(sip[:5]) + sip[5:]
		}
		w.addUser(rng, sip, rest)
	}
	rng.Shuffle(len(w.dir), func(i, j int) { w.dir[i], w.dir[j] = w.dir[j], w.dir[i] })
	return w
}

func (w *world) addUser(rng *rand.Rand, sip string, rest []string) {
	k := Key(sip)
	then := w.servers[rng.IntN(len(w.servers))]
	inSnapshot := rng.IntN(10) > 0
	if inSnapshot {
		w.snapshot[k] = backup.UserEntry{Server: then}
		switch rng.IntN(10) {
		case 0:
			w.copies[k] = Copy{Unreadable: "no snapshot holds a readable copy"}
		case 1:
			w.copies[k] = Copy{}
		default:
			w.copies[k] = withContacts(1 + rng.IntN(3))
		}
	}
	home, holds := then, rng.IntN(5) > 0
	if !inSnapshot || isIn(w.sources, then) {
		home = rest[rng.IntN(len(rest))]
		// A force-moved user arrives empty; one moved earlier by a planned move kept its list.
		holds = !inSnapshot || rng.IntN(10) == 0
	}
	w.dir = append(w.dir, User{SIP: sip, Home: home})
	w.data[k] = holds
}

func isIn(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (w *world) read(sip string) (Copy, error) { return w.copies[Key(sip)], nil }

// record is the part of the operation record a restore writes: it survives a crash only once
// written.
type record struct {
	restored int
	marks    []Mark
}

// restoreRun drives passes against a world as the UserHoming controller does, with crashes
// (the process dies after its imports, before its status write) and imports whose outcome is
// lost (the call failed but the import ran).
type restoreRun struct {
	t        *testing.T
	rng      *rand.Rand
	w        *world
	useMem   bool
	mem      *Memory
	basis    Basis
	status   record
	newerOK  bool
	passes   int
	newSince map[string]bool
}

func (r *restoreRun) holds() func(string) bool {
	if r.useMem {
		if h, ok := r.mem.Holds("op"); ok {
			return h
		}
	}
	// Ask the servers: an export of every target.
	data := map[string]bool{}
	for k, v := range r.w.data {
		data[k] = v
	}
	return func(k string) bool { return data[k] }
}

// pass runs one restore pass and reports whether the restore is done.
func (r *restoreRun) pass() bool {
	r.passes++
	r.basis = r.mem.Basis("op")
	in := Input{Snapshot: r.w.snapshot, Directory: r.w.dir, Sources: r.w.sources, Serving: r.w.serving,
		Holds: r.holds(), Pending: r.status.marks,
		BatchSize: 1 + r.rng.IntN(20), BatchesPerTarget: 1 + r.rng.IntN(3), MaxMarks: 1 + r.rng.IntN(8)}
	p := Compute(in)
	r.checkOrderFree(in, p)
	rec := record{restored: r.status.restored + p.Settled}
	wave, err := p.Fill(r.w.read)
	if err != nil {
		r.t.Fatal(err)
	}
	checkAccounting(r.t, p, wave)
	if wave.Done() {
		r.status = rec
		return true
	}
	for _, b := range wave.Batches {
		rec.marks = append(rec.marks, b.Mark())
	}
	r.status = rec // the checkpoint before the imports
	r.importWave(p, wave, &rec)
	return false
}

// importWave runs the imports, then loses the process, loses one outcome, or writes the status.
func (r *restoreRun) importWave(p Plan, wave Wave, rec *record) {
	for _, b := range wave.Batches {
		for _, sip := range b.SIPs {
			k := Key(sip)
			if r.w.data[k] {
				r.t.Fatalf("pass %d imports %s over the data it holds (imported %d times before)", r.passes, sip, r.w.imported[k])
			}
			r.w.data[k] = true
			r.w.imported[k]++
		}
	}
	switch r.rng.IntN(8) {
	case 0:
		// The process dies: the checkpoint stands, the memory is gone.
		r.mem = &Memory{}
		return
	case 1:
		// The first batch's call failed after the import ran: its mark stays to be settled.
		r.mem.Spoil("op")
		rec.marks = rec.marks[:1]
		for _, b := range wave.Batches[1:] {
			rec.restored += len(b.SIPs)
		}
	case 2:
		// The first batch's outcome was lost as in case 1, and the others, run beside it on the
		// same plan, report after that: what they knew is not the whole any more.
		r.mem.Spoil("op")
		rec.marks = rec.marks[:1]
		for _, b := range wave.Batches[1:] {
			rec.restored += len(b.SIPs)
		}
		r.mem.Remember("op", filledBy(p, wave.Batches[1:]), r.basis)
	default:
		for _, b := range wave.Batches {
			rec.restored += len(b.SIPs)
		}
		r.mem.Remember("op", filledBy(p, wave.Batches), r.basis)
		rec.marks = nil
	}
	r.status = *rec
}

// filledBy is who holds data once batches ran on plan p: those it saw holding, and theirs.
func filledBy(p Plan, batches []Batch) map[string]bool {
	filled := map[string]bool{}
	for k := range p.Holding {
		filled[k] = true
	}
	for _, b := range batches {
		for _, sip := range b.SIPs {
			filled[Key(sip)] = true
		}
	}
	return filled
}

// makeNewContacts lets a few users still empty make contacts of their own between passes. Only
// users with something to restore do: one with an empty or unreadable copy inside a pending
// mark would be counted as restored (see the package documentation).
func (r *restoreRun) makeNewContacts() {
	for _, u := range r.w.dir {
		k := Key(u.SIP)
		c := r.w.copies[k]
		if !r.w.data[k] && c.Unreadable == "" && !Empty(c.Resource) && r.rng.IntN(50) == 0 {
			r.w.data[k] = true
			r.newSince[k] = true
		}
	}
}

// checkOrderFree asserts that the plan does not depend on the order of the directory.
func (r *restoreRun) checkOrderFree(in Input, p Plan) {
	shuffled := append([]User(nil), in.Directory...)
	r.rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	in.Directory = shuffled
	if q := Compute(in); !reflect.DeepEqual(p, q) {
		r.t.Fatalf("the plan depends on the directory's order:\n%+v\n%+v", p, q)
	}
}

// checkAccounting asserts that every candidate is imported, skipped with a reason, or pending,
// exactly once, and that the batches keep their bounds.
func checkAccounting(t *testing.T, p Plan, w Wave) {
	t.Helper()
	seen := map[string]string{}
	note := func(sip, how string) {
		if prev, dup := seen[sip]; dup {
			t.Fatalf("%s is both %s and %s", sip, prev, how)
		}
		seen[sip] = how
	}
	perTarget := map[string]int{}
	for _, b := range w.Batches {
		perTarget[b.Server]++
		if len(b.SIPs) == 0 || len(b.SIPs) > p.BatchSize || len(b.SIPs) != len(b.Resources) {
			t.Fatalf("batch of %d users (%d resources), bound %d", len(b.SIPs), len(b.Resources), p.BatchSize)
		}
		for _, sip := range b.SIPs {
			if !isIn(p.Candidates[b.Server], sip) || p.Holding[Key(sip)] {
				t.Fatalf("%s imported into %s is not a candidate there without data", sip, b.Server)
			}
			note(sip, "imported")
		}
	}
	for s, n := range perTarget {
		if n > p.BatchesPerTarget {
			t.Fatalf("%d batches for %s, bound %d", n, s, p.BatchesPerTarget)
		}
	}
	for _, s := range w.Skipped {
		if s.Reason == "" {
			t.Fatalf("%s skipped without a reason", s.SIP)
		}
		note(s.SIP, "skipped "+string(s.Reason))
	}
	total := 0
	for _, sips := range p.Candidates {
		total += len(sips)
	}
	if len(seen)+w.Pending != total {
		t.Fatalf("%d candidates, %d imported or skipped and %d pending", total, len(seen), w.Pending)
	}
}

// checkEnd asserts the outcome of a finished restore: nobody imported twice or over data of
// its own, the count exact, and everybody restorable restored.
func (r *restoreRun) checkEnd() {
	imported := 0
	for k, n := range r.w.imported {
		if n > 1 {
			r.t.Fatalf("%s imported %d times", k, n)
		}
		if r.newSince[k] && n > 0 {
			r.t.Fatalf("%s imported although it made contacts since the move", k)
		}
		imported += n
	}
	if r.status.restored != imported {
		r.t.Fatalf("contactsRestored = %d, %d users imported", r.status.restored, imported)
	}
	for _, u := range r.w.dir {
		k := Key(u.SIP)
		e, ok := r.w.snapshot[k]
		c := r.w.copies[k]
		restorable := ok && isIn(r.w.sources, e.Server) && isIn(r.w.serving, u.Home) && c.Unreadable == "" && !Empty(c.Resource)
		if restorable && !r.w.data[k] {
			r.t.Fatalf("%s on %s was left without its contacts", u.SIP, u.Home)
		}
	}
}

func runRestore(t *testing.T, seed uint64, useMem, newer bool) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	r := &restoreRun{t: t, rng: rng, w: newWorld(rng), useMem: useMem, mem: &Memory{}, newerOK: newer, newSince: map[string]bool{}}
	if useMem {
		// This process ran every forced move of the failover.
		r.mem.BeginForcedMoves("op")
		for _, u := range r.w.dir {
			if e, ok := r.w.snapshot[Key(u.SIP)]; ok && isIn(r.w.sources, e.Server) && !r.w.data[Key(u.SIP)] {
				r.mem.ForceMoved("op", []string{u.SIP}, false)
			}
		}
	}
	for !r.pass() {
		if r.passes > 500 {
			t.Fatalf("no end after %d passes", r.passes)
		}
		if newer {
			r.makeNewContacts()
		}
	}
	r.checkEnd()
}

// TestRestoreNeverTwiceNeverOverNewerData runs restores of drawn pools to their end, asking the
// servers at every pass, while processes die and users make contacts of their own.
func TestRestoreNeverTwiceNeverOverNewerData(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runRestore(t, seed, false, true) })
	}
}

// TestRestoreWithMemoryNeverTwice runs restores that trust the Memory of the process that made
// the forced moves, while processes die and import outcomes are lost.
func TestRestoreWithMemoryNeverTwice(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runRestore(t, seed, true, false) })
	}
}
