package ocs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// warmProcesses counts the persistent powershell.exe processes started on server, and the
// powershell.exe started for one script each.
func (e *env) warmProcesses(server string) (warm, cold int) {
	for _, line := range e.sim.Commands(server) {
		switch {
		case strings.Contains(line, "-Command -"):
			warm++
		case strings.Contains(line, "-EncodedCommand"):
			cold++
		}
	}
	return warm, cold
}

// TestEmulatorWarmPowerShell runs every Skype for Business operation in the persistent
// processes: the module loads once per process, not once per operation.
func TestEmulatorWarmPowerShell(t *testing.T) {
	e := startEnvIdle(t, ocs.ProductSkypeForBusiness, 20, 3, false, time.Minute)
	ctx := testCtx(t)
	for range 3 {
		if users, err := e.agent.ListUsers(ctx, "ocs1"); err != nil || len(users) != 20 {
			t.Fatalf("ListUsers: %d users, %v", len(users), err)
		}
	}
	move := e.homedOn("ocs1")[:4]
	res, err := e.agent.MoveUsers(ctx, "ocs2", move, "ocs2", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.OK {
			t.Errorf("move %s: %s", r.SIP, r.Message)
		}
	}
	doc, err := e.agent.ExportContacts(ctx, "ocs2", nil)
	if err != nil || len(doc.Resources) != 14 {
		t.Fatalf("ExportContacts: %v", err)
	}
	imp, err := e.agent.ImportContacts(ctx, "ocs2", doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range imp {
		if !r.OK {
			t.Errorf("import %s: %s", r.SIP, r.Message)
		}
	}
	if _, err := e.agent.ExportConfiguration(ctx, "ocs1"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ocs1", "ocs2"} {
		warm, cold := e.warmProcesses(s)
		// Operations run one at a time here: one process serves them all.
		if warm != 1 || cold != 0 {
			t.Errorf("%s: %d persistent and %d one-script powershell.exe, want 1 and 0: %q", s, warm, cold, e.sim.Commands(s))
		}
	}
}

// Health probes ask Get-CsWindowsService in a persistent process too (on the probe slot), and sc
// query in a command of its own: a probe every probeInterval does not load the module each time.
func TestEmulatorWarmHealthProbe(t *testing.T) {
	e := startEnvIdle(t, ocs.ProductSkypeForBusiness, 4, 1, false, time.Minute)
	ctx := winrm.AsProbe(testCtx(t))
	for range 3 {
		st, err := e.agent.ServiceHealth(ctx, "ocs1", []string{"RtcSrv", "W3SVC", "RTCNOPE"})
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 3 || !st[0].Running || !st[1].Running || st[2].State != ocs.StateNotFound {
			t.Fatalf("ServiceHealth = %+v, want RtcSrv and W3SVC running, RTCNOPE not found", st)
		}
	}
	if warm, cold := e.warmProcesses("ocs1"); warm != 1 || cold != 0 {
		t.Errorf("%d persistent and %d one-script powershell.exe for three probes, want 1 and 0: %q", warm, cold, e.sim.Commands("ocs1"))
	}
	e.admin("crash", "ocs1")
	if _, err := e.agent.ServiceHealth(ctx, "ocs1", []string{"RtcSrv"}); err == nil {
		t.Error("a probe of a crashed server succeeded through a process kept from before the crash")
	}
}

// A request whose answer did not come may have run: its process is ended and the request is not
// sent again; the next request gets a new process.
func TestEmulatorWarmRequestNotRepeated(t *testing.T) {
	e := startEnvIdle(t, ocs.ProductSkypeForBusiness, 4, 1, false, time.Minute, func(c *sim.Config) { c.MoveCost = time.Minute })
	ctx := testCtx(t)
	if _, err := e.agent.ListUsers(ctx, "ocs2"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err := e.agent.MoveUsers(short, "ocs2", e.homedOn("ocs1")[:1], "ocs2", false)
	if err == nil || !strings.Contains(err.Error(), "may have run") {
		t.Fatalf("MoveUsers: %v, want an error saying the request may have run", err)
	}
	if _, err := e.agent.ListUsers(ctx, "ocs2"); err != nil {
		t.Fatal(err)
	}
	if warm, cold := e.warmProcesses("ocs2"); warm != 2 || cold != 0 {
		t.Errorf("%d persistent and %d one-script powershell.exe, want 2 (the second after the lost request) and 0: %q",
			warm, cold, e.sim.Commands("ocs2"))
	}
}

// A kept process lost with its server (a restart) is replaced before anything was sent to it.
func TestEmulatorWarmProcessLostWithTheServer(t *testing.T) {
	e := startEnvIdle(t, ocs.ProductSkypeForBusiness, 4, 1, false, time.Minute)
	ctx := testCtx(t)
	if _, err := e.agent.ListUsers(ctx, "ocs1"); err != nil {
		t.Fatal(err)
	}
	e.admin("crash", "ocs1")
	e.admin("start", "ocs1")
	if users, err := e.agent.ListUsers(ctx, "ocs1"); err != nil || len(users) != 4 {
		t.Fatalf("ListUsers after the restart: %d users, %v", len(users), err)
	}
}

// Addresses reach the persistent process as data: one with a quote fails alone, the batch runs.
func TestEmulatorWarmHostileAddress(t *testing.T) {
	e := startEnvIdle(t, ocs.ProductSkypeForBusiness, 4, 1, false, time.Minute)
	ctx := testCtx(t)
	good := e.homedOn("ocs1")[0]
	res, err := e.agent.MoveUsers(ctx, "ocs2", []string{"sip:o'brien@corp.example.com", good, "sip:x@corp.example.com'; exit 3; '"}, "ocs2", false)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].OK || !res[1].OK || res[2].OK {
		t.Fatalf("results %+v: want only %s moved", res, good)
	}
	if home := e.homes()[strings.ToLower(good)]; home != "ocs2" {
		t.Fatalf("%s homed on %q", good, home)
	}
}
