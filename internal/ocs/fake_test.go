package ocs

import (
	"context"
	"errors"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

func TestFakeMoves(t *testing.T) {
	ctx := context.Background()
	list := []contacts.Contact{{Buddy: "b@corp.example.com", SubscribePresence: true}}
	tests := map[string]struct {
		prepare  func(f *Fake)
		via      string
		force    bool
		wantErr  error
		wantOK   bool
		wantHome string
		// wantContactsOn is where the user's contacts end up.
		wantContactsOn string
	}{
		"a planned move carries the contacts": {via: "ocs2", wantOK: true, wantHome: "ocs2", wantContactsOn: "ocs2"},
		"a planned move from a down source is refused": {
			prepare: func(f *Fake) { f.SetDown("ocs1", true) }, via: "ocs2", wantHome: "ocs1", wantContactsOn: "ocs1",
		},
		"a planned move from a stopped source is refused": {
			prepare: func(f *Fake) { f.SetService("ocs1", DefaultService, StateStopped) }, via: "ocs2", wantHome: "ocs1", wantContactsOn: "ocs1",
		},
		"a forced move leaves the contacts behind": {
			prepare: func(f *Fake) { f.SetDown("ocs1", true) }, via: "ocs2", force: true, wantOK: true, wantHome: "ocs2", wantContactsOn: "ocs1",
		},
		"a move through a down server is unreachable": {
			prepare: func(f *Fake) { f.SetDown("ocs1", true) }, via: "ocs1", wantErr: ErrUnreachable, wantHome: "ocs1", wantContactsOn: "ocs1",
		},
		"an injected user failure is reported": {
			prepare: func(f *Fake) { f.FailUser("sip:a@corp.example.com", "boom") }, via: "ocs2", wantHome: "ocs1", wantContactsOn: "ocs1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := NewFake("ocs1", "ocs2")
			f.AddUser("sip:a@corp.example.com", "ocs1", list...)
			if tc.prepare != nil {
				tc.prepare(f)
			}
			res, err := f.MoveUsers(ctx, tc.via, []string{"sip:a@corp.example.com"}, "ocs2", tc.force)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (len(res) != 1 || res[0].OK != tc.wantOK) {
				t.Fatalf("results %+v, want OK=%v", res, tc.wantOK)
			}
			if home, _ := f.Home("sip:a@corp.example.com"); home != tc.wantHome {
				t.Fatalf("home %q, want %q", home, tc.wantHome)
			}
			if r, ok := f.StoredContacts(tc.wantContactsOn, "sip:a@corp.example.com"); !ok || r.Count() != 1 {
				t.Fatalf("contacts not on %s", tc.wantContactsOn)
			}
			if f.Calls(OpMoveUsers) != 1 {
				t.Fatalf("calls = %d", f.Calls(OpMoveUsers))
			}
		})
	}
}

func TestFakeExportImportHealth(t *testing.T) {
	ctx := context.Background()
	f := NewFake("ocs1", "ocs2")
	f.AddUser("sip:a@corp.example.com", "ocs1", contacts.Contact{Buddy: "x@corp.example.com"})
	f.AddUser("sip:b@corp.example.com", "ocs2")
	doc, err := f.ExportContacts(ctx, "ocs1", nil)
	if err != nil || len(doc.Resources) != 1 || doc.Resources[0].UserAtHost != "a@corp.example.com" {
		t.Fatalf("export: %+v, %v", doc, err)
	}
	doc.Resources = append(doc.Resources, contacts.Resource{UserAtHost: "b@corp.example.com"})
	res, err := f.ImportContacts(ctx, "ocs1", doc)
	if err != nil || len(res) != 2 || !res[0].OK || res[1].OK {
		t.Fatalf("import: %+v, %v", res, err)
	}
	f.SetService("ocs2", DefaultService, StateStopped)
	st, err := f.ServiceHealth(ctx, "ocs2", []string{DefaultService, "Nope"})
	if err != nil || st[0].Running || st[0].State != StateStopped || st[1].State != StateNotFound {
		t.Fatalf("health: %+v, %v", st, err)
	}
	users, err := f.ListHomedUsers(ctx, "ocs1", "ocs2")
	if err != nil || len(users) != 1 || users[0].SIP != "sip:b@corp.example.com" {
		t.Fatalf("list: %+v, %v", users, err)
	}
	boom := errors.New("boom")
	f.FailOperation(OpListUsers, boom)
	if _, err := f.ListUsers(ctx, "ocs1"); !errors.Is(err, boom) {
		t.Fatalf("injected error: %v", err)
	}
}

func TestFakeHookChangesTheWorldMidSequence(t *testing.T) {
	ctx := context.Background()
	f := NewFake("ocs1", "ocs2")
	f.AddUser("sip:a@corp.example.com", "ocs1", contacts.Contact{Buddy: "x@corp.example.com"})
	f.Hook = func(op, server string) error {
		if op == OpMoveUsers {
			f.SetDown("ocs1", true)
		}
		return nil
	}
	res, err := f.MoveUsers(ctx, "ocs2", []string{"sip:a@corp.example.com"}, "ocs2", false)
	if err != nil || res[0].OK {
		t.Fatalf("a planned move after the hook crashed the source: %+v, %v", res, err)
	}
	if got := f.UsersOn("ocs1"); len(got) != 1 {
		t.Fatalf("UsersOn = %v", got)
	}
	boom := errors.New("boom")
	f.Hook = func(string, string) error { return boom }
	if _, err := f.ExportConfiguration(ctx, "ocs2"); !errors.Is(err, boom) {
		t.Fatalf("hook error: %v", err)
	}
}
