package contacts

import (
	"reflect"
	"testing"
)

// checkStable asserts that a parsed document marshals and parses back to the same values.
func checkStable(t *testing.T, doc *Document) {
	t.Helper()
	hr, err := MarshalHomedResources(doc)
	if err != nil {
		// Values XML cannot carry are refused on output; the parser never yields them.
		t.Fatalf("marshal of a parsed document failed: %v", err)
	}
	back, err := ParseHomedResources(hr)
	if err != nil {
		t.Fatalf("re-parse failed: %v", err)
	}
	if !reflect.DeepEqual(back, doc) {
		t.Fatalf("round trip changed the document:\n got %+v\nwant %+v", back, doc)
	}
	ds, err := MarshalDocItemSet(doc)
	if err != nil {
		t.Fatalf("DocItemSet marshal failed: %v", err)
	}
	if _, err := ParseDocItemSet(ds); err != nil {
		t.Fatalf("DocItemSet re-parse failed: %v", err)
	}
	for _, r := range doc.Resources {
		got, err := UnmarshalResource(MarshalResource(r))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("resource round trip: %+v, %v", got, err)
		}
	}
}

func FuzzParseHomedResources(f *testing.F) {
	f.Add([]byte(referenceExample))
	f.Add(utf16Bytes(referenceExample, false, true))
	f.Add(utf16Bytes(referenceExample, true, false))
	if b, err := MarshalHomedResources(sample()); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`<HomedResources><HomedResource UserAtHost="a&#xA;b"><Contacts><Contact Buddy=" x " Groups=" 1  2 "/></Contacts></HomedResource></HomedResources>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseHomedResources(data)
		if err != nil {
			return
		}
		checkStable(t, doc)
	})
}

func FuzzParseDocItemSet(f *testing.F) {
	if b, err := MarshalDocItemSet(sample()); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`<DocItemSet><DocItem Name="urn:lcd:a@b"><Data><HomedResource><Contacts><Contact Buddy="c" SubscribePresence="true"/></Contacts></HomedResource></Data></DocItem></DocItemSet>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseDocItemSet(data)
		if err != nil {
			return
		}
		checkStable(t, doc)
	})
}
