package controllers

import (
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// cbTime returns a UTC time on 25 November 2026.
func cbTime(hour, minute, second int) time.Time {
	return time.Date(2026, 11, 25, hour, minute, second, 0, time.UTC)
}

func TestDecideBackupSchedule(t *testing.T) {
	created := cbTime(10, 1, 0)
	ptr := func(t time.Time) *time.Time { return &t }
	tests := map[string]struct {
		schedule      string
		last          *time.Time
		now           time.Time
		wantRun       bool
		wantScheduled time.Time
		wantNext      time.Time
	}{
		"nothing is due before the first tick after creation": {
			schedule: "*/15 * * * *", now: cbTime(10, 14, 59), wantNext: cbTime(10, 15, 0),
		},
		"the first tick after creation is due": {
			schedule: "*/15 * * * *", now: cbTime(10, 15, 30), wantRun: true, wantScheduled: cbTime(10, 15, 0), wantNext: cbTime(10, 30, 0),
		},
		"a tick is due at its exact time": {
			schedule: "*/15 * * * *", last: ptr(cbTime(10, 15, 0)), now: cbTime(10, 30, 0), wantRun: true, wantScheduled: cbTime(10, 30, 0), wantNext: cbTime(10, 45, 0),
		},
		"a tick already run is not due again": {
			schedule: "*/15 * * * *", last: ptr(cbTime(10, 15, 0)), now: cbTime(10, 29, 59), wantNext: cbTime(10, 30, 0),
		},
		"manager down for 3 periods: one run, for the latest missed tick": {
			schedule: "*/15 * * * *", last: ptr(cbTime(10, 15, 0)), now: cbTime(11, 2, 0), wantRun: true, wantScheduled: cbTime(11, 0, 0), wantNext: cbTime(11, 15, 0),
		},
		"after the catch-up run nothing more is due": {
			schedule: "*/15 * * * *", last: ptr(cbTime(11, 0, 0)), now: cbTime(11, 2, 1), wantNext: cbTime(11, 15, 0),
		},
		"a last run in the future (clock stepped back) makes nothing due": {
			schedule: "*/15 * * * *", last: ptr(cbTime(11, 0, 0)), now: cbTime(10, 50, 0), wantNext: cbTime(11, 0, 0),
		},
		"manager down for a year with a schedule of every minute": {
			schedule: "* * * * *", last: ptr(cbTime(10, 0, 0).AddDate(-1, 0, 0)), now: cbTime(10, 0, 30), wantRun: true, wantScheduled: cbTime(10, 0, 0), wantNext: cbTime(10, 1, 0),
		},
		"a yearly schedule finds last January's tick": {
			schedule: "0 0 1 1 *", last: ptr(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), now: cbTime(10, 0, 0), wantRun: true,
			wantScheduled: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), wantNext: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		},
		"hours are UTC": {
			schedule: "0 3 * * *", last: ptr(cbTime(3, 0, 0).AddDate(0, 0, -1)), now: cbTime(3, 0, 1), wantRun: true, wantScheduled: cbTime(3, 0, 0), wantNext: cbTime(3, 0, 0).AddDate(0, 0, 1),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := parseBackupSchedule(tt.schedule, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			run, scheduled, next := decideBackupSchedule(s, tt.last, created, tt.now)
			if run != tt.wantRun || !scheduled.Equal(tt.wantScheduled) || !next.Equal(tt.wantNext) {
				t.Errorf("decideBackupSchedule() = (%v, %v, %v), want (%v, %v, %v)", run, scheduled, next, tt.wantRun, tt.wantScheduled, tt.wantNext)
			}
		})
	}
}

