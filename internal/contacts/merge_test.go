package contacts

import (
	"reflect"
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
