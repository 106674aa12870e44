package ocs

import (
	"errors"
	"strings"
	"testing"
)

func TestWarmBody(t *testing.T) {
	tests := []struct {
		name, script, want string
		refused            bool
	}{
		{"blank lines go", "$a = 1\n\n  \n$a\n", "$a = 1\n$a\n", false},
		{"CR kept out", "$a = 1\r\n$a\r\n", "$a = 1\n$a\n", false},
		{"exit 1 becomes a throw", "if ($x) {\n'row'\nexit 1\n}\n", "if ($x) {\n'row'\nthrow '" + warmExit + "'\n}\n", false},
		{"other exit refused", "exit $code\n", "", true},
		{"bare exit refused", "exit\n", "", true},
		{"exit after a statement refused", "'a'; exit 1\n", "", true},
		{"here-string refused", "$s = @'\nx\n'@\n", "", true},
		{"a word that starts like exit stays", "$exitCode = 1\n", "$exitCode = 1\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := warmBody(tt.script)
			if tt.refused {
				if !errors.Is(err, errNotWarm) {
					t.Fatalf("err %v, want errNotWarm", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The request is one try statement closed by a blank line, then the done line; user data only
// ever appears as base64 inside single quotes.
func TestWarmRequestShape(t *testing.T) {
	data := []byte("sip:o'brien@corp.example.com\n'; Remove-Item C:\\ -Recurse; '\n")
	body, err := warmBody(sfbHeader + psInlineData(data) + "'x'\n")
	if err != nil {
		t.Fatal(err)
	}
	req := warmRequest(body, "n1")
	if strings.Contains(req, "brien") || strings.Contains(req, "Remove-Item") {
		t.Fatalf("user data in the request text:\n%s", req)
	}
	if !strings.HasPrefix(req, "$ocsRc = 9\ntry {\n") || !strings.HasSuffix(req, "}\n\n'"+warmDone+"n1 ' + $ocsRc\n\n") {
		t.Fatalf("request shape:\n%s", req)
	}
	if strings.Contains(strings.TrimSuffix(req, "\n\n'"+warmDone+"n1 ' + $ocsRc\n\n"), "\n\n") {
		t.Fatalf("a blank line inside the statement would end it early:\n%s", req)
	}
}

func TestPSInlineDataSplitsLongData(t *testing.T) {
	data := make([]byte, 3*warmDataLine)
	lines := strings.Split(strings.TrimSpace(psInlineData(data)), "\n")
	for _, l := range lines {
		if len(l) > warmDataLine+40 {
			t.Fatalf("line of %d characters", len(l))
		}
	}
	if len(lines) < 5 {
		t.Fatalf("%d lines for %d bytes", len(lines), len(data))
	}
}
