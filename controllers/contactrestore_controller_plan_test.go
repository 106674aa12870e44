package controllers

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestRestoreTargets(t *testing.T) {
	dir := []ocs.HomedUser{
		{SIP: "sip:B@corp.example.com", Server: "ocs1"},
		{SIP: "sip:a@corp.example.com", Server: "ocs1"},
		{SIP: "sip:c@corp.example.com", Server: "ocs2"},
		{SIP: "sip:d@corp.example.com", Server: "ocs2"},
		{SIP: "sip:new@corp.example.com", Server: "ocs1"},
		{SIP: "sip:out@corp.example.com", Server: ""},
	}
	inSnapshot := func(k string) bool { return k != "sip:new@corp.example.com" }
	serving := map[string]bool{"ocs1": true, "ocs2": true}
	onlyOCS1 := map[string]bool{"ocs1": true}
	tests := map[string]struct {
		spec        ocsv1.RestoreRequestSpec
		serving     map[string]bool
		want        map[string][]string
		failed      []string
		withoutCopy int
	}{
		"named users go to their home now, in key order, each once whatever the case": {
			spec: ocsv1.RestoreRequestSpec{Users: []string{"sip:c@corp.example.com", "sip:b@corp.example.com", "sip:B@CORP.example.com"}},
			want: map[string][]string{"ocs1": {"sip:B@corp.example.com"}, "ocs2": {"sip:c@corp.example.com"}},
		},
		"a named user absent from the directory, the snapshot or the pool fails": {
			spec:   ocsv1.RestoreRequestSpec{Users: []string{"sip:gone@corp.example.com", "sip:new@corp.example.com", "sip:out@corp.example.com"}},
			want:   map[string][]string{},
			failed: []string{"sip:gone@corp.example.com", "sip:new@corp.example.com", "sip:out@corp.example.com"},
		},
		"a server restores everyone homed there that the snapshot holds": {
			spec:        ocsv1.RestoreRequestSpec{Server: "ocs1"},
			want:        map[string][]string{"ocs1": {"sip:a@corp.example.com", "sip:B@corp.example.com"}},
			withoutCopy: 1,
		},
		"the pool restores everyone homed in it": {
			spec:        ocsv1.RestoreRequestSpec{Pool: true},
			want:        map[string][]string{"ocs1": {"sip:a@corp.example.com", "sip:B@corp.example.com"}, "ocs2": {"sip:c@corp.example.com", "sip:d@corp.example.com"}},
			withoutCopy: 1,
		},
		"users homed on a server that does not serve fail, never wait": {
			spec:        ocsv1.RestoreRequestSpec{Pool: true},
			serving:     onlyOCS1,
			want:        map[string][]string{"ocs1": {"sip:a@corp.example.com", "sip:B@corp.example.com"}},
			failed:      []string{"sip:c@corp.example.com", "sip:d@corp.example.com"},
			withoutCopy: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			sv := tt.serving
			if sv == nil {
				sv = serving
			}
			ts := restoreTargets(tt.spec, dir, inSnapshot, sv)
			got := map[string][]string{}
			for server, us := range ts.byServer {
				for _, u := range us {
					got[server] = append(got[server], u.SIP)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("targets = %v, want %v", got, tt.want)
			}
			var failed []string
			for _, f := range ts.failed {
				failed = append(failed, f.User)
			}
			if !reflect.DeepEqual(failed, tt.failed) {
				t.Errorf("failed = %v, want %v", failed, tt.failed)
			}
			if ts.withoutCopy != tt.withoutCopy {
				t.Errorf("withoutCopy = %d, want %d", ts.withoutCopy, tt.withoutCopy)
			}
			if c := restoreCounts(ts, nil); int(c.Targeted) != ts.users()+len(tt.failed) || int(c.Failed) != len(tt.failed) {
				t.Errorf("counts = %+v", c)
			}
		})
	}
}

func restoreUsers(keys ...string) []restoreUser {
	out := make([]restoreUser, 0, len(keys))
	for _, k := range keys {
		out = append(out, restoreUser{SIP: "sip:" + k, Key: "sip:" + k, Home: "ocs1"})
	}
	return out
}

