package placement

import (
	"sort"
)

// Mode selects how targets are computed from the destinations; the zero value means Balanced.
type Mode string

const (
	// Balanced gives every destination the same number of users, within one.
	Balanced Mode = "Balanced"
	// Weighted gives every destination a share proportional to its Weight.
	Weighted Mode = "Weighted"
)

const (
	// DefaultBatchSize is used when Policy.BatchSize is not positive.
	DefaultBatchSize = 100
	// MaxBatchSize bounds Policy.BatchSize: one admin command line must stay far below the
	// limits of the remote shell.
	MaxBatchSize = 1000
)

// ServerState is what the caller knows about one server at planning time.
type ServerState struct {
	Name string
	// Serving means the server may receive and keep users (healthy, not in maintenance).
	Serving bool
	// Reachable means the server answers, so moves off it are planned and contacts travel;
	// moves off an unreachable server are forced.
	Reachable bool
	// Evacuate means all its users must leave (maintenance drain, or a failover the caller decided).
	Evacuate bool
	// Weight is the server's share in Weighted mode; ignored in Balanced mode.
	Weight int
}

// Policy is the placement policy of one pool.
type Policy struct {
	Mode Mode
	// Pins maps a user's SIP URI to the name of the server it must live on.
	Pins map[string]string
	// MaxImbalancePercent is the tolerance: no rebalancing move happens while every destination
	// holds within this percentage of its target.
	MaxImbalancePercent int
	// BatchSize is the number of users per batch, 1..MaxBatchSize.
	BatchSize int
	// Rebalance allows moves that only spread the load; false restricts the plan to evacuations
	// and pins (failback Manual).
	Rebalance bool
}

// User is one user and the name of its current home server.
type User struct {
	SIP  string
	Home string
}

// Batch is one move command: Users go from server From to server To.
type Batch struct {
	From   string
	To     string
	Forced bool
	Users  []string
}

// Plan is the result of Compute.
type Plan struct {
	// Batches are ordered: forced before planned, then by From, then by To.
	Batches []Batch
	// Desired is the number of users on each destination after the plan.
	Desired map[string]int
	// Stranded lists, when no destination exists, the users that should leave their server.
	Stranded []string
	// Unknown lists the users whose home is not a known server; they are left alone.
	Unknown []string
	// Moves is the number of users in all batches.
	Moves int
}

// node is the planning state of one server.
type node struct {
	name      string
	dest      bool
	evacuate  bool
	reachable bool
	weight    int64

	// current counts the placeable users homed here before the plan.
	current int
	// fixed counts the users pinned here that will be here after the plan.
	fixed int
	// residents are the unpinned users homed here, in SIP order; only they may leave as surplus.
	residents []string
	load      int
	target    int
}

type move struct {
	from, to *node
	sip      string
}

// Compute plans the moves that bring users to their place. It is pure and deterministic; see the
// package documentation for its guarantees.
func Compute(users []User, servers []ServerState, p Policy) Plan {
	nodes, byName := buildNodes(servers, p.Mode)
	plan := Plan{Desired: map[string]int{}}

	var dests []*node
	for _, n := range nodes {
		if n.dest {
			dests = append(dests, n)
		}
	}

	moves, evacuees := placeUsers(users, byName, p.Pins, len(dests) > 0, &plan)
	if len(dests) == 0 {
		return plan
	}

	total := len(evacuees)
	for _, d := range dests {
		total += d.load
	}
	computeTargets(dests, total)

	// Evacuees fill the destinations' deficits in name order. The deficits add up to at least
	// the number of evacuees because the targets add up to every placeable user.
	fill := newFiller(dests)
	sort.SliceStable(evacuees, func(i, j int) bool { return evacuees[i].from.name < evacuees[j].from.name })
	for _, m := range evacuees {
		m.to = fill.next()
		moves = append(moves, m)
	}

	if p.Rebalance && !withinTolerance(dests, p.MaxImbalancePercent) {
		// Surplus leaves only from residents: a server that received evacuees is at most at its
		// target, so nobody moves twice.
		for _, d := range dests {
			for i := 0; i < d.load-d.target; i++ {
				moves = append(moves, move{from: d, to: fill.next(), sip: d.residents[i]})
			}
			if d.load > d.target {
				d.load = d.target
			}
		}
	}

	for _, d := range dests {
		plan.Desired[d.name] = d.load
	}
	plan.Batches = batches(moves, p.BatchSize)
	plan.Moves = len(moves)
	return plan
}

// placeUsers counts each user on its server as held, pinned, resident or evacuee, and returns
// the moves pins call for and the evacuees, whose destination is chosen once the targets are
// known. Users of unknown servers, and evacuees with nowhere to go, are reported in plan.
func placeUsers(users []User, byName map[string]*node, pins map[string]string, anyDest bool, plan *Plan) (moves, evacuees []move) {
	for _, u := range dedupeUsers(users) {
		home := byName[u.Home]
		if home == nil {
			plan.Unknown = append(plan.Unknown, u.SIP)
			continue
		}
		if !home.dest && !home.evacuate {
			continue // held: its server may come back before the failover delay ends
		}
		if !anyDest {
			if home.evacuate {
				plan.Stranded = append(plan.Stranded, u.SIP)
			}
			continue
		}
		pin := byName[pins[u.SIP]]
		if pin != nil && !pin.dest {
			pin = nil
		}
		if home.dest {
			home.current++
		}
		switch {
		case pin == home:
			home.fixed++
			home.load++
		case pin != nil:
			pin.fixed++
			pin.load++
			moves = append(moves, move{from: home, to: pin, sip: u.SIP})
		case home.dest:
			home.residents = append(home.residents, u.SIP)
			home.load++
		default:
			evacuees = append(evacuees, move{from: home, sip: u.SIP})
		}
	}
	return moves, evacuees
}

