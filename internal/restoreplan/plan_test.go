package restoreplan

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

func sipOf(i int) string { return fmt.Sprintf("sip:user%04d@corp.example.com", i) }

// table builds a snapshot user table: user i was homed on homes[i].
func table(homes map[int]string) map[string]backup.UserEntry {
	out := map[string]backup.UserEntry{}
	for i, h := range homes {
		out[Key(sipOf(i))] = backup.UserEntry{Server: h}
	}
	return out
}

func holdsSet(keys ...string) func(string) bool {
	set := map[string]bool{}
	for _, k := range keys {
		set[Key(k)] = true
	}
	return func(k string) bool { return set[k] }
}

func withContacts(n int) Copy {
	r := contacts.Resource{UserAtHost: "somebody@else"}
	for j := range n {
		r.Contacts = append(r.Contacts, contacts.Contact{Buddy: fmt.Sprintf("b%d@corp.example.com", j)})
	}
	return Copy{Resource: r}
}

func TestCompute(t *testing.T) {
	snap := table(map[int]string{1: "ocs2", 2: "ocs2", 3: "ocs1", 4: "ocs2", 5: "ocs2"})
	dir := []User{
		{SIP: sipOf(2), Home: "ocs1"},
		{SIP: "SIP:USER0001@Corp.Example.com", Home: "ocs1"},
		{SIP: sipOf(3), Home: "ocs1"},
		{SIP: sipOf(4), Home: "ocs3"},
		{SIP: sipOf(9), Home: "ocs1"},
		{SIP: sipOf(5), Home: "ocs2"},
	}
	tests := map[string]struct {
		in   Input
		want Plan
	}{
		"users of a source in the snapshot, now on a serving server, are the candidates, in key order": {
			in: Input{Snapshot: snap, Directory: dir, Sources: []string{"ocs2"}, Serving: []string{"ocs1"}},
			want: Plan{
				Targets:    []string{"ocs1"},
				Candidates: map[string][]string{"ocs1": {"SIP:USER0001@Corp.Example.com", sipOf(2)}},
				Holding:    map[string]bool{},
				// user0004 sits on ocs3 and user0005 on the dead source itself.
				Waiting:   []string{sipOf(4), sipOf(5)},
				BatchSize: DefaultBatchSize, BatchesPerTarget: DefaultBatchesPerTarget,
			},
		},
		"who holds data is known per key, whatever the case": {
			in: Input{Snapshot: snap, Directory: dir, Sources: []string{"ocs2"}, Serving: []string{"ocs1", "ocs3"},
				Holds: holdsSet("sip:user0001@corp.example.com", sipOf(4), sipOf(3))},
			want: Plan{
				Targets: []string{"ocs1", "ocs3"},
				Candidates: map[string][]string{
					"ocs1": {"SIP:USER0001@Corp.Example.com", sipOf(2)},
					"ocs3": {sipOf(4)},
				},
				Holding:   map[string]bool{Key(sipOf(1)): true, Key(sipOf(4)): true},
				Waiting:   []string{sipOf(5)},
				BatchSize: DefaultBatchSize, BatchesPerTarget: DefaultBatchesPerTarget,
			},
		},
		"pending marks count the users inside them that hold data now, once each": {
			in: Input{Snapshot: snap, Directory: dir, Sources: []string{"ocs2"}, Serving: []string{"ocs1"},
				Holds: holdsSet(sipOf(1), sipOf(2)),
				Pending: []Mark{
					{Server: "ocs1", First: sipOf(1), Last: sipOf(1)},
					{Server: "ocs1", First: sipOf(1), Last: sipOf(2)},
					{Server: "ocs3", First: sipOf(0), Last: sipOf(9)},
				},
				BatchSize: 7, BatchesPerTarget: 2, MaxMarks: 1},
			want: Plan{
				Targets:    []string{"ocs1"},
				Candidates: map[string][]string{"ocs1": {"SIP:USER0001@Corp.Example.com", sipOf(2)}},
				Holding:    map[string]bool{Key(sipOf(1)): true, Key(sipOf(2)): true},
				Waiting:    []string{sipOf(4), sipOf(5)},
				Settled:    2,
				BatchSize:  7, BatchesPerTarget: 1,
			},
		},
		"nothing to restore without sources": {
			in:   Input{Snapshot: snap, Directory: dir, Serving: []string{"ocs1"}},
			want: Plan{Candidates: map[string][]string{}, Holding: map[string]bool{}, BatchSize: DefaultBatchSize, BatchesPerTarget: DefaultBatchesPerTarget},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Compute(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Compute() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestBatchesPerTarget(t *testing.T) {
	tests := []struct{ targets, most, marks, want int }{
		{0, 16, 64, 16},
		{1, 16, 64, 16},
		{4, 16, 64, 16},
		{5, 16, 64, 12},
		{16, 16, 64, 4},
		{100, 16, 64, 1},
	}
	for _, tt := range tests {
		if got := batchesPerTarget(tt.targets, tt.most, tt.marks); got != tt.want {
			t.Errorf("batchesPerTarget(%d, %d, %d) = %d, want %d", tt.targets, tt.most, tt.marks, got, tt.want)
		}
	}
}

func TestFill(t *testing.T) {
	six := map[int]string{}
	dir := []User{}
	for i := range 6 {
		six[i] = "ocs2"
		dir = append(dir, User{SIP: sipOf(i), Home: "ocs1"})
	}
	base := Input{Snapshot: table(six), Directory: dir, Sources: []string{"ocs2"}, Serving: []string{"ocs1"}}
	readable := func(string) (Copy, error) { return withContacts(2), nil }
	tests := map[string]struct {
		in      func(Input) Input
		read    Reader
		keep    []int // FillOnly with these users kept; nil: Fill
		batches [][]string
		skipped []Skip
		pending int
	}{
		"every user without data is imported in one batch": {
			read:    readable,
			batches: [][]string{{sipOf(0), sipOf(1), sipOf(2), sipOf(3), sipOf(4), sipOf(5)}},
		},
		"users holding data are skipped and never imported": {
			in:   func(in Input) Input { in.Holds = holdsSet(sipOf(1), sipOf(4)); return in },
			read: readable,
			// A batch closes at a user holding data, so that no mark's range holds one.
			batches: [][]string{{sipOf(0)}, {sipOf(2), sipOf(3)}, {sipOf(5)}},
			skipped: []Skip{{SIP: sipOf(1), Reason: HoldsData}, {SIP: sipOf(4), Reason: HoldsData}},
		},
		"a user without a readable copy fails and does not hold back the others": {
			read: func(sip string) (Copy, error) {
				if sip == sipOf(2) {
					return Copy{Unreadable: "no snapshot holds a readable copy"}, nil
				}
				return withContacts(1), nil
			},
			batches: [][]string{{sipOf(0), sipOf(1), sipOf(3), sipOf(4), sipOf(5)}},
			skipped: []Skip{{SIP: sipOf(2), Reason: NoReadableCopy, Detail: "no snapshot holds a readable copy"}},
		},
		"an empty copy has nothing to restore": {
			read: func(sip string) (Copy, error) {
				if sip == sipOf(0) {
					return Copy{}, nil
				}
				return withContacts(1), nil
			},
			batches: [][]string{{sipOf(1), sipOf(2), sipOf(3), sipOf(4), sipOf(5)}},
			skipped: []Skip{{SIP: sipOf(0), Reason: NothingToRestore}},
		},
		"batches are bounded per target; the rest waits for the next pass": {
			in: func(in Input) Input {
				in.BatchSize, in.BatchesPerTarget = 2, 2
				in.Holds = holdsSet(sipOf(5))
				return in
			},
			read:    readable,
			batches: [][]string{{sipOf(0), sipOf(1)}, {sipOf(2), sipOf(3)}},
			skipped: []Skip{{SIP: sipOf(5), Reason: HoldsData}},
			pending: 1,
		},
		"a batch opened for users who all fail is not returned": {
			in: func(in Input) Input { in.BatchSize = 4; return in },
			read: func(sip string) (Copy, error) {
				if sip >= sipOf(4) {
					return Copy{Unreadable: "corrupt"}, nil
				}
				return withContacts(1), nil
			},
			batches: [][]string{{sipOf(0), sipOf(1), sipOf(2), sipOf(3)}},
			skipped: []Skip{{SIP: sipOf(4), Reason: NoReadableCopy, Detail: "corrupt"}, {SIP: sipOf(5), Reason: NoReadableCopy, Detail: "corrupt"}},
		},
		"only the kept users are imported, and a user not kept ends a batch": {
			read: readable, keep: []int{0, 1, 3, 4},
			// user 2 may be filled by another import: no mark here may cover it.
			batches: [][]string{{sipOf(0), sipOf(1)}, {sipOf(3), sipOf(4)}},
		},
		"a kept user holding data is skipped; users not kept are not reported": {
			in:   func(in Input) Input { in.Holds = holdsSet(sipOf(1), sipOf(5)); return in },
			read: readable, keep: []int{1, 2},
			batches: [][]string{{sipOf(2)}},
			skipped: []Skip{{SIP: sipOf(1), Reason: HoldsData}},
		},
		"pending counts the kept users only": {
			in:   func(in Input) Input { in.BatchSize, in.BatchesPerTarget = 1, 1; return in },
			read: readable, keep: []int{0, 2, 3},
			batches: [][]string{{sipOf(0)}},
			pending: 2,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in := base
			if tt.in != nil {
				in = tt.in(in)
			}
			var keep func(string) bool
			if tt.keep != nil {
				kept := map[string]bool{}
				for _, i := range tt.keep {
					kept[Key(sipOf(i))] = true
				}
				keep = func(k string) bool { return kept[k] }
			}
			w, err := Compute(in).FillOnly(tt.read, keep)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, b := range w.Batches {
				got = append(got, b.SIPs)
				for i, r := range b.Resources {
					if want := b.SIPs[i][len("sip:"):]; r.UserAtHost != want {
						t.Errorf("resource %d of %v addressed as %q, want %q", i, b.SIPs, r.UserAtHost, want)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.batches) || !reflect.DeepEqual(w.Skipped, tt.skipped) || w.Pending != tt.pending {
				t.Errorf("Fill() = %v, skipped %v, pending %d; want %v, skipped %v, pending %d", got, w.Skipped, w.Pending, tt.batches, tt.skipped, tt.pending)
			}
		})
	}
}

func TestFillStopsAtAReaderError(t *testing.T) {
	in := Input{Snapshot: table(map[int]string{0: "ocs2"}), Directory: []User{{SIP: sipOf(0), Home: "ocs1"}},
		Sources: []string{"ocs2"}, Serving: []string{"ocs1"}}
	boom := errors.New("store does not answer")
	if _, err := Compute(in).Fill(func(string) (Copy, error) { return Copy{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("Fill() error = %v, want %v", err, boom)
	}
}

func TestBatchMark(t *testing.T) {
	b := Batch{Server: "ocs1", SIPs: []string{sipOf(3), sipOf(4), sipOf(9)}}
	if got, want := b.Mark(), (Mark{Server: "ocs1", First: sipOf(3), Last: sipOf(9)}); got != want {
		t.Fatalf("Mark() = %+v, want %+v", got, want)
	}
}

func TestKey(t *testing.T) {
	for _, in := range []string{"sip:user@corp.example.com", "SIP:User@Corp.Example.COM", " user@corp.example.com "} {
		if got := Key(in); got != "sip:user@corp.example.com" {
			t.Errorf("Key(%q) = %q", in, got)
		}
	}
}
