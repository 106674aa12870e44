package ocs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMovesAreCountedOnlyOnceTheDirectoryShowsThem(t *testing.T) {
	for _, product := range []Product{ProductOCS2007R2, ProductSkypeForBusiness} {
		t.Run(string(product), func(t *testing.T) {
			reads := 0
			var pauses []time.Duration
			e := &scriptedExec{t: t}
			e.answer = func(c call) (Result, error) {
				s := c.script()
				switch {
				case strings.Contains(s, "MSFT_SIPPoolSetting"):
					return ocsAnswer(c)
				case strings.Contains(s, "$h = ''"):
					reads++
					var out strings.Builder
					for _, sip := range strings.Fields(c.data) {
						// a shows up on the second read, b never, c at once.
						home := map[bool]string{true: "ocs2", false: "ocs1"}[strings.HasPrefix(sip, "sip:c") || strings.HasPrefix(sip, "sip:a") && reads >= 2]
						if product == ProductOCS2007R2 {
							home = map[string]string{"ocs1": dn1, "ocs2": dn2}[home]
						} else {
							home += ".corp.example.com"
						}
						out.WriteString(frame(`"` + sip + `","` + home + `"`))
					}
					return ok(out.String())
				}
				return ocsAnswer(c)
			}
			sleep := func(ctx context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }
			a, err := NewAgent(product, testServers, e, WithMoveConfirmation(4, sleep))
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.MoveUsers(context.Background(), "ocs2", []string{"sip:a@corp.example.com", "sip:b@corp.example.com", "sip:c@corp.example.com", "sip:fail@corp.example.com"}, "ocs2", false)
			if err != nil {
				t.Fatal(err)
			}
			if !res[0].OK || res[1].OK || !res[2].OK || res[3].OK {
				t.Fatalf("results %+v", res)
			}
			if !strings.Contains(res[1].Message, "after 4 reads the directory still shows the user on ocs1, not ocs2") {
				t.Fatalf("message %q", res[1].Message)
			}
			if res[3].Message != "The user was not found in the directory." {
				t.Fatalf("a failed move must keep its own message: %q", res[3].Message)
			}
			if reads != 4 || len(pauses) != 3 || pauses[0] != 250*time.Millisecond || pauses[2] != time.Second {
				t.Fatalf("%d reads, pauses %v", reads, pauses)
			}
		})
	}
}

func TestAMoveThatCannotBeReadBackIsNotCounted(t *testing.T) {
	a, _ := newTestAgent(t, ProductSkypeForBusiness, func(c call) (Result, error) {
		if strings.Contains(c.script(), "$h = ''") {
			return Result{}, errors.New("connection reset")
		}
		return ocsAnswer(c)
	})
	res, err := a.MoveUsers(context.Background(), "ocs2", []string{"sip:a@corp.example.com"}, "ocs2", true)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].OK || !strings.Contains(res[0].Message, "could not be read back") || !strings.Contains(res[0].Message, "connection reset") {
		t.Fatalf("result %+v", res[0])
	}
}

func TestConfirmPause(t *testing.T) {
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := confirmPause(i + 1); got != w {
			t.Errorf("pause %d = %v, want %v", i+1, got, w)
		}
	}
	if confirmPause(80) != maxConfirmPause {
		t.Error("a late pause overflows")
	}
}
