package host

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

func TestNewWorldSpreadsUsersAndContacts(t *testing.T) {
	w := newTestWorld(t, 10, 4)
	servers := w.Servers()
	if len(servers) != 2 || servers[0].HomedUsers != 5 || servers[1].HomedUsers != 5 ||
		servers[0].FQDN != "ocs1.corp.example.com" || servers[0].State != StateUp {
		t.Fatalf("servers: %+v", servers)
	}
	users := w.Users()
	if len(users) != 10 || users[0].SIP != "sip:user0001@corp.example.com" || users[0].Home != "ocs1" || users[1].Home != "ocs2" {
		t.Fatalf("users: %+v", users[:2])
	}
	for _, u := range users {
		if u.Contacts != 4 {
			t.Errorf("%s has %d contacts, want 4", u.SIP, u.Contacts)
		}
		r, ok := w.UserContacts(u.SIP)
		if !ok || r.Groups[0].DisplayName != "fg==" || len(r.Groups) > 3 {
			t.Errorf("%s groups: %+v", u.SIP, r.Groups)
		}
		for _, c := range r.Contacts {
			if c.Buddy == r.UserAtHost {
				t.Errorf("%s lists itself", u.SIP)
			}
		}
	}
	again := newTestWorld(t, 10, 4)
	a, _ := w.UserContacts("user0003@corp.example.com")
	b, _ := again.UserContacts("sip:user0003@corp.example.com")
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different contact lists")
	}
}

func TestAdminMutations(t *testing.T) {
	w := newTestWorld(t, 2, 1)
	if err := w.AddUser("sip:new.user@corp.example.com", "ocs2"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddUser("sip:new.user@corp.example.com", "ocs2"); err == nil {
		t.Error("duplicate user accepted")
	}
	if err := w.AddUser("sip:x@corp.example.com", "nope"); err == nil {
		t.Error("unknown server accepted")
	}
	if err := w.AddUser("sip:o'brien@corp.example.com", "ocs1"); err != nil {
		t.Errorf("a directory holds addresses with an apostrophe: %v", err)
	}
	for _, bad := range []string{"sip:with space@corp.example.com", "sip:a@b@c", "sip:new\nline@corp.example.com"} {
		if err := w.AddUser(bad, "ocs1"); err == nil {
			t.Errorf("invalid SIP %q accepted", bad)
		}
	}
	r := contacts.Resource{Contacts: []contacts.Contact{{Buddy: "user0001@corp.example.com", SubscribePresence: true, Groups: []int{1}}}}
	if err := w.SetContacts("sip:new.user@corp.example.com", r); err != nil {
		t.Fatal(err)
	}
	got, ok := w.UserContacts("new.user@corp.example.com")
	if !ok || got.Count() != 1 || got.UserAtHost != "new.user@corp.example.com" {
		t.Errorf("contacts: %+v", got)
	}
	if err := w.SetState("ocs1", "bogus"); err == nil {
		t.Error("bogus state accepted")
	}
	if err := w.SetContacts("sip:none@corp.example.com", r); err == nil {
		t.Error("unknown user accepted")
	}
}

// TestPowerShellSleepsWithConfiguredSleep checks that Start-Sleep of the servers' powershell.exe
// waits through Config.Sleep.
func TestPowerShellSleepsWithConfiguredSleep(t *testing.T) {
	var slept []time.Duration
	w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}}, Sleep: func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := runProg(t, w, "ocs1", "powershell", []string{"Write-Host hi; Start-Sleep 30; Write-Host hi again"}, "")
	if r.code != 0 || r.stdout != "hi\nhi again\n" || len(slept) != 1 || slept[0] != 30*time.Second {
		t.Errorf("got %+v, slept %v", r, slept)
	}
}
