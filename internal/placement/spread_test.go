package placement

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

func usersNamed(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sip:%s%04d@x", prefix, i)
	}
	return out
}

func cut(b Batch, size int) []Batch {
	var out []Batch
	for len(b.Users) > 0 {
		n := min(size, len(b.Users))
		c := b
		c.Users = b.Users[:n]
		out = append(out, c)
		b.Users = b.Users[n:]
	}
	return out
}

func sizes(bs []Batch) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = len(b.Users)
	}
	return out
}

func TestSpread(t *testing.T) {
	four := func(Batch) int { return 4 }
	drain := Batch{From: "ocs1", To: "ocs2", Users: usersNamed("d", 900)}
	cases := []struct {
		name  string
		wave  []Batch
		slots func(Batch) int
		want  []int
	}{
		{"nine batches of 100 on 4 slots become 12 of 75", cut(drain, 100), four,
			[]int{75, 75, 75, 75, 75, 75, 75, 75, 75, 75, 75, 75}},
		{"a wave filling whole rounds is left alone", cut(Batch{From: "a", To: "b", Users: usersNamed("w", 800)}, 100), four,
			[]int{100, 100, 100, 100, 100, 100, 100, 100}},
		{"uneven users: sizes within one", cut(Batch{From: "a", To: "b", Users: usersNamed("u", 250)}, 100), four,
			[]int{62, 63, 62, 63}},
		{"fewer users than slots: one user per batch", []Batch{{From: "a", To: "b", Users: usersNamed("f", 3)}}, four,
			[]int{1, 1, 1}},
		{"one slot: unchanged", cut(drain, 100), func(Batch) int { return 1 },
			[]int{100, 100, 100, 100, 100, 100, 100, 100, 100}},
		{"forced and planned pairs are cut apart, each by its own slots",
			append(cut(Batch{From: "dead", To: "b", Forced: true, Users: usersNamed("x", 300)}, 100), cut(Batch{From: "a", To: "b", Users: usersNamed("y", 100)}, 100)...),
			func(b Batch) int {
				if b.Forced {
					return 2
				}
				return 4
			},
			[]int{75, 75, 75, 75, 25, 25, 25, 25}},
		{"empty wave", nil, four, []int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Spread(c.wave, c.slots)
			if s := sizes(got); !reflect.DeepEqual(s, c.want) {
				t.Fatalf("sizes %v, want %v", s, c.want)
			}
		})
	}
}

// TestSpreadProperties: every user of the wave is in exactly one batch of its own pair, in the
// same order; no batch is empty or larger than the largest given; each pair's batch count is a
// multiple of its slots unless it has fewer users than that.
func TestSpreadProperties(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for i := range 2000 {
		var wave []Batch
		for p := range r.Intn(4) {
			b := Batch{From: fmt.Sprint("s", p), To: "t", Forced: r.Intn(2) == 0, Users: usersNamed(fmt.Sprint("p", p, "-"), r.Intn(300))}
			wave = append(wave, cut(b, 1+r.Intn(120))...)
		}
		slots := 1 + r.Intn(6)
		got := Spread(wave, func(Batch) int { return slots })
		checkSpread(t, i, wave, got, slots)
	}
}

func checkSpread(t *testing.T, i int, wave, got []Batch, slots int) {
	t.Helper()
	flat := func(bs []Batch) map[string][]string {
		m := map[string][]string{}
		for _, b := range bs {
			k := fmt.Sprint(b.From, ">", b.To, b.Forced)
			m[k] = append(m[k], b.Users...)
		}
		return m
	}
	if !reflect.DeepEqual(flat(wave), flat(got)) {
		t.Fatalf("case %d: users changed pair or order", i)
	}
	largest, counts, users := 0, map[string]int{}, map[string]int{}
	for _, b := range wave {
		largest = max(largest, len(b.Users))
	}
	for _, b := range got {
		if len(b.Users) == 0 || len(b.Users) > largest {
			t.Fatalf("case %d: batch of %d users (largest given %d)", i, len(b.Users), largest)
		}
		k := fmt.Sprint(b.From, ">", b.To, b.Forced)
		counts[k]++
		users[k] += len(b.Users)
	}
	for k, n := range counts {
		if n%slots != 0 && n != users[k] {
			t.Fatalf("case %d: pair %s cut into %d batches for %d slots (%d users)", i, k, n, slots, users[k])
		}
	}
}
