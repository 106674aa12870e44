package costclock

import (
	"context"
	"testing"
	"time"
)

// TestLedgerCreditsOverrun checks the accounting, not the clock: whatever the timers did, the
// time spent on many small costs is at least their sum, and an overrun paid early leaves the
// next costs that fit in it without a wait.
func TestLedgerCreditsOverrun(t *testing.T) {
	var l Ledger
	ctx := context.Background()
	start := time.Now()
	for range 50 {
		if err := l.Spend(ctx, 100*time.Microsecond); err != nil {
			t.Fatal(err)
		}
	}
	if got := time.Since(start); got < 5*time.Millisecond {
		t.Fatalf("50 × 100 µs took %v, less than their sum", got)
	}
	if l.owed > 0 || l.owed < -maxCredit {
		t.Fatalf("after the waits the ledger owes %v, want a credit within %v", l.owed, maxCredit)
	}
}

func TestSpendWithoutWaitingWhenCredited(t *testing.T) {
	l := Ledger{owed: -10 * time.Millisecond}
	ctx := context.WithValue(context.Background(), ledgerKey{}, &l)
	if err := Spend(ctx, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if l.owed != -9*time.Millisecond {
		t.Fatalf("owed %v, want -9ms: a credited cost must not wait", l.owed)
	}
}

func TestSpendStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(WithLedger(context.Background()))
	cancel()
	if err := Spend(ctx, time.Hour); err == nil {
		t.Fatal("a cancelled context did not end the wait")
	}
}
