package controllers

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/placement"
)

func TestFailbackHoldDown(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		since     []time.Time
		stableFor time.Duration
		want      time.Time
	}{
		"a server healthy for longer than stableFor holds nothing": {
			since: []time.Time{now.Add(-3 * time.Minute)}, stableFor: 2 * time.Minute,
		},
		"exactly stableFor holds nothing": {
			since: []time.Time{now.Add(-2 * time.Minute)}, stableFor: 2 * time.Minute,
		},
		"a server back 10s ago waits for the rest of stableFor": {
			since: []time.Time{now.Add(-10 * time.Second)}, stableFor: 30 * time.Second, want: now.Add(20 * time.Second),
		},
		"the latest target decides": {
			since:     []time.Time{now.Add(-time.Hour), now.Add(-5 * time.Second), now.Add(-20 * time.Second)},
			stableFor: 30 * time.Second, want: now.Add(25 * time.Second),
		},
		"stableFor 0 never holds": {
			since: []time.Time{now}, stableFor: 0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(holdDownUntil(tc.since, tc.stableFor, now)).To(Equal(tc.want))
		})
	}
}

// A server flapping (healthy 10 s, down 5 s) keeps moving its transition time, so a failback
// with stableFor 30s never becomes due; once it stays up, it is due 30 s after its return.
func TestFailbackHoldDownRestartsOnFlapping(t *testing.T) {
	g := NewWithT(t)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var since time.Time
	for cycle := range 10 {
		since = start.Add(time.Duration(cycle) * 15 * time.Second) // back up at every cycle's start
		for _, at := range []time.Duration{0, 5 * time.Second, 9 * time.Second} {
			now := since.Add(at)
			g.Expect(holdDownUntil([]time.Time{since}, 30*time.Second, now)).NotTo(BeZero(), "cycle %d at +%s", cycle, at)
		}
	}
	g.Expect(holdDownUntil([]time.Time{since}, 30*time.Second, since.Add(30*time.Second))).To(BeZero())
}

func TestFailbackSettings(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    failbackSettings
		wantErr bool
	}{
		"absent: Manual, 2m":       {in: `{}`, want: failbackSettings{stableFor: 2 * time.Minute}},
		"short form Automatic":     {in: `{"failback":"Automatic"}`, want: failbackSettings{automatic: true, stableFor: 2 * time.Minute}},
		"short form Manual":        {in: `{"failback":"Manual"}`, want: failbackSettings{stableFor: 2 * time.Minute}},
		"object form":              {in: `{"failback":{"mode":"Automatic","stableFor":"30s"}}`, want: failbackSettings{automatic: true, stableFor: 30 * time.Second}},
		"object form without mode": {in: `{"failback":{"stableFor":"5m"}}`, want: failbackSettings{stableFor: 5 * time.Minute}},
		"unknown mode":             {in: `{"failback":"Sometimes"}`, wantErr: true},
		"bad duration":             {in: `{"failback":{"mode":"Automatic","stableFor":"soon"}}`, wantErr: true},
		// Values the API server refuses, read from objects stored before the schema had them: the
		// homing stays readable, the value is reported and failback stays Manual.
		"a typo in a key":          {in: `{"failback":{"mode":"Automatic","stabelFor":"5m"}}`, wantErr: true},
		"a number":                 {in: `{"failback":5}`, wantErr: true},
		"a list":                   {in: `{"failback":["Automatic"]}`, wantErr: true},
		"a boolean":                {in: `{"failback":true}`, wantErr: true},
		"a mode that is no string": {in: `{"failback":{"mode":1}}`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			var spec ocsv1.UserHomingSpec
			g.Expect(json.Unmarshal([]byte(tc.in), &spec)).To(Succeed())
			got, err := failbackOf(spec.Failback)
			if tc.wantErr {
				g.Expect(err).To(MatchError(ContainSubstring("spec.failback")))
				g.Expect(got.automatic).To(BeFalse(), "an invalid failback must read as Manual")
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestFailbackSpecKeepsItsForm(t *testing.T) {
	g := NewWithT(t)
	for in, want := range map[ocsv1.FailbackSpec]string{
		{Mode: ocsv1.FailbackManual}:                     `"Manual"`,
		{Mode: ocsv1.FailbackAutomatic, StableFor: "1m"}: `{"mode":"Automatic","stableFor":"1m"}`,
	} {
		out, err := json.Marshal(in)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(out)).To(Equal(want))
		var back ocsv1.FailbackSpec
		g.Expect(json.Unmarshal(out, &back)).To(Succeed())
		g.Expect(back).To(Equal(in))
	}
}

func TestMaintenanceWindows(t *testing.T) {
	// Tuesday 1 December 2026.
	at := func(day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, time.UTC) }
	weeknights := ocsv1.MaintenanceWindow{Schedule: "0 22 * * 1-5", Duration: "4h"}
	paris := ocsv1.MaintenanceWindow{Schedule: "0 2 * * *", Duration: "1h", TimeZone: "Europe/Paris"}
	tests := map[string]struct {
		windows  []ocsv1.MaintenanceWindow
		now      time.Time
		wantOpen bool
		wantNext time.Time
		wantErr  string
	}{
		"no windows: always open":                  {now: at(1, 12, 0), wantOpen: true},
		"daytime waits for the evening":            {windows: []ocsv1.MaintenanceWindow{weeknights}, now: at(1, 12, 0), wantNext: at(1, 22, 0)},
		"the opening minute is inside":             {windows: []ocsv1.MaintenanceWindow{weeknights}, now: at(1, 22, 0), wantOpen: true},
		"after midnight the window still holds":    {windows: []ocsv1.MaintenanceWindow{weeknights}, now: at(2, 1, 59), wantOpen: true},
		"the closing moment is outside":            {windows: []ocsv1.MaintenanceWindow{weeknights}, now: at(2, 2, 0), wantNext: at(2, 22, 0)},
		"Friday night runs into Saturday":          {windows: []ocsv1.MaintenanceWindow{weeknights}, now: at(5, 1, 0), wantOpen: true},
		"Saturday evening waits for Monday":        {windows: []ocsv1.MaintenanceWindow{weeknights}, now: at(5, 23, 0), wantNext: at(7, 22, 0)},
		"a time zone shifts the window (CET = +1)": {windows: []ocsv1.MaintenanceWindow{paris}, now: at(1, 1, 30), wantOpen: true},
		"outside the Paris window":                 {windows: []ocsv1.MaintenanceWindow{paris}, now: at(1, 2, 30), wantNext: at(2, 1, 0)},
		"the soonest of several windows is next":   {windows: []ocsv1.MaintenanceWindow{weeknights, paris}, now: at(1, 12, 0), wantNext: at(1, 22, 0)},
		"any open window opens":                    {windows: []ocsv1.MaintenanceWindow{weeknights, paris}, now: at(5, 1, 15), wantOpen: true},
		"a bad schedule names the field":           {windows: []ocsv1.MaintenanceWindow{{Schedule: "nightly", Duration: "1h"}}, now: at(1, 12, 0), wantErr: "spec.maintenanceWindows[0]: schedule"},
		"a bad time zone names the field":          {windows: []ocsv1.MaintenanceWindow{{Schedule: "0 2 * * *", Duration: "1h", TimeZone: "Mars/Olympus"}}, now: at(1, 12, 0), wantErr: "timeZone"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := windowAt(tc.windows, tc.now)
			if tc.wantErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.open).To(Equal(tc.wantOpen))
			g.Expect(got.next.Equal(tc.wantNext)).To(BeTrue(), "next = %s, want %s", got.next, tc.wantNext)
		})
	}
}

