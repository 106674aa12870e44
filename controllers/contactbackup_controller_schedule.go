package controllers

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// parseBackupSchedule parses spec.schedule, a 5-field cron expression evaluated in UTC. A schedule
// that never fires (30 February) is refused too: it would leave nothing to requeue at.
func parseBackupSchedule(spec string, now time.Time) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("spec.schedule %q is not a 5-field cron expression: %w", spec, err)
	}
	if s.Next(now.UTC()).IsZero() {
		return nil, fmt.Errorf("spec.schedule %q never fires", spec)
	}
	return s, nil
}

// decideBackupSchedule says whether a scheduled run is due at now. The schedule counts from the last
// scheduled run, or from the object's creation before the first one. However many scheduled
// times passed since (the manager was down), one run is due, for the latest of them: a backup
// taken now covers them all. next is the first scheduled time after now (zero if none).
func decideBackupSchedule(s cron.Schedule, lastScheduled *time.Time, created, now time.Time) (runNow bool, scheduled, next time.Time) {
	from := created.UTC()
	if lastScheduled != nil {
		from = lastScheduled.UTC()
	}
	now = now.UTC()
	scheduled, runNow = latestCronTick(s, from, now)
	return runNow, scheduled, s.Next(now)
}

// latestCronTick returns the latest scheduled time t with from < t <= now. It looks back from now in
// doubling windows rather than stepping forward from from, so that a manager down for a year
// with a schedule of every minute costs a few dozen calls, not half a million.
func latestCronTick(s cron.Schedule, from, now time.Time) (time.Time, bool) {
	if !now.After(from) {
		return time.Time{}, false
	}
	span := now.Sub(from) // saturates for a from centuries ago
	for window := time.Minute; ; {
		start := from
		if window < span {
			start = now.Add(-window)
		}
		t := s.Next(start)
		if !t.IsZero() && !t.After(now) {
			// Every tick of the window lies in its older half (the younger half was the previous,
			// empty window), so this walk is short.
			for {
				n := s.Next(t)
				if n.IsZero() || n.After(now) {
					return t, true
				}
				t = n
			}
		}
		if start.Equal(from) {
			return time.Time{}, false
		}
		if window > span/2 {
			window = span
		} else {
			window *= 2
		}
	}
}

// isBackupOverdue reports whether two scheduled times have passed since the last success (or since
// creation, before any success) without a new success: the backup is no longer on time.
func isBackupOverdue(s cron.Schedule, lastSuccess *time.Time, created, now time.Time) (bool, time.Time) {
	ref := created.UTC()
	if lastSuccess != nil {
		ref = lastSuccess.UTC()
	}
	first := s.Next(ref)
	if first.IsZero() {
		return false, time.Time{}
	}
	second := s.Next(first)
	return !second.IsZero() && now.UTC().After(second), second
}

// backupRequeueAfter is the wait until next, never zero or negative: a deadline already past would spin.
func backupRequeueAfter(now, next time.Time) time.Duration {
	const minWait = time.Second
	if d := next.Sub(now); d > minWait {
		return d
	}
	return minWait
}
