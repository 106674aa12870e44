package host

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentCommands(t *testing.T) {
	w := newTestWorld(t, 40, 3)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			server, target := "ocs1", dn2
			if g%2 == 1 {
				server, target = "ocs2", dn1
			}
			var in strings.Builder
			for i := g + 1; i <= 40; i += 4 {
				fmt.Fprintf(&in, "sip:user%04d@corp.example.com\n", i)
			}
			r := runPS(t, w, server, moveScript(moveTemplate, target, false), in.String())
			if r.code != 0 || strings.Contains(r.stdout, "Failed") {
				errs <- r.stdout + r.stderr
			}
			if r := runPS(t, w, server, usersScript, ""); r.code != 0 {
				errs <- r.stderr
			}
			if r := runProg(t, w, server, "sc", []string{"query", "RtcSrv"}, ""); r.code != 0 {
				errs <- r.stdout
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	total := 0
	for _, u := range w.Users() {
		total += u.Contacts
	}
	if total != 40*3 {
		t.Errorf("contacts after concurrent moves: %d, want %d", total, 120)
	}
}
