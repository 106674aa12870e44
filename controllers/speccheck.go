package controllers

import (
	"fmt"
	"sort"
	"strings"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// homingSpecProblems lists, with full field paths, what a UserHoming's spec gets wrong that its
// CRD's validation cannot see: a pin or weight naming a server the pool does not have (the pool is
// another object), and one user pinned twice in different case (SIP addresses compare without
// case; comparing every pair of up to 1000 pins exceeds the API server's validation cost budget).
// The planner ignores such entries; this makes that visible. It is pure.
func homingSpecProblems(spec ocsv1.UserHomingSpec, pool *ocsv1.OCSPool) []string {
	servers := map[string]bool{}
	names := make([]string, 0, len(pool.Spec.Servers))
	for _, s := range pool.Spec.Servers {
		servers[s.Name] = true
		names = append(names, s.Name)
	}
	notInPool := fmt.Sprintf("is not a server of OCSPool %s/%s (%s)", pool.Namespace, pool.Name, strings.Join(names, ", "))

	var problems []string
	firstPin := map[string]int{}
	for i, p := range spec.Pins {
		if !servers[p.Server] {
			problems = append(problems, fmt.Sprintf("spec.pins[%d].server %q %s", i, p.Server, notInPool))
		}
		key := strings.ToLower(p.User)
		if j, dup := firstPin[key]; dup {
			problems = append(problems, fmt.Sprintf("spec.pins[%d].user %q pins the user of spec.pins[%d] (%q) again: SIP addresses compare without regard to case",
				i, p.User, j, spec.Pins[j].User))
			continue
		}
		firstPin[key] = i
	}
	weighted := make([]string, 0, len(spec.Weights))
	for name := range spec.Weights {
		weighted = append(weighted, name)
	}
	sort.Strings(weighted)
	for _, name := range weighted {
		if !servers[name] {
			problems = append(problems, fmt.Sprintf("spec.weights[%s] %s", name, notInPool))
		}
	}
	return problems
}

// homingSpecMessage is the Stalled message for the problems of homingSpecProblems.
func homingSpecMessage(problems []string) string {
	return "UserHoming " + strings.Join(problems, "; ") + ". Fix the spec: until then these entries are not applied as written; everything else, failover included, runs."
}
