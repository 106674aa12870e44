package winrm

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestCommandsShareAKeptShell(t *testing.T) {
	ts, srv := startServer(t, false)
	p := newTestPool(t, Options{MaxConcurrent: 1}, basicTarget(srv))
	for range 5 {
		if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil); err != nil {
			t.Fatal(err)
		}
	}
	if c, n := ts.count("Create"), ts.count("Command"); c != 1 || n != 5 {
		t.Errorf("%d shells created for %d commands, want 1 for 5", c, n)
	}
	if d := ts.count("Delete"); d != 0 {
		t.Errorf("%d shells deleted while kept", d)
	}
	p.Close()
	if d := ts.count("Delete"); d != 1 {
		t.Errorf("Close deleted %d shells, want the kept one", d)
	}
}

func TestNegativeShellIdleOpensAShellPerCommand(t *testing.T) {
	ts, srv := startServer(t, false)
	p := newTestPool(t, Options{ShellIdle: -1}, basicTarget(srv))
	for range 3 {
		if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil); err != nil {
			t.Fatal(err)
		}
	}
	if c, d := ts.count("Create"), ts.count("Delete"); c != 3 || d != 3 {
		t.Errorf("%d shells created and %d deleted for 3 commands, want 3 and 3", c, d)
	}
}

func TestAnIdleShellIsDeleted(t *testing.T) {
	ts, srv := startServer(t, false)
	p := newTestPool(t, Options{ShellIdle: 20 * time.Millisecond}, basicTarget(srv))
	if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func(g Gomega) { g.Expect(ts.count("Delete")).To(Equal(1)) }).WithTimeout(5 * time.Second).Should(Succeed())
	if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil); err != nil {
		t.Fatal(err)
	}
	if c := ts.count("Create"); c != 2 {
		t.Errorf("%d shells created, want a new one after the idle one was deleted", c)
	}
}

func TestALostShellIsReopenedAndTheCommandRunsOnce(t *testing.T) {
	ts, srv := startServer(t, false)
	p := newTestPool(t, Options{MaxConcurrent: 1}, basicTarget(srv))
	if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil); err != nil {
		t.Fatal(err)
	}
	ts.restart()
	res, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo y", nil)
	if err != nil || string(res.Stdout) != "y\r\n" {
		t.Fatalf("after the server forgot the shell: %q, %v", res.Stdout, err)
	}
	// The refused Command reached the server but started nothing; the new shell ran it once.
	ts.mu.Lock()
	cmds := append([]string(nil), ts.commands...)
	ts.mu.Unlock()
	if len(cmds) != 2 || ts.count("Create") != 2 {
		t.Errorf("commands started %q with %d shells created, want each command once in 2 shells", cmds, ts.count("Create"))
	}
}

func TestACommandThatMayHaveRunInAKeptShellIsNotRepeated(t *testing.T) {
	ts, srv := startServer(t, false)
	p := newTestPool(t, Options{MaxConcurrent: 1}, basicTarget(srv))
	if _, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo x", nil); err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.failCommand = true
	ts.mu.Unlock()
	_, err := p.Run(ctxTimeout(t, 10*time.Second), "ocs1", "echo y", nil)
	if err == nil || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want unreachable", err)
	}
	if n := ts.count("Command"); n != 2 {
		t.Errorf("%d Command requests, want the failed one sent once", n)
	}
	if c := ts.count("Create"); c != 1 {
		t.Errorf("%d shells created: a command that may have run was retried in a new shell", c)
	}
}
