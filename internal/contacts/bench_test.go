package contacts

import (
	"fmt"
	"testing"
)

// benchDocument is one move batch's export: users × contacts, each user in two groups with
// two access-control containers, as dbimpexp writes it (UTF-16LE).
func benchDocument(b *testing.B, users, perUser int) []byte {
	b.Helper()
	doc := &Document{}
	for u := range users {
		r := Resource{
			UserAtHost: fmt.Sprintf("user%04d@corp.example.com", u+1),
			Groups:     []Group{{Number: 1, DisplayName: "fg=="}, {Number: 2, DisplayName: "T3BlcmF0aW9ucw=="}},
			Containers: []Container{
				{Number: ContainerColleagues, Members: []string{fmt.Sprintf("sip:user%04d@corp.example.com", u+2)}},
				{Number: ContainerBlocked},
			},
		}
		for c := range perUser {
			r.Contacts = append(r.Contacts, Contact{
				Buddy:             fmt.Sprintf("user%04d@corp.example.com", (u+c+2)%5000+1),
				SubscribePresence: c%2 == 0,
				Groups:            []int{1 + c%2},
				DisplayName:       "Qm9i",
			})
		}
		doc.Resources = append(doc.Resources, r)
	}
	data, err := MarshalHomedResources(doc)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkParseHomedResources parses one export batch (100 users × 50 contacts, the default
// move batch of a failover restore) per operation.
func BenchmarkParseHomedResources(b *testing.B) {
	data := benchDocument(b, 100, 50)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHomedResources(data); err != nil {
			b.Fatal(err)
		}
	}
}
