package host

import (
	"reflect"
	"testing"
)

func TestParseWQL(t *testing.T) {
	tests := []struct {
		q    string
		want *wqlQuery
	}{
		{"SELECT * FROM MSFT_SIPPoolSetting", &wqlQuery{Class: "MSFT_SIPPoolSetting"}},
		{"select PrimaryURI,HomeServerDN , Enabled from MSFT_SIPESUserSetting where HomeServerDN='CN=x,DC=y'",
			&wqlQuery{Props: []string{"PrimaryURI", "HomeServerDN", "Enabled"}, Class: "MSFT_SIPESUserSetting",
				Where: []wqlCond{{Prop: "HomeServerDN", Value: "CN=x,DC=y"}}}},
		{`SELECT * FROM C WHERE A = "b\"c" AND Enabled = TRUE AND N = 3 AND X IS NULL`,
			&wqlQuery{Class: "C", Where: []wqlCond{{Prop: "A", Value: `b"c`}, {Prop: "Enabled", Value: "True"}, {Prop: "N", Value: "3"}, {Prop: "X", Null: true}}}},
	}
	for _, tt := range tests {
		got, err := parseWQL(tt.q)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseWQL(%q) = %+v, %v; want %+v", tt.q, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"", "SELECT", "SELECT * FROM", "SELECT * FROM C WHERE", "SELECT * FROM C WHERE A = 'x' OR B = 'y'",
		"SELECT * FROM C WHERE A = 'unterminated", "DELETE FROM C", "SELECT * FROM C WHERE (A = 'x')",
		"SELECT * FROM C WHERE PrimaryURI='sip:o'brien@x'", "SELECT a, FROM C",
	} {
		if _, err := parseWQL(bad); err == nil {
			t.Errorf("parseWQL(%q) accepted", bad)
		}
	}
}

func FuzzWQL(f *testing.F) {
	for _, s := range []string{"SELECT * FROM C WHERE A = 'x' AND B = TRUE", "PrimaryURI='sip:a@b'", `A="\"`, "x = 1 AND"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if w, err := parseWQL(q); err == nil && w.Class == "" {
			t.Fatalf("query %q parsed without a class", q)
		}
		_, _ = parseWQLWhere(q)
	})
}
