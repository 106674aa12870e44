package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	// Time zones of maintenance windows resolve in the scratch image, which has no zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

// The day-2 policies of the planned operations, all pure: the failback hold-down, the
// maintenance windows and the proposal a Manual approval waits on.

const (
	// defaultStableFor is spec.failback.stableFor's default.
	defaultStableFor = 2 * time.Minute
	// estimatedPerUser is the move cost a proposal estimates with when no operation has been
	// measured yet (a planned move of one user with its contacts, OCS 2007 R2).
	estimatedPerUser = 200 * time.Millisecond
)

// failbackSettings is spec.failback with its defaults.
type failbackSettings struct {
	automatic bool
	stableFor time.Duration
}

// failbackOf parses spec.failback; the error names the field.
func failbackOf(f ocsv1.FailbackSpec) (failbackSettings, error) {
	out := failbackSettings{stableFor: defaultStableFor}
	if f.Problem != "" {
		return out, fmt.Errorf("%s", f.Problem)
	}
	switch f.Mode {
	case "", ocsv1.FailbackManual:
	case ocsv1.FailbackAutomatic:
		out.automatic = true
	default:
		return out, fmt.Errorf("spec.failback.mode %q is not Automatic or Manual", f.Mode)
	}
	if f.StableFor != "" {
		d, err := time.ParseDuration(f.StableFor)
		if err != nil || d < 0 {
			return failbackSettings{stableFor: defaultStableFor}, fmt.Errorf("spec.failback.stableFor %q is not a duration such as 2m", f.StableFor)
		}
		out.stableFor = d
	}
	return out, nil
}

// holdDownUntil is when a failback to servers that turned Healthy at the times since may start:
// every target must have stayed Healthy for stableFor. A server that dropped out and came back
// has a later since, so flapping restarts the count. Zero when nothing holds.
func holdDownUntil(since []time.Time, stableFor time.Duration, now time.Time) time.Time {
	var until time.Time
	for _, t := range since {
		if end := t.Add(stableFor); end.After(now) && end.After(until) {
			until = end
		}
	}
	return until
}

// windowVerdict is what the maintenance windows say at one moment.
type windowVerdict struct {
	// open: no windows are set, or one is open now.
	open bool
	// next is when the next window opens (zero when open, or when no schedule ever fires).
	next time.Time
}

// windowAt evaluates the windows at now. A window opens at each activation of its cron schedule,
// in its time zone, and stays open for its duration.
func windowAt(windows []ocsv1.MaintenanceWindow, now time.Time) (windowVerdict, error) {
	if len(windows) == 0 {
		return windowVerdict{open: true}, nil
	}
	var v windowVerdict
	for i, w := range windows {
		sched, dur, err := parseWindow(w)
		if err != nil {
			return windowVerdict{open: true}, fmt.Errorf("spec.maintenanceWindows[%d]: %w", i, err)
		}
		// The first activation after now-dur is the only one whose window can hold now.
		act := sched.Next(now.Add(-dur))
		if act.IsZero() {
			continue
		}
		if !act.After(now) {
			return windowVerdict{open: true}, nil
		}
		if v.next.IsZero() || act.Before(v.next) {
			v.next = act
		}
	}
	return v, nil
}

// parseWindow reads one window's schedule (in its time zone) and duration.
func parseWindow(w ocsv1.MaintenanceWindow) (cron.Schedule, time.Duration, error) {
	dur, err := time.ParseDuration(w.Duration)
	if err != nil || dur <= 0 {
		return nil, 0, fmt.Errorf("duration %q is not a positive duration such as 4h", w.Duration)
	}
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, 0, fmt.Errorf("timeZone %q is not an IANA time zone", w.TimeZone)
	}
	sched, err := cron.ParseStandard("CRON_TZ=" + tz + " " + w.Schedule)
	if err != nil {
		return nil, 0, fmt.Errorf("schedule %q is not a 5-field cron expression: %w", w.Schedule, err)
	}
	return sched, dur, nil
}

// proposedMoves sums a plan's batches per server pair, in a stable order.
func proposedMoves(p placement.Plan) []ocsv1.ProposedMove {
	sum := map[[2]string]int32{}
	for _, b := range p.Batches {
		sum[[2]string{b.From, b.To}] += int32(len(b.Users))
	}
	out := make([]ocsv1.ProposedMove, 0, len(sum))
	for k, n := range sum {
		out = append(out, ocsv1.ProposedMove{From: k[0], To: k[1], Users: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// proposalID is a short hash of a plan: the operation, the moves per server pair, and the
// operation it follows (after, e.g. the failover's id), so that the same counts after a later
// failover never match an old approval.
func proposalID(op ocsv1.OperationType, moves []ocsv1.ProposedMove, after string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", op, after)
	for _, m := range moves {
		fmt.Fprintf(h, "%s>%s=%d\x00", m.From, m.To, m.Users)
	}
	return strings.ToLower(string(op)) + "-" + hex.EncodeToString(h.Sum(nil))[:10]
}

// estimateDuration estimates how long users moves take from the rate of the last measured
// operation (nil or unmeasured: estimatedPerUser), rounded to the second.
func estimateDuration(users int, last *ocsv1.Operation) time.Duration {
	per := estimatedPerUser
	if last != nil && last.CompletionTime != nil && last.Moved > 0 {
		if d := last.CompletionTime.Sub(last.StartTime.Time); d > 0 {
			per = d / time.Duration(last.Moved)
		}
	}
	return (per * time.Duration(users)).Round(time.Second)
}

// contactLossWindow says which contact changes a failover cannot restore: those made between the
// snapshot (nil: none) and the moment the server went down.
func contactLossWindow(snapshot *metav1.Time, downSince time.Time) string {
	if snapshot == nil {
		return "no snapshot: every contact of the force-moved users is lost"
	}
	gap := max(downSince.Sub(snapshot.Time), 0).Round(time.Second)
	return fmt.Sprintf("%s to %s (%s) not in the snapshot", snapshot.UTC().Format(time.RFC3339), downSince.UTC().Format(time.RFC3339), gap)
}
