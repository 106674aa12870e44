package restoreplan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
)

// fuzzInput decodes bytes into an Input over four servers: a header (sources, serving, sizes,
// marks), then three bytes per user (home then, home now, flags).
func fuzzInput(data []byte) (Input, map[string]Copy) {
	servers := []string{"s0", "s1", "s2", "s3"}
	byte0 := func(i int) int {
		if i < len(data) {
			return int(data[i])
		}
		return 0
	}
	in := Input{Snapshot: map[string]backup.UserEntry{}, BatchSize: byte0(2) % 9, BatchesPerTarget: byte0(3) % 5, MaxMarks: byte0(4) % 9}
	for i, s := range servers {
		if byte0(0)&(1<<i) != 0 {
			in.Sources = append(in.Sources, s)
		}
		if byte0(1)&(1<<i) != 0 {
			in.Serving = append(in.Serving, s)
		}
	}
	copies := map[string]Copy{}
	holding := map[string]bool{}
	const header = 6
	for u := 0; header+3*u+2 < len(data) && u < 512; u++ {
		then, now, flags := byte0(header+3*u), byte0(header+3*u+1), byte0(header+3*u+2)
		sip := fmt.Sprintf("sip:u%03d@x", u)
		if flags&1 != 0 {
			sip = strings.ToUpper(sip)
		}
		in.Directory = append(in.Directory, User{SIP: sip, Home: servers[now%len(servers)]})
		k := Key(sip)
		if then < 200 {
			in.Snapshot[k] = backup.UserEntry{Server: servers[then%len(servers)]}
		}
		holding[k] = flags&2 != 0
		switch (flags >> 2) % 4 {
		case 0:
			copies[k] = Copy{Unreadable: "corrupt"}
		case 1:
			copies[k] = Copy{}
		default:
			copies[k] = withContacts(1)
		}
	}
	in.Holds = func(k string) bool { return holding[k] }
	for m := range byte0(5) % 4 {
		if len(in.Directory) == 0 {
			break
		}
		a, b := in.Directory[(m*7)%len(in.Directory)], in.Directory[(m*13)%len(in.Directory)]
		in.Pending = append(in.Pending, Mark{Server: a.Home, First: a.SIP, Last: b.SIP})
	}
	return in, copies
}

// FuzzCompute checks, for any input, that Compute and Fill do not panic, are deterministic,
// account for every candidate once, keep their bounds and settle no more users than hold data.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 2, 4, 1, 0, 1, 8, 0, 1, 2, 0, 1, 12, 3, 1, 9})
	f.Add([]byte{3, 12, 1, 1, 1, 3, 0, 2, 8, 1, 3, 10, 0, 2, 14, 1, 3, 6, 250, 2, 8})
	f.Add([]byte{15, 15, 0, 0, 0, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Fuzz(func(t *testing.T, data []byte) {
		in, copies := fuzzInput(data)
		p := Compute(in)
		if q := Compute(in); !reflect.DeepEqual(p, q) {
			t.Fatal("Compute is not deterministic")
		}
		holding := 0
		for _, sips := range p.Candidates {
			for _, sip := range sips {
				if p.Holding[Key(sip)] {
					holding++
				}
			}
		}
		if p.Settled < 0 || p.Settled > holding {
			t.Fatalf("settled %d with %d candidates holding data", p.Settled, holding)
		}
		w, err := p.Fill(func(sip string) (Copy, error) { return copies[Key(sip)], nil })
		if err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, p, w)
		for _, b := range w.Batches {
			first, last := Key(b.SIPs[0]), Key(b.SIPs[len(b.SIPs)-1])
			for _, sip := range p.Candidates[b.Server] {
				if k := Key(sip); k >= first && k <= last && p.Holding[k] {
					t.Fatalf("%s holds data inside the range of a batch on %s", sip, b.Server)
				}
			}
		}
	})
}
