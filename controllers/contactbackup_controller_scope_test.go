package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/backup"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

func TestDecideBackupScope(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := &backup.Manifest{Name: "p", Time: t0, Servers: []backup.ServerEntry{{Name: "ocs1"}, {Name: "ocs2"}}}
	prevUsers := map[string]backup.UserEntry{
		"sip:a@x": {Server: "ocs1"}, "sip:b@x": {Server: "ocs2"}, "sip:gone@x": {Server: "ocs1"},
	}
	dir := []ocs.HomedUser{{SIP: "sip:a@x", Server: "ocs1"}, {SIP: "sip:B@x", Server: "ocs1"}, {SIP: "sip:new@x", Server: "ocs2"}, {SIP: "sip:out@x"}}
	base := func() backupScopeInput {
		return backupScopeInput{FullEvery: time.Hour, Now: t0.Add(time.Minute), Previous: prev, PreviousUsers: prevUsers, Directory: dir, Serving: []string{"ocs1", "ocs2"}}
	}
	many := base()
	for i := range maxIncrementalPerServer + 1 {
		many.Directory = append(many.Directory, ocs.HomedUser{SIP: fmt.Sprintf("sip:n%d@x", i), Server: "ocs1"})
	}
	incrementalOfFull := &backup.Manifest{Name: "q", Time: t0.Add(50 * time.Minute), Coverage: &backup.Coverage{FullTime: t0}}
	tests := map[string]struct {
		in         func(backupScopeInput) backupScopeInput
		wantFull   bool
		wantExport map[string]int
	}{
		"off by default":           {in: func(i backupScopeInput) backupScopeInput { i.FullEvery = 0; return i }, wantFull: true},
		"no previous snapshot":     {in: func(i backupScopeInput) backupScopeInput { i.Previous = nil; return i }, wantFull: true},
		"the last full is too old": {in: func(i backupScopeInput) backupScopeInput { i.Now = t0.Add(time.Hour); return i }, wantFull: true},
		"an incremental chain's full": {in: func(i backupScopeInput) backupScopeInput {
			i.Previous, i.Now = incrementalOfFull, t0.Add(61*time.Minute)
			return i
		}, wantFull: true},
		"a server was skipped": {in: func(i backupScopeInput) backupScopeInput {
			i.Previous = &backup.Manifest{Time: t0, Servers: []backup.ServerEntry{{Name: "ocs2", Skipped: true}}}
			return i
		}, wantFull: true},
		"a server homing users is not exported": {in: func(i backupScopeInput) backupScopeInput { i.Serving = []string{"ocs1"}; return i }, wantFull: true},
		"too many changes":                      {in: func(backupScopeInput) backupScopeInput { return many }, wantFull: true},
		"moved and added users only":            {in: func(i backupScopeInput) backupScopeInput { return i }, wantExport: map[string]int{"ocs1": 1, "ocs2": 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := decideBackupScope(tc.in(base()))
			if got.Full != tc.wantFull {
				t.Fatalf("full = %v (%s), want %v", got.Full, got.Reason, tc.wantFull)
			}
			if got.Full {
				return
			}
			for s, n := range tc.wantExport {
				if len(got.Export[s]) != n {
					t.Fatalf("export on %s = %v, want %d users", s, got.Export[s], n)
				}
			}
			if !got.Keep["sip:a@x"] || got.Keep["sip:b@x"] || got.Keep["sip:gone@x"] || len(got.Keep) != 1 {
				t.Fatalf("keep = %v, want only the unmoved sip:a@x", got.Keep)
			}
		})
	}
}