func TestNextChunk(t *testing.T) {
	users := restoreUsers("a", "b", "c", "d", "e")
	tests := map[string]struct {
		p       ocsv1.RestoreServerProgress
		want    []string
		resumed bool
	}{
		"the first chunk":                       {want: []string{"sip:a", "sip:b"}},
		"after the users settled":               {p: ocsv1.RestoreServerProgress{DoneThrough: "sip:b"}, want: []string{"sip:c", "sip:d"}},
		"the last, short chunk":                 {p: ocsv1.RestoreServerProgress{DoneThrough: "sip:d"}, want: []string{"sip:e"}},
		"nothing after the last":                {p: ocsv1.RestoreServerProgress{DoneThrough: "sip:e"}},
		"an import in flight is redone as is":   {p: ocsv1.RestoreServerProgress{DoneThrough: "sip:a", Importing: &ocsv1.RestoreImport{Through: "sip:d"}}, want: []string{"sip:b", "sip:c", "sip:d"}, resumed: true},
		"a user gone from the range is ignored": {p: ocsv1.RestoreServerProgress{DoneThrough: "sip:a", Importing: &ocsv1.RestoreImport{Through: "sip:bb"}}, want: []string{"sip:b"}, resumed: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			chunk, resumed := nextChunk(users, tt.p, 2)
			var got []string
			for _, u := range chunk {
				got = append(got, u.Key)
			}
			if !reflect.DeepEqual(got, tt.want) || resumed != tt.resumed {
				t.Errorf("nextChunk() = %v, %v; want %v, %v", got, resumed, tt.want, tt.resumed)
			}
		})
	}
}

func TestPlanChunk(t *testing.T) {
	c := func(buddies ...string) contacts.Resource {
		r := contacts.Resource{}
		for _, b := range buddies {
			r.Contacts = append(r.Contacts, contacts.Contact{Buddy: b})
		}
		return r
	}
	users := []restoreUser{{SIP: "sip:Empty@x", Key: "sip:empty@x"}, {SIP: "sip:newer@x", Key: "sip:newer@x"}, {SIP: "sip:whole@x", Key: "sip:whole@x"}, {SIP: "sip:nothing@x", Key: "sip:nothing@x"}}
	want := map[string]contacts.Resource{
		"sip:empty@x": c("p@x", "q@x"), "sip:newer@x": c("p@x", "q@x"), "sip:whole@x": c("p@x"), "sip:nothing@x": {},
	}
	have := map[string]contacts.Resource{
		"sip:newer@x": c("P@x", "new@x"), "sip:whole@x": c("p@x", "more@x"),
	}
	p := planChunk(users, have, want)
	if p.complete != 2 || p.contacts != 3 || len(p.need) != 2 {
		t.Fatalf("planChunk() = complete %d, contacts %d, need %v; want 2, 3 and two users", p.complete, p.contacts, p.need)
	}
	if p.resources[0].UserAtHost != "Empty@x" {
		t.Errorf("the import addresses %q, want the directory's spelling Empty@x", p.resources[0].UserAtHost)
	}
	// A merge of what is imported leaves nothing missing and keeps the newer contact.
	merged := contacts.Merge(have["sip:newer@x"], p.resources[1])
	if len(contacts.Missing(merged, want["sip:newer@x"])) != 0 || len(contacts.Missing(merged, have["sip:newer@x"])) != 0 {
		t.Errorf("merge of the plan = %+v, want the union", merged)
	}
}

func TestSettleChunk(t *testing.T) {
	need := restoreUsers("b", "c")
	ok := []ocs.ImportResult{{SIP: "sip:b", OK: true}, {SIP: "sip:c", OK: true}}
	oneFails := []ocs.ImportResult{{SIP: "sip:b", OK: true}, {SIP: "sip:c", Message: "The read-back lacks 1 entry."}}
	lost := errors.New("lost")
	tests := map[string]struct {
		p            ocsv1.RestoreServerProgress
		o            chunkOutcome
		want         ocsv1.RestoreServerProgress
		wantFailures int
	}{
		"a chunk with nothing to import counts its users unchanged": {
			o:    chunkOutcome{through: "sip:d", unchangedBefore: 3, complete: 3},
			want: ocsv1.RestoreServerProgress{DoneThrough: "sip:d", Unchanged: 3},
		},
		"imports that read back count as restored": {
			o:    chunkOutcome{through: "sip:d", unchangedBefore: 1, complete: 1, need: need, results: ok},
			want: ocsv1.RestoreServerProgress{DoneThrough: "sip:d", Unchanged: 1, Restored: 2},
		},
		"a user whose read-back lacks entries fails with the reason": {
			o:            chunkOutcome{through: "sip:d", unchangedBefore: 1, complete: 1, need: need, results: oneFails},
			want:         ocsv1.RestoreServerProgress{DoneThrough: "sip:d", Unchanged: 1, Restored: 1, Failed: 1},
			wantFailures: 1,
		},
		"an import whose outcome is unknown is tried again": {
			o:    chunkOutcome{through: "sip:d", unchangedBefore: 1, complete: 1, need: need, importErr: lost},
			want: ocsv1.RestoreServerProgress{Importing: &ocsv1.RestoreImport{Through: "sip:d", Unchanged: 1, Attempts: 1}},
		},
		"the third unknown outcome fails its users": {
			p:            ocsv1.RestoreServerProgress{Importing: &ocsv1.RestoreImport{Through: "sip:d", Unchanged: 1, Attempts: 2}},
			o:            chunkOutcome{through: "sip:d", unchangedBefore: 1, complete: 1, need: need, importErr: lost},
			want:         ocsv1.RestoreServerProgress{DoneThrough: "sip:d", Unchanged: 1, Failed: 2},
			wantFailures: 2,
		},
		"after a restart, users the lost pass restored count as restored, not unchanged": {
			p:    ocsv1.RestoreServerProgress{Restored: 5, Importing: &ocsv1.RestoreImport{Through: "sip:d", Unchanged: 1}},
			o:    chunkOutcome{through: "sip:d", unchangedBefore: 1, complete: 3},
			want: ocsv1.RestoreServerProgress{DoneThrough: "sip:d", Unchanged: 1, Restored: 7},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, failures := settleChunk(tt.p, tt.o)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settleChunk() = %+v (importing %+v), want %+v (importing %+v)", got, got.Importing, tt.want, tt.want.Importing)
			}
			if len(failures) != tt.wantFailures {
				t.Errorf("failures = %v, want %d", failures, tt.wantFailures)
			}
			for _, f := range failures {
				if f.Reason == "" {
					t.Errorf("failure of %s has no reason", f.User)
				}
			}
		})
	}
}

