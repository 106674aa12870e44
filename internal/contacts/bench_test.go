package contacts

import (
	"testing"
)

// benchDocument is one move batch's export: users × contacts, each user in two groups with
// two access-control containers, as dbimpexp writes it (UTF-16LE).
func benchDocument(b *testing.B, users, perUser int) []byte {
	b.Helper()
	doc := benchDoc(users, perUser)
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