func TestProposalID(t *testing.T) {
	plan := func(counts ...int) placement.Plan {
		var p placement.Plan
		for i, n := range counts {
			from, to := "ocs2", "ocs1"
			if i%2 == 1 {
				from, to = "ocs3", "ocs1"
			}
			p.Batches = append(p.Batches, placement.Batch{From: from, To: to, Users: make([]string, n)})
			p.Moves += n
		}
		return p
	}
	base := proposalID(ocsv1.OperationFailback, proposedMoves(plan(100, 50)), "failover-1")
	tests := map[string]struct {
		id   string
		same bool
	}{
		"the same plan in other batches has the same id": {proposalID(ocsv1.OperationFailback, proposedMoves(plan(60, 50, 40)), "failover-1"), true},
		"one user more is a new plan":                    {proposalID(ocsv1.OperationFailback, proposedMoves(plan(101, 50)), "failover-1"), false},
		"a rebalance is not the failback":                {proposalID(ocsv1.OperationRebalance, proposedMoves(plan(100, 50)), "failover-1"), false},
		"the same counts after another failover differ":  {proposalID(ocsv1.OperationFailback, proposedMoves(plan(100, 50)), "failover-2"), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(tc.id == base).To(Equal(tc.same), "%s vs %s", tc.id, base)
			g.Expect(tc.id).To(MatchRegexp(`^(failback|rebalance)-[0-9a-f]{10}$`))
		})
	}
	NewWithT(t).Expect(proposedMoves(plan(60, 50, 40))).To(Equal([]ocsv1.ProposedMove{
		{From: "ocs2", To: "ocs1", Users: 100}, {From: "ocs3", To: "ocs1", Users: 50},
	}))
}

func TestEstimateDuration(t *testing.T) {
	start := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	done := metav1.NewTime(start.Add(100 * time.Second))
	tests := map[string]struct {
		users int
		last  *ocsv1.Operation
		want  time.Duration
	}{
		"no history: the default rate":   {users: 500, want: 100 * time.Second},
		"the last operation's rate":      {users: 500, last: &ocsv1.Operation{StartTime: start, CompletionTime: &done, Moved: 1000}, want: 50 * time.Second},
		"a running operation is ignored": {users: 500, last: &ocsv1.Operation{StartTime: start, Moved: 1000}, want: 100 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(estimateDuration(tc.users, tc.last)).To(Equal(tc.want))
		})
	}
}

func TestContactLossWindow(t *testing.T) {
	down := time.Date(2026, 12, 1, 10, 7, 30, 0, time.UTC)
	snap := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	g := NewWithT(t)
	g.Expect(contactLossWindow(&snap, down)).To(Equal("2026-12-01T10:00:00Z to 2026-12-01T10:07:30Z (7m30s) not in the snapshot"))
	g.Expect(contactLossWindow(nil, down)).To(ContainSubstring("no snapshot"))
}