func TestAddFailuresIsBoundedAndNamesEachUserOnce(t *testing.T) {
	var more []ocsv1.RestoreFailure
	for _, u := range []string{"sip:a@x", "sip:A@x", "sip:b@x", "sip:c@x", "sip:d@x", "sip:e@x", "sip:f@x", "sip:g@x", "sip:h@x", "sip:i@x", "sip:j@x", "sip:k@x"} {
		more = append(more, ocsv1.RestoreFailure{User: u, Reason: "r"})
	}
	got := addFailures(nil, more)
	if len(got) != maxFailedUsers || got[1].User != "sip:b@x" {
		t.Errorf("addFailures() = %v", got)
	}
	if again := addFailures(got, more[:2]); len(again) != maxFailedUsers {
		t.Errorf("adding known users changed the sample: %v", again)
	}
}

func TestApplyRestoreStatus(t *testing.T) {
	tests := map[string]struct {
		cr     ocsv1.ContactRestore
		rep    restoreReport
		ready  string
		status string
		extra  string
	}{
		"waiting for a UserHoming operation": {rep: restoreReport{waitReason: ocsv1.ReasonRestoreWaiting, waitMessage: "w"}, ready: ocsv1.ReasonRestoreWaiting, status: "False"},
		"Replace refused":                    {rep: restoreReport{stalledReason: ocsv1.ReasonReplaceUnsupported, stalledMessage: "m"}, ready: ocsv1.ReasonReplaceUnsupported, status: "False", extra: "Stalled"},
		"running":                            {cr: ocsv1.ContactRestore{Status: ocsv1.ContactRestoreStatus{VerifiedTime: toTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)), Snapshot: "s"}}, ready: ocsv1.ReasonRestoringContacts, status: "False", extra: "Reconciling"},
		"completed with failures":            {cr: ocsv1.ContactRestore{Status: ocsv1.ContactRestoreStatus{Users: ocsv1.RestoreCounts{Targeted: 2, Failed: 1}, FailedUsers: []ocsv1.RestoreFailure{{User: "sip:a@x", Reason: "r"}}}}, rep: restoreReport{completed: true}, ready: ocsv1.ReasonRestoreCompleted, status: "True", extra: "Degraded"},
		"a dry run":                          {cr: ocsv1.ContactRestore{Spec: ocsv1.RestoreRequestSpec{DryRun: true}, Status: ocsv1.ContactRestoreStatus{DryRun: []ocsv1.RestorePreview{{Server: "ocs1", Users: 3, UsersToRestore: 1, Contacts: 4}}}}, rep: restoreReport{completed: true}, ready: ocsv1.ReasonDryRunCompleted, status: "True"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cr := tt.cr.DeepCopy()
			applyRestoreStatus(cr, &tt.rep)
			for _, c := range cr.Status.Conditions {
				if c.Type == ocsv1.ConditionReady && (c.Reason != tt.ready || string(c.Status) != tt.status) {
					t.Errorf("Ready = %s %s (%s), want %s %s", c.Status, c.Reason, c.Message, tt.status, tt.ready)
				}
				if c.Type == tt.extra && c.Status != "True" {
					t.Errorf("%s = %s, want True", c.Type, c.Status)
				}
			}
			if len(cr.Status.Conditions) != 4 {
				t.Errorf("conditions = %v, want all four owned ones", cr.Status.Conditions)
			}
			if tt.cr.Spec.DryRun && !strings.Contains(conditionsString(cr.Status.Conditions), "ocs1: 1 of 3 users would gain 4 contacts") {
				t.Errorf("dry-run message lacks the counts: %s", conditionsString(cr.Status.Conditions))
			}
		})
	}
}
