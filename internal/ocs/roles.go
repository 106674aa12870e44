package ocs

import "strings"

// Roles of the site's servers that are not front ends.
const (
	RoleMediation = "Mediation"
	RoleEdge      = "Edge"
)

// RoleService is one service a role server must run. Names are the short names it is known
// by; the service runs when any of them is RUNNING (the others are then NOT_FOUND). More than
// one name is given only where the documentation does not settle it (inferred.go).
type RoleService struct {
	// Display is the service's display name, for messages.
	Display string
	Names   []string
}

// roleServices is the one table of the services each role runs, per product. Sources: see
// "Role services" in inferred.go.
var roleServices = map[Product]map[string][]RoleService{
	ProductOCS2007R2: {
		RoleMediation: {
			{Display: "Mediation Server", Names: []string{"RTCMEDSRV", "RtcMediationSrv"}},
		},
		RoleEdge: {
			{Display: "Access Edge", Names: []string{"RTCSRV"}},
			{Display: "Audio/Video Authentication", Names: []string{"RTCMRAUTH"}},
			{Display: "Audio/Video Edge", Names: []string{"RTCMEDIARELAY"}},
			{Display: "Web Conferencing Edge", Names: []string{"RTCDATAPROXY"}},
		},
	},
	ProductSkypeForBusiness: {
		RoleMediation: {
			{Display: "Mediation", Names: []string{"RTCMEDSRV"}},
		},
		RoleEdge: {
			{Display: "Access Edge", Names: []string{"RTCSRV"}},
			{Display: "Audio/Video Authentication", Names: []string{"RTCMRAUTH"}},
			{Display: "Audio/Video Edge", Names: []string{"RTCMEDIARELAY"}},
			{Display: "Web Conferencing Edge", Names: []string{"RTCDATAPROXY"}},
		},
	},
}

// RoleServices returns the services a server of role runs under product (nil for an unknown
// pair). The slice is a copy.
func RoleServices(product Product, role string) []RoleService {
	var out []RoleService
	for _, s := range roleServices[product][role] {
		out = append(out, RoleService{Display: s.Display, Names: append([]string(nil), s.Names...)})
	}
	return out
}

// ServiceNames flattens services into the names ServiceHealth is asked about, each once.
func ServiceNames(services []RoleService) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range services {
		for _, n := range s.Names {
			if !seen[strings.ToLower(n)] {
				seen[strings.ToLower(n)] = true
				out = append(out, n)
			}
		}
	}
	return out
}
