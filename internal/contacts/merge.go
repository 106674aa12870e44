package contacts

import (
	"fmt"
	"strings"
)

// Merge returns base with what in adds: groups by number, contacts by buddy, container members
// by container and member (addresses compared case-insensitively). What base has wins, so
// merging the same data twice changes nothing. It is what an import that merges does
// (dbimpexp /import: "existing contacts in address books won't be affected",
// UpdateLyncContacts.ps1; Update-CsUserData: "will merge … rather than replace it",
// lync2013_contact_restore_tool.ps1).
func Merge(base, in Resource) Resource {
	out := Resource{UserAtHost: in.UserAtHost}
	if out.UserAtHost == "" {
		out.UserAtHost = base.UserAtHost
	}
	out.Groups = append(out.Groups, base.Groups...)
	for _, g := range in.Groups {
		if !hasGroup(base, g.Number) {
			out.Groups = append(out.Groups, g)
		}
	}
	out.Contacts = append(out.Contacts, base.Contacts...)
	for _, c := range in.Contacts {
		if !hasBuddy(base, c.Buddy) {
			out.Contacts = append(out.Contacts, c)
		}
	}
	byNumber := map[int]int{}
	for _, ct := range base.Containers {
		byNumber[ct.Number] = len(out.Containers)
		out.Containers = append(out.Containers, Container{Number: ct.Number, Members: append([]string(nil), ct.Members...)})
	}
	for _, ct := range in.Containers {
		i, ok := byNumber[ct.Number]
		if !ok {
			byNumber[ct.Number] = len(out.Containers)
			out.Containers = append(out.Containers, Container{Number: ct.Number})
			i = len(out.Containers) - 1
		}
		for _, m := range ct.Members {
			if !hasMember(out.Containers[i], m) {
				out.Containers[i].Members = append(out.Containers[i].Members, m)
			}
		}
	}
	return out
}

// Missing lists what of want have lacks, in the terms Merge adds it: a group number, a buddy,
// a container member. An import that merged want into a user leaves nothing missing.
func Missing(have, want Resource) []string {
	var out []string
	for _, g := range want.Groups {
		if !hasGroup(have, g.Number) {
			out = append(out, fmt.Sprintf("group %d", g.Number))
		}
	}
	for _, c := range want.Contacts {
		if !hasBuddy(have, c.Buddy) {
			out = append(out, "contact "+c.Buddy)
		}
	}
	for _, ct := range want.Containers {
		var in *Container
		for i := range have.Containers {
			if have.Containers[i].Number == ct.Number {
				in = &have.Containers[i]
			}
		}
		for _, m := range ct.Members {
			if in == nil || !hasMember(*in, m) {
				out = append(out, fmt.Sprintf("container %d member %s", ct.Number, m))
			}
		}
	}
	return out
}

func hasGroup(r Resource, n int) bool {
	for _, g := range r.Groups {
		if g.Number == n {
			return true
		}
	}
	return false
}

func hasBuddy(r Resource, buddy string) bool {
	for _, c := range r.Contacts {
		if strings.EqualFold(c.Buddy, buddy) {
			return true
		}
	}
	return false
}

func hasMember(c Container, m string) bool {
	for _, x := range c.Members {
		if strings.EqualFold(x, m) {
			return true
		}
	}
	return false
}
