package ocs

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SleepFunc waits d, or returns ctx's error when ctx ends first.
type SleepFunc func(ctx context.Context, d time.Duration) error

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WithMoveConfirmation sets how many times a move batch's users are re-read (at least 1) and
// what waits between reads (tests pass a sleep that returns at once).
func WithMoveConfirmation(reads int, sleep SleepFunc) Option {
	return func(o *options) {
		o.confirmReads = max(reads, 1)
		if sleep != nil {
			o.sleep = sleep
		}
	}
}

// confirmPause is the pause before read n (n >= 1).
func confirmPause(n int) time.Duration {
	d := firstConfirmPause << (n - 1)
	if d > maxConfirmPause || d <= 0 {
		return maxConfirmPause
	}
	return d
}

// confirmMoves re-reads the users results report moved until the directory shows them on
// target, and turns the ones it never does into failures.
func (a *agent) confirmMoves(ctx context.Context, via, target Server, results []MoveResult) {
	pending := map[string]int{} // lower-case SIP -> index in results
	for i, r := range results {
		if r.OK {
			pending[strings.ToLower(r.SIP)] = i
		}
	}
	seen := map[string]string{}
	var readErr error
	reads := 0
	for n := 0; n < a.opts.confirmReads && len(pending) > 0; n++ {
		if n > 0 {
			if err := a.opts.sleep(ctx, confirmPause(n)); err != nil {
				readErr = err
				break
			}
		}
		sips := make([]string, 0, len(pending))
		for _, i := range pending {
			sips = append(sips, results[i].SIP)
		}
		homes, err := a.d.homes(ctx, via, sips)
		reads++
		if err != nil {
			readErr = err
			break
		}
		for k := range pending {
			seen[k] = homes[k]
			if homes[k] == target.Name {
				delete(pending, k)
			}
		}
	}
	for k, i := range pending {
		results[i].OK = false
		switch {
		case readErr != nil:
			results[i].Message = fmt.Sprintf("The server accepted the move, but the directory could not be read back to confirm it: %v", readErr)
		default:
			where := seen[k]
			if where == "" {
				where = "no server of the pool"
			}
			results[i].Message = fmt.Sprintf("The server accepted the move, but after %d reads the directory still shows the user on %s, not %s; the move is not counted and will be retried.", reads, where, target.Name)
		}
	}
}
