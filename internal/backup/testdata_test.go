package backup

import (
	"fmt"
	"math/rand"
	"strings"
)

// contactExport returns a deterministic stand-in for a user's homed-resources XML, about 75
// bytes per contact, with as much variety as real contact lists have.
func contactExport(user, version, contacts int) []byte {
	r := rand.New(rand.NewSource(int64(user)*1_000_003 + int64(version)))
	var b strings.Builder
	fmt.Fprintf(&b, "<HomedResource UserAtHost=\"user%04d@corp.example.com\" Version=\"%d\">\n", user, version)
	for i := 0; i < contacts; i++ {
		fmt.Fprintf(&b, "<Contact Buddy=\"user%04d@corp.example.com\" Groups=\"%d\" Subscribed=\"%t\" Tag=\"%08x\"/>\n",
			r.Intn(10000), 1+r.Intn(6), r.Intn(2) == 0, r.Uint32())
	}
	b.WriteString("</HomedResource>\n")
	return []byte(b.String())
}
