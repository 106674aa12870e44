package contacts

import (
	"archive/zip"
	"bytes"
	"io"
	"reflect"
	"sort"
	"testing"
)

func TestMergeAndMissing(t *testing.T) {
	have := Resource{UserAtHost: "a@x",
		Groups:     []Group{{Number: 1, DisplayName: "fg=="}, {Number: 2, DisplayName: "bmV3"}},
		Contacts:   []Contact{{Buddy: "b@x", Groups: []int{1}}, {Buddy: "new@x", Groups: []int{2}}},
		Containers: []Container{{Number: ContainerColleagues, Members: []string{"sip:b@x"}}},
	}
	backup := Resource{UserAtHost: "a@x",
		Groups:     []Group{{Number: 1, DisplayName: "fg=="}, {Number: 2, DisplayName: "b2xk"}, {Number: 3, DisplayName: "Zg=="}},
		Contacts:   []Contact{{Buddy: "B@x", Groups: []int{1}}, {Buddy: "c@x", Groups: []int{3}}},
		Containers: []Container{{Number: ContainerColleagues, Members: []string{"sip:B@x", "sip:c@x"}}, {Number: ContainerBlocked, Members: []string{"sip:d@x"}}},
	}
	want := Resource{UserAtHost: "a@x",
		Groups:     []Group{{Number: 1, DisplayName: "fg=="}, {Number: 2, DisplayName: "bmV3"}, {Number: 3, DisplayName: "Zg=="}},
		Contacts:   []Contact{{Buddy: "b@x", Groups: []int{1}}, {Buddy: "new@x", Groups: []int{2}}, {Buddy: "c@x", Groups: []int{3}}},
		Containers: []Container{{Number: ContainerColleagues, Members: []string{"sip:b@x", "sip:c@x"}}, {Number: ContainerBlocked, Members: []string{"sip:d@x"}}},
	}
	tests := map[string]struct {
		got, want any
	}{
		"merge keeps what exists and adds the rest, once":  {Merge(have, backup), want},
		"merging twice changes nothing":                    {Merge(Merge(have, backup), backup), want},
		"merging into nothing gives the import":            {Merge(Resource{}, have), have},
		"nothing is missing after a merge":                 {Missing(Merge(have, backup), backup), []string(nil)},
		"what a merge would add is missing before it runs": {Missing(have, backup), []string{"group 3", "contact c@x", "container 200 member sip:c@x", "container 32000 member sip:d@x"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", tc.got, tc.want)
			}
		})
	}
}

func TestWriteUserDataZipFromKeepsTheTemplateParts(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"[Content_Types].xml": "<Types/>", "DocItemSet.xml": "<DocItemSet/>", "Other.xml": "<Other a=\"1\"/>"} {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(body))
	}
	_ = zw.Close()
	doc := &Document{Resources: []Resource{{UserAtHost: "a@x", Contacts: []Contact{{Buddy: "b@x"}}}}}
	out, err := WriteUserDataZipFrom(buf.Bytes(), doc)
	if err != nil {
		t.Fatal(err)
	}
	parts, _ := UserDataZipParts(out)
	sort.Strings(parts)
	if !reflect.DeepEqual(parts, []string{"DocItemSet.xml", "Other.xml", "[Content_Types].xml"}) {
		t.Fatalf("parts %v", parts)
	}
	got, err := ReadUserDataZip(out)
	if err != nil || !reflect.DeepEqual(got.Resources[0].Contacts, doc.Resources[0].Contacts) {
		t.Fatalf("DocItemSet: %+v, %v", got, err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	for _, f := range zr.File {
		if f.Name == "Other.xml" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			if string(b) != `<Other a="1"/>` {
				t.Fatalf("Other.xml = %q", b)
			}
		}
	}
	if _, err := WriteUserDataZipFrom([]byte("not a zip"), doc); err == nil {
		t.Fatal("a template that is not a ZIP was accepted")
	}
}
