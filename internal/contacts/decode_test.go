package contacts

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseHomedResourcesFromAReaderByteByByte(t *testing.T) {
	exported, err := MarshalHomedResources(sample())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"UTF-16LE with BOM, as dbimpexp writes": exported,
		"UTF-16BE without BOM":                  utf16Bytes(referenceExample, true, false),
		"UTF-8":                                 []byte(referenceExample),
	} {
		t.Run(name, func(t *testing.T) {
			whole, err := ParseHomedResources(data)
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := ParseHomedResourcesFrom(iotest.OneByteReader(bytes.NewReader(data)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(streamed, whole) || len(whole.Resources) == 0 {
				t.Errorf("streamed %+v, whole %+v", streamed, whole)
			}
		})
	}
}

func TestDecoderSkipsUnknownElementsAndMatchesLocalNames(t *testing.T) {
	doc, err := ParseHomedResources([]byte(`<x:HomedResources xmlns:x="` + Namespace + `" xmlns:o="urn:other">` +
		`<x:Note>ignored<Contacts><Contact Buddy="no"/></Contacts></x:Note>` +
		`<x:HomedResource o:UserAtHost="a@b"><Extra/><x:Contacts><x:Contact Buddy="c@d" Groups="1 2"><Child/></x:Contact><Other/></x:Contacts>` +
		`<Containers><Container ContainerNumber="400"><UserMember Member="sip:e@f"/><Junk/></Container></Containers></x:HomedResource>` +
		`</x:HomedResources><!-- trailing comment -->`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Document{Resources: []Resource{{UserAtHost: "a@b",
		Contacts:   []Contact{{Buddy: "c@d", Groups: []int{1, 2}}},
		Containers: []Container{{Number: 400, Members: []string{"sip:e@f"}}}}}}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("got %+v, want %+v", doc, want)
	}
}

func TestDecoderRefusesMalformedDocuments(t *testing.T) {
	for name, text := range map[string]string{
		"empty":                  "",
		"unclosed root":          `<HomedResources><HomedResource UserAtHost="a@b">`,
		"mismatched end tag":     `<HomedResources><HomedResource></Contacts></HomedResources>`,
		"text after the root":    `<HomedResources/>x`,
		"second root":            `<HomedResources/><HomedResources/>`,
		"wrong root":             `<DocItemSet/>`,
		"wrong namespace":        `<HomedResources xmlns="urn:x"/>`,
		"bad group number":       `<HomedResources><HomedResource><ContactGroups><ContactGroup Number="x"/></ContactGroups></HomedResource></HomedResources>`,
		"bad presence flag":      `<HomedResources><HomedResource><Contacts><Contact Buddy="a" SubscribePresence="maybe"/></Contacts></HomedResource></HomedResources>`,
		"unsupported encoding":   `<?xml version="1.0" encoding="latin-9"?><HomedResources/>`,
		"invalid UTF-8 in value": "<HomedResources><HomedResource UserAtHost=\"\xff\"/></HomedResources>",
	} {
		t.Run(name, func(t *testing.T) {
			if doc, err := ParseHomedResourcesFrom(strings.NewReader(text)); err == nil {
				t.Errorf("accepted: %+v", doc)
			}
		})
	}
}
