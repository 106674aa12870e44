package placement

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

func mkUsers(home string, from, n int) []User {
	us := make([]User, n)
	for i := range us {
		us[i] = User{SIP: fmt.Sprintf("sip:user%06d@corp.example.com", from+i), Home: home}
	}
	return us
}

func up(name string) ServerState {
	return ServerState{Name: name, Serving: true, Reachable: true, Weight: 1}
}

type flow struct {
	From, To string
	Forced   bool
	Users    int
	Batches  int
}

func flows(p Plan) []flow {
	var out []flow
	for _, b := range p.Batches {
		if n := len(out); n > 0 && out[n-1].From == b.From && out[n-1].To == b.To && out[n-1].Forced == b.Forced {
			out[n-1].Users += len(b.Users)
			out[n-1].Batches++
			continue
		}
		out = append(out, flow{From: b.From, To: b.To, Forced: b.Forced, Users: len(b.Users), Batches: 1})
	}
	return out
}

func TestCompute(t *testing.T) {
	pinned := mkUsers("a", 0, 10)
	tests := []struct {
		name     string
		users    []User
		servers  []ServerState
		policy   Policy
		want     []flow
		desired  map[string]int
		stranded int
		unknown  int
	}{
		{
			name:    "900/100 balances with exactly 400 moves in 100-user batches",
			users:   append(mkUsers("a", 0, 900), mkUsers("b", 900, 100)...),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "a", To: "b", Users: 400, Batches: 4}},
			desired: map[string]int{"a": 500, "b": 500},
		},
		{
			name:    "within tolerance nothing moves",
			users:   append(mkUsers("a", 0, 520), mkUsers("b", 520, 480)...),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 100, Rebalance: true},
			desired: map[string]int{"a": 520, "b": 480},
		},
		{
			name:    "just outside tolerance moves the surplus only",
			users:   append(mkUsers("a", 0, 530), mkUsers("b", 530, 470)...),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "a", To: "b", Users: 30, Batches: 1}},
			desired: map[string]int{"a": 500, "b": 500},
		},
		{
			name:    "manual failback does not rebalance",
			users:   mkUsers("b", 0, 1000),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 100},
			desired: map[string]int{"a": 0, "b": 1000},
		},
		{
			name:    "automatic failback rebalances",
			users:   mkUsers("b", 0, 1000),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 1000, Rebalance: true},
			want:    []flow{{From: "b", To: "a", Users: 500, Batches: 1}},
			desired: map[string]int{"a": 500, "b": 500},
		},
		{
			name:  "drain moves every user, planned",
			users: append(mkUsers("a", 0, 500), mkUsers("b", 500, 500)...),
			servers: []ServerState{
				{Name: "a", Reachable: true, Evacuate: true}, up("b"),
			},
			policy:  Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 100},
			want:    []flow{{From: "a", To: "b", Users: 500, Batches: 5}},
			desired: map[string]int{"b": 1000},
		},
		{
			name:  "failover forces the moves off the unreachable server",
			users: append(mkUsers("a", 0, 250), mkUsers("b", 250, 250)...),
			servers: []ServerState{
				{Name: "a", Evacuate: true}, up("b"),
			},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "a", To: "b", Forced: true, Users: 250, Batches: 3}},
			desired: map[string]int{"b": 500},
		},
		{
			name:    "a server down within the failover delay keeps its users",
			users:   append(mkUsers("a", 0, 300), mkUsers("b", 300, 100)...),
			servers: []ServerState{{Name: "a"}, up("b"), up("c")},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "b", To: "c", Users: 50, Batches: 1}},
			desired: map[string]int{"b": 50, "c": 50},
		},
		{
			name:  "forced batches come before planned ones",
			users: append(append(mkUsers("a", 0, 100), mkUsers("b", 100, 100)...), mkUsers("c", 200, 100)...),
			servers: []ServerState{
				{Name: "a", Reachable: true, Evacuate: true}, {Name: "b", Evacuate: true}, up("c"),
			},
			policy: Policy{Mode: Balanced, BatchSize: 100},
			want: []flow{
				{From: "b", To: "c", Forced: true, Users: 100, Batches: 1},
				{From: "a", To: "c", Users: 100, Batches: 1},
			},
			desired: map[string]int{"c": 300},
		},
		{
			name:     "no serving server: nothing moves and evacuees are stranded",
			users:    append(mkUsers("a", 0, 10), mkUsers("b", 10, 10)...),
			servers:  []ServerState{{Name: "a", Evacuate: true}, {Name: "b"}},
			policy:   Policy{Mode: Balanced, BatchSize: 100, Rebalance: true},
			desired:  map[string]int{},
			stranded: 10,
		},
		{
			name:    "unknown homes are reported and left alone",
			users:   append(mkUsers("a", 0, 10), mkUsers("zz", 10, 3)...),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "a", To: "b", Users: 5, Batches: 1}},
			desired: map[string]int{"a": 5, "b": 5},
			unknown: 3,
		},
		{
			name:    "pinned users stay although their server is over target",
			users:   append(pinned, mkUsers("b", 10, 2)...),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Rebalance: true, Pins: pinsTo("a", pinned)},
			desired: map[string]int{"a": 10, "b": 2},
		},
		{
			name:    "a pinned user moves to its server even without rebalance",
			users:   mkUsers("b", 0, 10),
			servers: []ServerState{up("a"), up("b")},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Pins: map[string]string{"sip:user000003@corp.example.com": "a"}},
			want:    []flow{{From: "b", To: "a", Users: 1, Batches: 1}},
			desired: map[string]int{"a": 1, "b": 9},
		},
		{
			name:    "a pin to a server that does not serve is ignored",
			users:   mkUsers("a", 0, 10),
			servers: []ServerState{{Name: "a", Reachable: true, Evacuate: true}, up("b"), {Name: "c", Reachable: true}},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Pins: map[string]string{"sip:user000003@corp.example.com": "c"}},
			want:    []flow{{From: "a", To: "b", Users: 10, Batches: 1}},
			desired: map[string]int{"b": 10},
		},
		{
			name:  "weights 3:1",
			users: mkUsers("a", 0, 1000),
			servers: []ServerState{
				{Name: "a", Serving: true, Reachable: true, Weight: 1},
				{Name: "b", Serving: true, Reachable: true, Weight: 3},
			},
			policy:  Policy{Mode: Weighted, MaxImbalancePercent: 5, BatchSize: 1000, Rebalance: true},
			want:    []flow{{From: "a", To: "b", Users: 750, Batches: 1}},
			desired: map[string]int{"a": 250, "b": 750},
		},
		{
			name:  "weight 0 gives its users away",
			users: append(mkUsers("a", 0, 10), mkUsers("b", 10, 10)...),
			servers: []ServerState{
				{Name: "a", Serving: true, Reachable: true, Weight: 0},
				{Name: "b", Serving: true, Reachable: true, Weight: 1},
				{Name: "c", Serving: true, Reachable: true, Weight: 1},
			},
			policy:  Policy{Mode: Weighted, MaxImbalancePercent: 5, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "a", To: "c", Users: 10, Batches: 1}},
			desired: map[string]int{"a": 0, "b": 10, "c": 10},
		},
		{
			name:  "largest remainder breaks ties by the fuller server, then by name",
			users: append(mkUsers("c", 0, 7), mkUsers("b", 7, 3)...),
			servers: []ServerState{
				up("a"), up("b"), up("c"),
			},
			policy:  Policy{Mode: Balanced, BatchSize: 100, Rebalance: true},
			want:    []flow{{From: "c", To: "a", Users: 3, Batches: 1}},
			desired: map[string]int{"a": 3, "b": 3, "c": 4},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.users, tc.servers, tc.policy)
			if f := flows(got); !reflect.DeepEqual(f, tc.want) {
				t.Errorf("flows = %+v, want %+v", f, tc.want)
			}
			if !reflect.DeepEqual(got.Desired, tc.desired) {
				t.Errorf("Desired = %v, want %v", got.Desired, tc.desired)
			}
			if len(got.Stranded) != tc.stranded || len(got.Unknown) != tc.unknown {
				t.Errorf("Stranded = %d, Unknown = %d, want %d, %d", len(got.Stranded), len(got.Unknown), tc.stranded, tc.unknown)
			}
			checkInvariants(t, tc.users, tc.servers, tc.policy, got)
		})
	}
}

