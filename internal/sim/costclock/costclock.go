// Package costclock spends the emulator's modelled costs (latency, program starts, per-user
// work) as real waits whose total matches the model.
//
// A Go timer fires late: on a loaded 2-core machine a 200 µs wait takes 1–2 ms and a 2.5 ms one
// about 3.4 ms, so charging each small cost with its own timer would bill the client several
// times the model. A Ledger keeps the account of one sequence of costs (one command, one
// connection): each wait is measured, and time waited beyond what was owed is credited against
// the next costs, so the sum stays within one timer overshoot of the model.
package costclock

import (
	"context"
	"sync"
	"time"
)

// maxCredit bounds what one stall (a GC pause, a descheduled process) can pay in advance: a
// machine that stalled for a second must not make the next second of modelled work free.
const maxCredit = 20 * time.Millisecond

// Ledger is the account of one sequence of costs. Its zero value is ready.
type Ledger struct {
	mu   sync.Mutex
	owed time.Duration // negative: credit from waits that overran
}

// Spend waits for d less any credit, and keeps what the wait overran as credit.
func (l *Ledger) Spend(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.owed += d
	if l.owed <= 0 {
		return ctx.Err()
	}
	start := time.Now()
	t := time.NewTimer(l.owed)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		l.owed = 0
		return ctx.Err()
	}
	l.owed -= time.Since(start)
	l.owed = max(l.owed, -maxCredit)
	return nil
}

type ledgerKey struct{}

// WithLedger returns ctx carrying a new Ledger, which Spend uses for every cost charged under it.
func WithLedger(ctx context.Context) context.Context {
	return context.WithValue(ctx, ledgerKey{}, &Ledger{})
}

// Spend charges d to ctx's Ledger, or waits d with a timer of its own when ctx has none.
func Spend(ctx context.Context, d time.Duration) error {
	if l, ok := ctx.Value(ledgerKey{}).(*Ledger); ok {
		return l.Spend(ctx, d)
	}
	var l Ledger
	return l.Spend(ctx, d)
}
