package winrm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// runCancelled starts "echo x" on a server whose Receive blocks on ts.gate, cancels the call
// once the command runs, and returns Run's error.
func runCancelled(t *testing.T, ts *testServer, p *Pool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := p.Run(ctx, "ocs1", "echo x", nil)
		errc <- err
	}()
	if !poll(10*time.Second, func() bool { return ts.count("Receive") >= 1 }) {
		t.Fatal("the command never ran")
	}
	cancel()
	select {
	case err := <-errc:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

func TestRunCancelledTerminatesTheCommandBeforeReturning(t *testing.T) {
	ts, srv := startServer(t, false)
	ts.gate = make(chan struct{})
	// Like Windows, the server ends a terminated command: its blocked Receive answers Done.
	go func() {
		if poll(20*time.Second, func() bool { return ts.count("Signal") >= 1 }) {
			close(ts.gate)
		}
	}()
	p := newTestPool(t, Options{}, basicTarget(srv))
	err := runCancelled(t, ts, p)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "signalled to terminate and ended") {
		t.Fatalf("err = %v, want a cancellation that says the command was terminated", err)
	}
	// The Signal went out while the Receive still blocked (masterzen alone would wait for the
	// long poll), and the shell was gone before Run returned.
	if ts.count("Signal") < 1 || ts.count("Delete") != 1 {
		t.Fatalf("%d Signals and %d Deletes when Run returned, want at least 1 and 1", ts.count("Signal"), ts.count("Delete"))
	}
}

func TestRunCancelledSaysWhenTheServerDoesNotConfirm(t *testing.T) {
	ts, srv := startServer(t, false)
	ts.gate = make(chan struct{})
	defer close(ts.gate)
	p := newTestPool(t, Options{CancelWait: 100 * time.Millisecond}, basicTarget(srv))
	err := runCancelled(t, ts, p)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "may still be running") {
		t.Fatalf("err = %v, want a cancellation that says the command may still be running", err)
	}
	if ts.count("Signal") < 1 {
		t.Fatal("the command was not signalled to terminate")
	}
}

func TestRunPastItsDeadlineSignalsAtOnce(t *testing.T) {
	ts, srv := startServer(t, false)
	ts.gate = make(chan struct{})
	defer close(ts.gate)
	p := newTestPool(t, Options{}, basicTarget(srv))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Run(ctx, "ocs1", "echo x", nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The Receive still blocks: only the immediate Signal can have reached the server.
	if !poll(10*time.Second, func() bool { return ts.count("Signal") >= 1 }) {
		t.Fatal("the command was not signalled to terminate while its Receive blocked")
	}
}