// TestBackupScheduleWithFakeClock plays a manager that reconciles at each requeue, then stops
// for three periods and starts again: the missed ticks give exactly one run.
func TestBackupScheduleWithFakeClock(t *testing.T) {
	clk := clocktesting.NewFakeClock(cbTime(10, 1, 0))
	created := clk.Now()
	s, err := parseBackupSchedule("*/15 * * * *", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	var last *time.Time
	var runs []time.Time
	reconcile := func() time.Duration {
		run, scheduled, next := decideBackupSchedule(s, last, created, clk.Now())
		if run {
			runs = append(runs, scheduled)
			last = &scheduled
		}
		return backupRequeueAfter(clk.Now(), next)
	}

	// Up for an hour: a run at 10:15, 10:30, 10:45 and 11:00.
	for clk.Now().Before(cbTime(11, 1, 0)) {
		clk.Step(reconcile())
	}
	if len(runs) != 4 || !runs[3].Equal(cbTime(11, 0, 0)) {
		t.Fatalf("runs while up = %v, want 4 ending at 11:00", runs)
	}
	// Down from 11:01 for three periods, back at 11:50.
	clk.SetTime(cbTime(11, 50, 0))
	clk.Step(reconcile())
	if len(runs) != 5 || !runs[4].Equal(cbTime(11, 45, 0)) {
		t.Fatalf("runs after the restart = %v, want exactly one more, for 11:45", runs)
	}
	if !clk.Now().Equal(cbTime(12, 0, 0)) {
		t.Fatalf("requeued to %v, want 12:00", clk.Now())
	}
	reconcile()
	if len(runs) != 6 {
		t.Fatalf("runs = %d, want 6: the 12:00 tick", len(runs))
	}
}

func TestParseBackupSchedule(t *testing.T) {
	now := cbTime(10, 0, 0)
	tests := map[string]struct {
		spec    string
		wantErr []string
	}{
		"standard expression":         {spec: "*/15 * * * *"},
		"ranges and lists":            {spec: "0,30 8-18 * * 1-5"},
		"minute out of range":         {spec: "61 * * * *", wantErr: []string{"spec.schedule", `"61 * * * *"`, "61"}},
		"six fields":                  {spec: "0 */15 * * * *", wantErr: []string{"spec.schedule", "5"}},
		"a date that never comes":     {spec: "0 0 30 2 *", wantErr: []string{"spec.schedule", "never fires"}},
		"a time zone is not accepted": {spec: "CRON_TZ=Europe/Paris 0 * * *", wantErr: []string{"spec.schedule"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseBackupSchedule(tt.spec, now)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestIsBackupOverdue(t *testing.T) {
	created := cbTime(9, 0, 0)
	ptr := func(t time.Time) *time.Time { return &t }
	tests := map[string]struct {
		lastSuccess *time.Time
		now         time.Time
		want        bool
	}{
		"one missed run is not overdue":                  {lastSuccess: ptr(cbTime(10, 0, 5)), now: cbTime(10, 30, 0), want: false},
		"two missed runs are overdue":                    {lastSuccess: ptr(cbTime(10, 0, 5)), now: cbTime(10, 30, 1), want: true},
		"never succeeded, two ticks after creation":      {now: cbTime(9, 30, 1), want: true},
		"never succeeded, before the second tick":        {now: cbTime(9, 29, 0), want: false},
		"a success just now is on time":                  {lastSuccess: ptr(cbTime(12, 0, 0)), now: cbTime(12, 0, 0), want: false},
		"a success long ago is overdue whatever happens": {lastSuccess: ptr(cbTime(1, 0, 0)), now: cbTime(12, 0, 0), want: true},
	}
	s, err := parseBackupSchedule("*/15 * * * *", created)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got, _ := isBackupOverdue(s, tt.lastSuccess, created, tt.now); got != tt.want {
				t.Errorf("isBackupOverdue() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackupRequeueAfterNeverPast(t *testing.T) {
	now := cbTime(10, 0, 0)
	tests := map[string]struct {
		next time.Time
		want time.Duration
	}{
		"future deadline":  {next: cbTime(10, 15, 0), want: 15 * time.Minute},
		"deadline now":     {next: now, want: time.Second},
		"deadline in past": {next: cbTime(9, 0, 0), want: time.Second},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := backupRequeueAfter(now, tt.next); got != tt.want {
				t.Errorf("backupRequeueAfter() = %v, want %v", got, tt.want)
			}
		})
	}
}
