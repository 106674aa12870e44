package contacts

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
)

func sample() *Document {
	return &Document{Resources: []Resource{
		{
			UserAtHost: "user0001@corp.example.com",
			Groups: []Group{
				{Number: 1, DisplayName: "fg==", ExternalURI: ""},
				{Number: 2, DisplayName: "T3BlcmF0aW9ucw==", ExternalURI: "aHR0cDovL3g="},
			},
			Contacts: []Contact{
				{Buddy: "user0002@corp.example.com", SubscribePresence: true, Groups: []int{1, 2}},
				{Buddy: "user0417@corp.example.com", SubscribePresence: false, Groups: []int{2}, DisplayName: "Qm9i"},
			},
			Containers: []Container{
				{Number: ContainerColleagues, Members: []string{"sip:user0002@corp.example.com"}},
				{Number: ContainerBlocked},
			},
		},
		{UserAtHost: "o'neil&co@corp.example.com"},
	}}
}

const referenceExample = `<?xml version="1.0" encoding="utf-16"?>
<HomedResources xmlns="http://schemas.microsoft.com/RtcServer/2002/11/dbimpexp">
  <HomedResource UserAtHost="user0001@corp.example.com">
    <ContactGroups>
      <ContactGroup Number="1" DisplayName="fg==" ExternalUri="" />
      <ContactGroup Number="2" DisplayName="T3BlcmF0aW9ucw==" ExternalUri="" />
    </ContactGroups>
    <Contacts>
      <Contact Buddy="user0002@corp.example.com" SubscribePresence="1" Groups="1 2" />
      <Contact Buddy="user0417@corp.example.com" SubscribePresence="1" Groups="2">
      </Contact>
    </Contacts>
    <Containers>
      <Container ContainerNumber="200"><UserMember Member="sip:user0002@corp.example.com" /></Container>
    </Containers>
  </HomedResource>
</HomedResources>
`

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	u := utf16.Encode([]rune(s))
	var out []byte
	if bom {
		u = append([]uint16{0xFEFF}, u...)
	}
	for _, c := range u {
		if bigEndian {
			out = append(out, byte(c>>8), byte(c))
		} else {
			out = append(out, byte(c), byte(c>>8))
		}
	}
	return out
}