// buildNodes merges duplicate names conservatively (any Evacuate, all Serving and Reachable,
// smallest Weight) so that the input order never matters.
func buildNodes(servers []ServerState, mode Mode) ([]*node, map[string]*node) {
	byName := make(map[string]*node, len(servers))
	var nodes []*node
	for _, s := range servers {
		w := int64(1)
		if mode == Weighted {
			w = int64(max(s.Weight, 0))
		}
		n := byName[s.Name]
		if n == nil {
			n = &node{name: s.Name, dest: true, reachable: true, weight: w}
			byName[s.Name] = n
			nodes = append(nodes, n)
		}
		n.evacuate = n.evacuate || s.Evacuate
		n.reachable = n.reachable && s.Reachable
		n.dest = n.dest && s.Serving
		n.weight = min(n.weight, w)
	}
	for _, n := range nodes {
		// An unreachable server cannot take users, whatever the caller says about Serving.
		n.dest = n.dest && n.reachable && !n.evacuate
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].name < nodes[j].name })
	return nodes, byName
}

// dedupeUsers sorts by SIP and keeps, for a SIP listed twice, the entry with the smallest Home.
func dedupeUsers(users []User) []User {
	us := make([]User, len(users))
	copy(us, users)
	sort.Slice(us, func(i, j int) bool {
		if us[i].SIP != us[j].SIP {
			return us[i].SIP < us[j].SIP
		}
		return us[i].Home < us[j].Home
	})
	out := us[:0]
	for i, u := range us {
		if i > 0 && u.SIP == us[i-1].SIP {
			continue
		}
		out = append(out, u)
	}
	return out
}

// computeTargets sets every destination's target so that the targets add up to total, follow the
// weights, and never fall below the users pinned to a destination (water filling: a destination
// whose share is below its pins is fixed at its pins and the rest is shared again).
func computeTargets(dests []*node, total int) {
	active := append([]*node(nil), dests...)
	remaining := total
	for len(active) > 0 {
		shares := largestRemainder(active, remaining)
		var next []*node
		for i, n := range active {
			if shares[i] < n.fixed {
				n.target = n.fixed
				remaining -= n.fixed
			} else {
				next = append(next, n)
			}
		}
		if len(next) == len(active) {
			for i, n := range active {
				n.target = shares[i]
			}
			return
		}
		active = next
	}
}

func largestRemainder(ns []*node, total int) []int {
	var sum int64
	for _, n := range ns {
		sum += n.weight
	}
	equal := sum == 0 // all weights zero: the users must live somewhere, share them equally
	if equal {
		sum = int64(len(ns))
	}
	weight := func(n *node) int64 {
		if equal {
			return 1
		}
		return n.weight
	}
	shares := make([]int, len(ns))
	rems := make([]int64, len(ns))
	left := total
	for i, n := range ns {
		q := int64(total) * weight(n)
		shares[i] = int(q / sum)
		rems[i] = q % sum
		left -= shares[i]
	}
	order := make([]int, len(ns))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if rems[i] != rems[j] {
			return rems[i] > rems[j]
		}
		// Giving the extra user to the fuller server saves a move.
		if ns[i].current != ns[j].current {
			return ns[i].current > ns[j].current
		}
		return ns[i].name < ns[j].name
	})
	for k := 0; k < left; k++ {
		shares[order[k]]++
	}
	return shares
}

func withinTolerance(dests []*node, percent int) bool {
	percent = max(percent, 0)
	for _, d := range dests {
		diff := d.load - d.target
		if diff < 0 {
			diff = -diff
		}
		if int64(diff)*100 > int64(percent)*int64(d.target) {
			return false
		}
	}
	return true
}

// filler hands out destinations below their target, in name order, one user at a time.
type filler struct {
	dests []*node
	i     int
}

func newFiller(dests []*node) *filler { return &filler{dests: dests} }

func (f *filler) next() *node {
	for f.i < len(f.dests) && f.dests[f.i].load >= f.dests[f.i].target {
		f.i++
	}
	if f.i == len(f.dests) {
		// Unreachable by construction (deficits cover every user to place); failing loudly beats
		// a silent wrong plan.
		panic("placement: no destination below its target")
	}
	d := f.dests[f.i]
	d.load++
	return d
}

func batches(moves []move, size int) []Batch {
	if size <= 0 {
		size = DefaultBatchSize
	}
	size = min(size, MaxBatchSize)
	type key struct{ from, to *node }
	groups := map[key][]string{}
	var keys []key
	for _, m := range moves {
		k := key{m.from, m.to}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], m.sip)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if fa, fb := !a.from.reachable, !b.from.reachable; fa != fb {
			return fa
		}
		if a.from.name != b.from.name {
			return a.from.name < b.from.name
		}
		return a.to.name < b.to.name
	})
	var out []Batch
	for _, k := range keys {
		sips := groups[k]
		sort.Strings(sips)
		for len(sips) > 0 {
			n := min(size, len(sips))
			out = append(out, Batch{From: k.from.name, To: k.to.name, Forced: !k.from.reachable, Users: sips[:n:n]})
			sips = sips[n:]
		}
	}
	return out
}
