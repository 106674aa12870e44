package contacts

import (
	"bytes"
	"fmt"
	"testing"
)

// renderCases are documents whose values exercise every escaping and transcoding path: markup
// characters, tabs and line ends, characters beyond ASCII and beyond the BMP, negative and large
// numbers, empty lists and members.
func renderCases() map[string]*Document {
	odd := Resource{
		UserAtHost: "ünïcode\U0001F600@corp.example.com",
		Groups:     []Group{{Number: -7, DisplayName: "a\tb\r\nc", ExternalURI: `<"x'&y">`}, {Number: 2147483647}},
		Contacts: []Contact{
			{Buddy: "日本@example.com", Groups: []int{}, DisplayName: "\u00a0\u07ff\u0800\uffff"},
			{Buddy: "x\x7fy", SubscribePresence: true, Groups: []int{1, 20, 300}},
		},
		Containers: []Container{{Number: 0, Members: []string{"sip:a&b@c", ""}}, {Number: ContainerBlocked, Members: []string{}}},
	}
	return map[string]*Document{
		"nil":     nil,
		"empty":   {},
		"sample":  sample(),
		"odd":     {Resources: []Resource{odd, {UserAtHost: ""}}},
		"bench":   benchDoc(20, 7),
		"compact": {Resources: []Resource{{UserAtHost: "a@b", Contacts: []Contact{{Buddy: "c@d"}}}}},
	}
}

// TestRenderersMatchReference checks that every renderer gives, byte for byte, what the first
// implementation gave.
func TestRenderersMatchReference(t *testing.T) {
	for name, doc := range renderCases() {
		t.Run(name, func(t *testing.T) { checkMatchesReference(t, doc) })
	}
}

func checkMatchesReference(t *testing.T, doc *Document) {
	t.Helper()
	got, err := MarshalHomedResources(doc)
	want, wantErr := refMarshalHomedResources(doc)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("MarshalHomedResources = %q, %v; reference %q, %v", got, err, want, wantErr)
	}
	got, err = MarshalDocItemSet(doc)
	want, wantErr = refMarshalDocItemSet(doc)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("MarshalDocItemSet = %q, %v; reference %q, %v", got, err, want, wantErr)
	}
	if doc == nil {
		return
	}
	for _, r := range doc.Resources {
		if got, want := MarshalResource(r), refMarshalResource(r); !bytes.Equal(got, want) {
			t.Fatalf("MarshalResource = %q; reference %q", got, want)
		}
	}
}

// FuzzRenderersMatchReference puts arbitrary strings and numbers in every field, invalid UTF-8
// and characters XML cannot carry included (refused alike, or rendered alike by MarshalResource).
func FuzzRenderersMatchReference(f *testing.F) {
	f.Add("user@corp.example.com", "Qm9i", "sip:x@y", 1, 200)
	f.Add("a\x00b", "\xff\xfe", "\xed\xa0\x80", -1, 0)
	f.Add("\U0010FFFF", "\ufffe", "&amp;", 2147483647, -2147483648)
	f.Add("tab\there", "line\nend\r", "'\"<>", 42, 32000)
	f.Fuzz(func(t *testing.T, user, name, member string, n1, n2 int) {
		r := Resource{
			UserAtHost: user,
			Groups:     []Group{{Number: n1, DisplayName: name, ExternalURI: member}},
			Contacts:   []Contact{{Buddy: member, SubscribePresence: n1%2 == 0, Groups: []int{n1, n2}, DisplayName: name}},
			Containers: []Container{{Number: n2, Members: []string{member, user}}},
		}
		checkMatchesReference(t, &Document{Resources: []Resource{r, {UserAtHost: name}}})
	})
}

// benchDoc is one move batch's export: users × perUser contacts, each user in two groups with
// two access-control containers, as dbimpexp writes it.
func benchDoc(users, perUser int) *Document {
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
	return doc
}

// BenchmarkMarshalHomedResources renders the export of one server of the 5,000-user site
// (2,500 users × 50 contacts), as the emulator's dbimpexp writes it.
func BenchmarkMarshalHomedResources(b *testing.B) {
	doc := benchDoc(2500, 50)
	b.ReportAllocs()
	for b.Loop() {
		data, err := MarshalHomedResources(doc)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

// BenchmarkMarshalResource renders one user's canonical bytes, as a backup does per user.
func BenchmarkMarshalResource(b *testing.B) {
	r := benchDoc(1, 50).Resources[0]
	b.ReportAllocs()
	for b.Loop() {
		_ = MarshalResource(r)
	}
}