func pinsTo(server string, us []User) map[string]string {
	m := map[string]string{}
	for _, u := range us {
		m[u.SIP] = server
	}
	return m
}

// checkInvariants verifies the package guarantees on any plan, independently of how it was made.
func checkInvariants(t testing.TB, users []User, servers []ServerState, p Policy, plan Plan) {
	t.Helper()
	state := map[string]ServerState{}
	for _, s := range servers {
		if o, ok := state[s.Name]; ok {
			s.Serving = s.Serving && o.Serving
			s.Reachable = s.Reachable && o.Reachable
			s.Evacuate = s.Evacuate || o.Evacuate
		}
		state[s.Name] = s
	}
	isDest := func(name string) bool {
		s, ok := state[name]
		return ok && s.Serving && s.Reachable && !s.Evacuate
	}
	anyDest := false
	for n := range state {
		anyDest = anyDest || isDest(n)
	}
	home := map[string]string{}
	for _, u := range dedupeUsers(users) {
		home[u.SIP] = u.Home
	}
	final := map[string]string{}
	for k, v := range home {
		final[k] = v
	}
	size := p.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	size = min(size, MaxBatchSize)
	moved := map[string]bool{}
	moves, seenPlanned := 0, false
	for _, b := range plan.Batches {
		if len(b.Users) == 0 || len(b.Users) > size {
			t.Fatalf("batch %s→%s has %d users, batch size %d", b.From, b.To, len(b.Users), size)
		}
		if b.Forced == state[b.From].Reachable {
			t.Fatalf("batch %s→%s Forced=%v but source Reachable=%v", b.From, b.To, b.Forced, state[b.From].Reachable)
		}
		if !b.Forced {
			seenPlanned = true
		} else if seenPlanned {
			t.Fatalf("forced batch %s→%s after a planned one", b.From, b.To)
		}
		if !isDest(b.To) {
			t.Fatalf("batch to %s, which is not a destination", b.To)
		}
		for _, sip := range b.Users {
			if moved[sip] {
				t.Fatalf("%s moves twice", sip)
			}
			moved[sip] = true
			if home[sip] != b.From {
				t.Fatalf("%s moves from %s but lives on %s", sip, b.From, home[sip])
			}
			s := state[b.From]
			if !isDest(b.From) && !s.Evacuate {
				t.Fatalf("%s moves off held server %s", sip, b.From)
			}
			final[sip] = b.To
			moves++
		}
	}
	if moves != plan.Moves {
		t.Fatalf("Moves = %d, batches hold %d", plan.Moves, moves)
	}
	var unknown, stranded []string
	desired := map[string]int{}
	for sip, h := range home {
		s, known := state[h]
		switch {
		case !known:
			unknown = append(unknown, sip)
			if final[sip] != h {
				t.Fatalf("unknown-home user %s moved", sip)
			}
		case s.Evacuate && !anyDest:
			stranded = append(stranded, sip)
		case s.Evacuate || isDest(h):
			if anyDest && !isDest(final[sip]) {
				t.Fatalf("%s ends on %s, not a destination", sip, final[sip])
			}
			if pin := p.Pins[sip]; isDest(pin) && final[sip] != pin {
				t.Fatalf("%s pinned to %s ends on %s", sip, pin, final[sip])
			}
			if !p.Rebalance && moved[sip] && !s.Evacuate && !isDest(p.Pins[sip]) {
				t.Fatalf("%s moved without Rebalance, evacuation or pin", sip)
			}
			if anyDest {
				desired[final[sip]]++
			}
		default:
			if final[sip] != h {
				t.Fatalf("held user %s moved", sip)
			}
		}
	}
	sort.Strings(unknown)
	sort.Strings(stranded)
	if !equalStrings(unknown, plan.Unknown) || !equalStrings(stranded, plan.Stranded) {
		t.Fatalf("Unknown/Stranded = %v/%v, want %v/%v", plan.Unknown, plan.Stranded, unknown, stranded)
	}
	if !anyDest && len(plan.Batches) > 0 {
		t.Fatalf("no destination but %d batches", len(plan.Batches))
	}
	for n := range state {
		if isDest(n) {
			if _, ok := plan.Desired[n]; !ok {
				t.Fatalf("Desired misses destination %s", n)
			}
		}
	}
	for n, c := range plan.Desired {
		if desired[n] != c {
			t.Fatalf("Desired[%s] = %d, users ending there = %d", n, c, desired[n])
		}
	}
	// A destination never both gives surplus and receives users: that would be a wasted move.
	gives, gets := map[string]bool{}, map[string]bool{}
	for _, b := range plan.Batches {
		if isDest(b.From) {
			gives[b.From] = true
		}
		gets[b.To] = true
	}
	if len(p.Pins) == 0 {
		for n := range gives {
			if gets[n] {
				t.Fatalf("%s both gives and receives users", n)
			}
		}
	}
}

func equalStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

type randomCase struct {
	users   []User
	servers []ServerState
	policy  Policy
}

func randomInput(r *rand.Rand) randomCase {
	var c randomCase
	nServers := 1 + r.Intn(5)
	for i := 0; i < nServers; i++ {
		c.servers = append(c.servers, ServerState{
			Name:      string(rune('a' + i)),
			Serving:   r.Intn(4) != 0,
			Reachable: r.Intn(4) != 0,
			Evacuate:  r.Intn(5) == 0,
			Weight:    r.Intn(4),
		})
	}
	if r.Intn(8) == 0 { // a duplicate name
		s := c.servers[0]
		s.Serving = !s.Serving
		c.servers = append(c.servers, s)
	}
	nUsers := r.Intn(300)
	for i := 0; i < nUsers; i++ {
		c.users = append(c.users, User{
			SIP:  fmt.Sprintf("sip:u%d@x", r.Intn(400)), // duplicates on purpose
			Home: string(rune('a' + r.Intn(nServers+1))),
		})
	}
	c.policy = Policy{
		Mode:                []Mode{Balanced, Weighted}[r.Intn(2)],
		MaxImbalancePercent: r.Intn(30),
		BatchSize:           r.Intn(60) - 5,
		Rebalance:           r.Intn(2) == 0,
		Pins:                map[string]string{},
	}
	for i := 0; i < r.Intn(20); i++ {
		c.policy.Pins[fmt.Sprintf("sip:u%d@x", r.Intn(400))] = string(rune('a' + r.Intn(nServers+1)))
	}
	return c
}

func TestComputeProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		c := randomInput(r)
		plan := Compute(c.users, c.servers, c.policy)
		checkInvariants(t, c.users, c.servers, c.policy, plan)

		// Order independence.
		us := append([]User(nil), c.users...)
		ss := append([]ServerState(nil), c.servers...)
		r.Shuffle(len(us), func(i, j int) { us[i], us[j] = us[j], us[i] })
		r.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		if again := Compute(us, ss, c.policy); !reflect.DeepEqual(again, plan) {
			t.Fatalf("case %d: plan depends on input order:\n%+v\n%+v", i, plan, again)
		}

		// A second pass over the result asks for nothing more than the tolerance allows.
		if c.policy.MaxImbalancePercent == 0 {
			next := Compute(apply(c.users, plan), c.servers, c.policy)
			if next.Moves != 0 && len(plan.Stranded) == 0 {
				t.Fatalf("case %d: plan not stable, second pass moves %d: %+v", i, next.Moves, next.Batches)
			}
		}
	}
}

func apply(users []User, plan Plan) []User {
	to := map[string]string{}
	for _, b := range plan.Batches {
		for _, u := range b.Users {
			to[u] = b.To
		}
	}
	out := make([]User, len(users))
	for i, u := range users {
		if h, ok := to[u.SIP]; ok {
			u.Home = h
		}
		out[i] = u
	}
	return out
}

func TestBalancedRebalanceIsEven(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 500; i++ {
		c := randomInput(r)
		c.policy.Mode, c.policy.Pins, c.policy.Rebalance, c.policy.MaxImbalancePercent = Balanced, nil, true, 0
		plan := Compute(c.users, c.servers, c.policy)
		if len(plan.Desired) == 0 {
			continue
		}
		lo, hi := int(^uint(0)>>1), -1
		for _, n := range plan.Desired {
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 1 {
			t.Fatalf("case %d: Desired %v not balanced", i, plan.Desired)
		}
	}
}

func FuzzCompute(f *testing.F) {
	f.Add(int64(1), uint8(3), uint16(100))
	f.Add(int64(7), uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, seed int64, nServers uint8, nUsers uint16) {
		r := rand.New(rand.NewSource(seed))
		c := randomInput(r)
		// Let the fuzzer also steer the sizes, beyond what randomInput picks.
		for i := len(c.servers); i < int(nServers%17); i++ {
			c.servers = append(c.servers, ServerState{Name: fmt.Sprintf("s%02d", i), Serving: r.Intn(3) != 0, Reachable: r.Intn(3) != 0, Evacuate: r.Intn(4) == 0, Weight: r.Intn(5) - 1})
		}
		for i := 0; i < int(nUsers%2000); i++ {
			c.users = append(c.users, User{SIP: fmt.Sprintf("sip:f%d@x", i), Home: c.servers[r.Intn(len(c.servers))].Name})
		}
		checkInvariants(t, c.users, c.servers, c.policy, Compute(c.users, c.servers, c.policy))
	})
}

func BenchmarkCompute100k(b *testing.B) {
	for _, nServers := range []int{2, 16} {
		b.Run(fmt.Sprintf("servers=%d", nServers), func(b *testing.B) {
			var servers []ServerState
			for i := 0; i < nServers; i++ {
				servers = append(servers, up(fmt.Sprintf("ocs%02d", i)))
			}
			servers[0].Serving, servers[0].Evacuate = false, true
			users := make([]User, 100_000)
			for i := range users {
				users[i] = User{SIP: fmt.Sprintf("sip:user%06d@corp.example.com", i), Home: servers[i%nServers].Name}
			}
			p := Policy{Mode: Balanced, MaxImbalancePercent: 5, BatchSize: 100, Rebalance: true}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Compute(users, servers, p)
			}
		})
	}
}