func TestParseHomedResourcesEncodings(t *testing.T) {
	want := &Document{Resources: []Resource{{
		UserAtHost: "user0001@corp.example.com",
		Groups:     []Group{{Number: 1, DisplayName: "fg=="}, {Number: 2, DisplayName: "T3BlcmF0aW9ucw=="}},
		Contacts: []Contact{
			{Buddy: "user0002@corp.example.com", SubscribePresence: true, Groups: []int{1, 2}},
			{Buddy: "user0417@corp.example.com", SubscribePresence: true, Groups: []int{2}},
		},
		Containers: []Container{{Number: 200, Members: []string{"sip:user0002@corp.example.com"}}},
	}}}
	utf8Decl := strings.Replace(referenceExample, "utf-16", "utf-8", 1)
	tests := map[string][]byte{
		"UTF-16LE with BOM":                          utf16Bytes(referenceExample, false, true),
		"UTF-16BE with BOM":                          utf16Bytes(referenceExample, true, true),
		"UTF-16LE without BOM":                       utf16Bytes(referenceExample, false, false),
		"UTF-16BE without BOM":                       utf16Bytes(referenceExample, true, false),
		"UTF-8 with BOM":                             append([]byte{0xEF, 0xBB, 0xBF}, utf8Decl...),
		"UTF-8 declared utf-8":                       []byte(utf8Decl),
		"UTF-8 declared utf-16 (already transcoded)": []byte(referenceExample),
		"CRLF line ends":                             []byte(strings.ReplaceAll(utf8Decl, "\n", "\r\n")),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseHomedResources(data)
			if err != nil {
				t.Fatalf("ParseHomedResources: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseHomedResourcesErrors(t *testing.T) {
	tests := map[string]string{
		"not XML":                    "hello",
		"wrong root":                 `<Other xmlns="http://schemas.microsoft.com/RtcServer/2002/11/dbimpexp"/>`,
		"wrong namespace":            `<HomedResources xmlns="urn:other"/>`,
		"bad group number":           `<HomedResources><HomedResource UserAtHost="a@b"><ContactGroups><ContactGroup Number="x"/></ContactGroups></HomedResource></HomedResources>`,
		"bad contact group list":     `<HomedResources><HomedResource UserAtHost="a@b"><Contacts><Contact Buddy="c@d" Groups="1 z"/></Contacts></HomedResource></HomedResources>`,
		"bad SubscribePresence":      `<HomedResources><HomedResource UserAtHost="a@b"><Contacts><Contact Buddy="c@d" SubscribePresence="maybe"/></Contacts></HomedResource></HomedResources>`,
		"bad container number":       `<HomedResources><HomedResource UserAtHost="a@b"><Containers><Container ContainerNumber=""/></Containers></HomedResource></HomedResources>`,
		"trailing element":           `<HomedResources/><x/>`,
		"unsupported encoding":       `<?xml version="1.0" encoding="iso-8859-1"?><HomedResources/>`,
		"odd UTF-16 length":          "\xff\xfe<\x00a",
		"invalid UTF-8":              "<HomedResources UserAtHost=\"\xff\"/>",
		"number larger than 32 bits": `<HomedResources><HomedResource><ContactGroups><ContactGroup Number="99999999999"/></ContactGroups></HomedResource></HomedResources>`,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if doc, err := ParseHomedResources([]byte(data)); err == nil {
				t.Fatalf("want an error, got %+v", doc)
			}
		})
	}
}

func TestMarshalHomedResourcesFormat(t *testing.T) {
	out, err := MarshalHomedResources(sample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte{0xFF, 0xFE, '<', 0}) {
		t.Fatalf("want a UTF-16LE BOM then '<', got % x", out[:4])
	}
	text, err := toUTF8(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, `<?xml version="1.0" encoding="utf-16"?>`+"\r\n") {
		t.Fatalf("declaration: %q", text[:60])
	}
	if strings.Contains(strings.ReplaceAll(text, "\r\n", ""), "\n") {
		t.Fatal("found a bare LF; want CRLF line ends")
	}
	for _, want := range []string{
		`<HomedResources xmlns="http://schemas.microsoft.com/RtcServer/2002/11/dbimpexp">`,
		`<HomedResource UserAtHost="user0001@corp.example.com">`,
		`<ContactGroup Number="2" DisplayName="T3BlcmF0aW9ucw==" ExternalUri="aHR0cDovL3g=" />`,
		`<Contact Buddy="user0002@corp.example.com" SubscribePresence="1" Groups="1 2" />`,
		`<Contact Buddy="user0417@corp.example.com" SubscribePresence="0" Groups="2" DisplayName="Qm9i" />`,
		`<Container ContainerNumber="200"><UserMember Member="sip:user0002@corp.example.com" /></Container>`,
		`<Container ContainerNumber="32000" />`,
		`UserAtHost="o&#39;neil&amp;co@corp.example.com"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %s\n%s", want, text)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	special := Resource{
		UserAtHost: "a\"b<c>&d'e\tf\r\ng@h",
		Groups:     []Group{{Number: -1, DisplayName: " spaced ", ExternalURI: "\n"}},
		Contacts:   []Contact{{Buddy: "ü@ß.example", Groups: []int{0}}},
		Containers: []Container{{Number: 0, Members: []string{"", "sip:x@y"}}},
	}
	docs := map[string]*Document{
		"sample":             sample(),
		"empty":              {},
		"special characters": {Resources: []Resource{special}},
		"large":              generated(300, 20),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			hr, err := MarshalHomedResources(doc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseHomedResources(hr)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, doc) {
				t.Errorf("homed resources: got %+v\nwant %+v", got, doc)
			}
			ds, err := MarshalDocItemSet(doc)
			if err != nil {
				t.Fatal(err)
			}
			got, err = ParseDocItemSet(ds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, doc) {
				t.Errorf("DocItemSet: got %+v\nwant %+v", got, doc)
			}
			z, err := WriteUserDataZip(doc)
			if err != nil {
				t.Fatal(err)
			}
			got, err = ReadUserDataZip(z)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, doc) {
				t.Errorf("ZIP: got %+v\nwant %+v", got, doc)
			}
			for _, r := range doc.Resources {
				b := MarshalResource(r)
				if !bytes.Equal(b, MarshalResource(r)) {
					t.Fatal("MarshalResource is not deterministic")
				}
				back, err := UnmarshalResource(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, r) {
					t.Errorf("resource: got %+v\nwant %+v", back, r)
				}
			}
		})
	}
}

func TestNilAndEmptySlicesNormalised(t *testing.T) {
	doc := &Document{Resources: []Resource{{UserAtHost: "a@b", Groups: []Group{}, Contacts: []Contact{{Buddy: "c@d", Groups: []int{}}}, Containers: []Container{{Number: 100, Members: []string{}}}}}}
	want := &Document{Resources: []Resource{{UserAtHost: "a@b", Contacts: []Contact{{Buddy: "c@d"}}, Containers: []Container{{Number: 100}}}}}
	hr, err := MarshalHomedResources(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseHomedResources(hr)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestMarshalRefusesUnencodableText(t *testing.T) {
	doc := &Document{Resources: []Resource{{UserAtHost: "a\x01@b"}}}
	if _, err := MarshalHomedResources(doc); err == nil {
		t.Fatal("want an error for a control character")
	}
	if _, err := MarshalDocItemSet(doc); err == nil {
		t.Fatal("want an error for a control character")
	}
}

func TestParseDocItemSet(t *testing.T) {
	data := `<?xml version="1.0" encoding="utf-8"?>
<DocItemSet xmlns="urn:whatever" Version="1.0">
  <DocItem Name="urn:hcd:user0001@corp.example.com"><Data><HostedContent/></Data></DocItem>
  <DocItem Name="URN:LCD:user0001@corp.example.com">
    <Data>
      <HomedResource xmlns="urn:other">
        <ContactGroups><ContactGroup Number="1" DisplayName="fg==" ExternalUri="" /></ContactGroups>
        <Contacts><Contact Buddy="sip:user0002@corp.example.com" DisplayName="QQ==" Groups="1" /></Contacts>
        <Containers><Container ContainerNumber="400"><UserMember Member="sip:user0002@corp.example.com" /></Container></Containers>
      </HomedResource>
    </Data>
  </DocItem>
  <DocItem Name="urn:lcd:empty@corp.example.com"><Data /></DocItem>
</DocItemSet>`
	want := &Document{Resources: []Resource{
		{
			UserAtHost: "user0001@corp.example.com",
			Groups:     []Group{{Number: 1, DisplayName: "fg=="}},
			Contacts:   []Contact{{Buddy: "sip:user0002@corp.example.com", DisplayName: "QQ==", Groups: []int{1}}},
			Containers: []Container{{Number: 400, Members: []string{"sip:user0002@corp.example.com"}}},
		},
		{UserAtHost: "empty@corp.example.com"},
	}}
	got, err := ParseDocItemSet([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := ParseDocItemSet([]byte(`<HomedResources/>`)); err == nil {
		t.Fatal("want an error for a wrong root")
	}
}

func TestReadUserDataZipErrors(t *testing.T) {
	if _, err := ReadUserDataZip([]byte("not a zip")); err == nil {
		t.Fatal("want an error for a non-ZIP")
	}
	empty, err := WriteUserDataZip(nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ReadUserDataZip(empty)
	if err != nil || len(doc.Resources) != 0 {
		t.Fatalf("empty ZIP: %+v, %v", doc, err)
	}
}

func TestCount(t *testing.T) {
	if n := sample().Resources[0].Count(); n != 2 {
		t.Fatalf("Count() = %d, want 2", n)
	}
}

func generated(users, contacts int) *Document {
	doc := &Document{}
	for u := 1; u <= users; u++ {
		r := Resource{UserAtHost: fmt.Sprintf("user%04d@corp.example.com", u), Groups: []Group{{Number: 1, DisplayName: "fg=="}}}
		for c := 0; c < contacts; c++ {
			r.Contacts = append(r.Contacts, Contact{Buddy: fmt.Sprintf("user%04d@corp.example.com", (u+c)%users+1), SubscribePresence: c%2 == 0, Groups: []int{1}})
		}
		r.Containers = []Container{{Number: ContainerColleagues, Members: []string{"sip:" + r.Contacts[0].Buddy}}}
		doc.Resources = append(doc.Resources, r)
	}
	return doc
}
