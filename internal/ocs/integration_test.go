package ocs_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// These tests drive the real agent over real WinRM against the emulator.

var products = []ocs.Product{ocs.ProductOCS2007R2, ocs.ProductSkypeForBusiness}

type env struct {
	t     *testing.T
	sim   *sim.Emulator
	pool  *winrm.Pool
	agent ocs.Agent
}

// startEnv starts an emulator and an agent whose Skype for Business scripts each run in a
// powershell.exe of their own, so that the command lines show every script (warm_test.go keeps
// persistent ones).
func startEnv(t *testing.T, product ocs.Product, users, contactsPerUser int, tls bool, opts ...func(*sim.Config)) *env {
	t.Helper()
	return startEnvIdle(t, product, users, contactsPerUser, tls, -1, opts...)
}

// startEnvIdle is startEnv with the transport's PowerShellIdle.
func startEnvIdle(t *testing.T, product ocs.Product, users, contactsPerUser int, tls bool, psIdle time.Duration, opts ...func(*sim.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := sim.Config{
		Servers: []string{"ocs1", "ocs2"}, Users: users, ContactsPerUser: contactsPerUser,
		Admin: "127.0.0.1:0", BasePort: 0, TLS: tls, Seed: 1, Product: string(product),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := sim.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	t.Cleanup(e.Close)
	pool := winrm.NewPool(winrm.Options{MaxConcurrent: 2, Backoff: 10 * time.Millisecond, PowerShellIdle: psIdle})
	t.Cleanup(pool.Close)
	var targets []winrm.Target
	var servers []ocs.Server
	for _, name := range []string{"ocs1", "ocs2"} {
		targets = append(targets, winrm.Target{Server: name, Endpoint: e.Endpoint(name), Username: sim.DefaultUsername, Password: sim.DefaultPassword, CACert: e.CACertPEM(),
			AllowUnencryptedBasic: !tls})
		servers = append(servers, ocs.Server{Name: name, FQDN: name + ".corp.example.com"})
	}
	if err := pool.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	a, err := ocs.NewAgent(product, servers, pool)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, sim: e, pool: pool, agent: a}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) admin(action, server string) {
	e.t.Helper()
	resp, err := http.Post(e.sim.AdminURL()+"/servers/"+server+"/"+action, "application/json", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("POST %s %s: %s", server, action, resp.Status)
	}
}

func (e *env) homes() map[string]string {
	out := map[string]string{}
	for _, u := range e.sim.World().Users() {
		out[strings.ToLower(u.SIP)] = u.Home
	}
	return out
}

func (e *env) homedOn(server string) []string {
	var out []string
	for _, u := range e.sim.World().Users() {
		if u.Home == server {
			out = append(out, u.SIP)
		}
	}
	sort.Strings(out)
	return out
}

// scripts decodes the PowerShell parts of every command a server ran.
func scripts(t *testing.T, line string) []string {
	var out []string
	for _, part := range strings.Split(line, "-EncodedCommand ")[1:] {
		enc, _, _ := strings.Cut(part, " ")
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("bad EncodedCommand in %q", line)
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		out = append(out, string(utf16.Decode(u)))
	}
	return out
}

func (e *env) commands(match string) int {
	n := 0
	for _, s := range []string{"ocs1", "ocs2"} {
		for _, line := range e.sim.Commands(s) {
			if strings.Contains(line, match) || strings.Contains(strings.Join(scripts(e.t, line), "\n"), match) {
				n++
			}
		}
	}
	return n
}

func TestEmulatorEveryOperation(t *testing.T) {
	for _, product := range products {
		for _, tls := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tls=%v", product, tls), func(t *testing.T) {
				e := startEnv(t, product, 20, 3, tls)
				ctx := testCtx(t)

				st, err := e.agent.ServiceHealth(ctx, "ocs1", []string{"RtcSrv", "NoSuchService"})
				if err != nil {
					t.Fatalf("ServiceHealth: %v", err)
				}
				if !st[0].Running || st[1].State != ocs.StateNotFound {
					t.Fatalf("ServiceHealth: %+v", st)
				}

				users, err := e.agent.ListUsers(ctx, "ocs2")
				if err != nil {
					t.Fatalf("ListUsers: %v", err)
				}
				if len(users) != 20 {
					t.Fatalf("ListUsers: %d users, want 20", len(users))
				}
				homes := e.homes()
				for _, u := range users {
					if homes[strings.ToLower(u.SIP)] != u.Server {
						t.Fatalf("ListUsers: %s on %q, emulator says %q", u.SIP, u.Server, homes[strings.ToLower(u.SIP)])
					}
				}
				homed, err := e.agent.ListHomedUsers(ctx, "ocs2", "ocs1")
				if err != nil {
					t.Fatalf("ListHomedUsers: %v", err)
				}
				if len(homed) != len(e.homedOn("ocs1")) {
					t.Fatalf("ListHomedUsers: %d, want %d", len(homed), len(e.homedOn("ocs1")))
				}

				before, err := e.agent.ExportContacts(ctx, "ocs1", nil)
				if err != nil {
					t.Fatalf("ExportContacts: %v", err)
				}
				if len(before.Resources) != len(homed) {
					t.Fatalf("ExportContacts: %d resources, want %d", len(before.Resources), len(homed))
				}

				move := e.homedOn("ocs1")[:3]
				res, err := e.agent.MoveUsers(ctx, "ocs2", move, "ocs2", false)
				if err != nil {
					t.Fatalf("MoveUsers: %v", err)
				}
				for _, r := range res {
					if !r.OK {
						t.Fatalf("MoveUsers: %+v", r)
					}
				}
				for _, u := range move {
					if e.homes()[strings.ToLower(u)] != "ocs2" {
						t.Fatalf("%s not moved", u)
					}
					if r, ok := e.sim.World().UserContacts(u); !ok || r.Count() != 3 {
						t.Fatalf("planned move lost contacts of %s: %+v", u, r)
					}
				}

				one := &contacts.Document{Resources: []contacts.Resource{{
					UserAtHost: strings.TrimPrefix(move[0], "sip:"),
					Groups:     []contacts.Group{{Number: 1, DisplayName: "fg=="}},
					Contacts:   []contacts.Contact{{Buddy: "someone@corp.example.com", SubscribePresence: true, Groups: []int{1}}},
				}}}
				ir, err := e.agent.ImportContacts(ctx, "ocs2", one)
				if err != nil {
					t.Fatalf("ImportContacts: %v", err)
				}
				if len(ir) != 1 || !ir[0].OK {
					t.Fatalf("ImportContacts: %+v", ir)
				}
				if r, _ := e.sim.World().UserContacts(move[0]); r.Count() < 1 {
					t.Fatalf("import not applied: %+v", r)
				}

				files, err := e.agent.ExportConfiguration(ctx, "ocs1")
				if err != nil {
					t.Fatalf("ExportConfiguration: %v", err)
				}
				if len(files) == 0 || len(files[0].Data) == 0 {
					t.Fatalf("ExportConfiguration: %+v", files)
				}
			})
		}
	}
}

func TestEmulatorBatchWithFailures(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 1000, 1, false)
			ctx := testCtx(t)
			batch := e.homedOn("ocs1")[:497]
			ghosts := []string{"sip:ghost1@corp.example.com", "sip:ghost2@corp.example.com", "sip:ghost3@corp.example.com"}
			batch = append(batch[:100], append(ghosts, batch[100:]...)...)
			res, err := e.agent.MoveUsers(ctx, "ocs1", batch, "ocs2", false)
			if err != nil {
				t.Fatal(err)
			}
			homes := e.homes()
			failed := 0
			for i, r := range res {
				if r.SIP != batch[i] {
					t.Fatalf("result %d is for %s, want %s", i, r.SIP, batch[i])
				}
				if !r.OK {
					failed++
					if !strings.HasPrefix(r.SIP, "sip:ghost") || r.Message == "" {
						t.Fatalf("unexpected failure %+v", r)
					}
					continue
				}
				if homes[strings.ToLower(r.SIP)] != "ocs2" {
					t.Fatalf("%s reported moved but homed on %q", r.SIP, homes[strings.ToLower(r.SIP)])
				}
			}
			if failed != 3 {
				t.Fatalf("%d failures, want 3", failed)
			}
			if n := e.commands(`"OK"`); n != 1 {
				t.Fatalf("%d move commands, want 1", n)
			}
		})
	}
}

func TestEmulatorMovesWhileTheSourceIsDown(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 20, 4, false)
			ctx := testCtx(t)
			victims := e.homedOn("ocs1")
			e.admin("crash", "ocs1")

			if _, err := e.agent.ServiceHealth(ctx, "ocs1", nil); !isUnreachable(err) {
				t.Fatalf("health of a crashed server: %v", err)
			}
			res, err := e.agent.MoveUsers(ctx, "ocs2", victims, "ocs2", false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.OK || r.Message == "" {
					t.Fatalf("planned move from a crashed server: %+v", r)
				}
			}
			for _, u := range victims {
				if e.homes()[strings.ToLower(u)] != "ocs1" {
					t.Fatalf("%s moved by a refused planned move", u)
				}
			}

			res, err = e.agent.MoveUsers(ctx, "ocs2", victims, "ocs2", true)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if !r.OK {
					t.Fatalf("forced move: %+v", r)
				}
			}
			for _, u := range victims {
				if e.homes()[strings.ToLower(u)] != "ocs2" {
					t.Fatalf("%s not force-moved", u)
				}
				if r, ok := e.sim.World().UserContacts(u); ok && r.Count() != 0 {
					t.Fatalf("forced move kept %d contacts of %s", r.Count(), u)
				}
			}
		})
	}
}

func isUnreachable(err error) bool {
	return errors.Is(err, ocs.ErrUnreachable)
}

func TestEmulatorExportImportRoundTrip(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 2000, 5, false)
			ctx := testCtx(t)
			doc, err := e.agent.ExportContacts(ctx, "ocs1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Resources) != 1000 {
				t.Fatalf("exported %d users, want 1000", len(doc.Resources))
			}
			for _, r := range doc.Resources {
				if err := e.sim.World().SetContacts("sip:"+r.UserAtHost, contacts.Resource{UserAtHost: r.UserAtHost}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := e.agent.ImportContacts(ctx, "ocs1", doc)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if !r.OK {
					t.Fatalf("import: %+v", r)
				}
			}
			again, err := e.agent.ExportContacts(ctx, "ocs1", nil)
			if err != nil {
				t.Fatal(err)
			}
			byUser := map[string]contacts.Resource{}
			for _, r := range again.Resources {
				byUser[r.UserAtHost] = r
			}
			for _, want := range doc.Resources {
				got := byUser[want.UserAtHost]
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round trip of %s:\n got %+v\nwant %+v", want.UserAtHost, got, want)
				}
			}
		})
	}
}

func TestEmulatorHostileAddresses(t *testing.T) {
	hostile := []string{
		"sip:o'neil@corp.example.com", `sip:dq"x@corp.example.com`, "sip:semi;colon@corp.example.com",
		"sip:$(calc)@corp.example.com", "sip:back`tick@corp.example.com", "sip:amp&ersand@corp.example.com",
		"sip:50%off@corp.example.com", "sip:with space@corp.example.com", "sip:%TEMP%@corp.example.com",
	}
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 4, 1, false)
			ctx := testCtx(t)
			inDirectory := map[string]bool{}
			for _, u := range hostile {
				// The directory may refuse some of these names itself; either way they must not reach a script.
				inDirectory[u] = e.sim.World().AddUser(u, "ocs1") == nil
			}
			// Hostile names coming back from the directory must parse too.
			listed, err := e.agent.ListUsers(ctx, "ocs1")
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, u := range listed {
				seen[u.SIP] = true
			}
			for u, ok := range inDirectory {
				if ok && !seen[u] {
					t.Fatalf("ListUsers lost %q", u)
				}
			}
			res, err := e.agent.MoveUsers(ctx, "ocs1", hostile, "ocs2", false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				valid := ocs.ValidateSIP(r.SIP) == nil
				if !valid && r.OK {
					t.Fatalf("invalid address reported moved: %+v", r)
				}
				if valid && inDirectory[r.SIP] && (!r.OK || e.homes()[strings.ToLower(r.SIP)] != "ocs2") {
					t.Fatalf("valid address %s not moved: %+v", r.SIP, r)
				}
				if !valid && !strings.Contains(r.Message, "not a valid SIP address") {
					t.Fatalf("invalid address %s failed for another reason: %+v", r.SIP, r)
				}
			}
			for _, u := range []string{"sip:o'neil@corp.example.com", `sip:dq"x@corp.example.com`, "sip:amp&ersand@corp.example.com"} {
				if !inDirectory[u] {
					t.Fatalf("the emulator refused %s, which a directory can hold", u)
				}
			}
			if ocs.ValidateSIP("sip:o'neil@corp.example.com") != nil {
				t.Fatal("an address with an apostrophe is refused")
			}
			if !inDirectory["sip:50%off@corp.example.com"] {
				t.Fatal("the emulator refused a valid address with %")
			}
			allowed := []string{"powershell.exe -NoProfile -NonInteractive -EncodedCommand ", "sc query ", "echo "}
			// Read the audit trail through the admin API, as an operator would.
			resp, err := http.Get(e.sim.AdminURL() + "/commands")
			if err != nil {
				t.Fatal(err)
			}
			var audit map[string][]string
			err = json.NewDecoder(resp.Body).Decode(&audit)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(audit["ocs1"]) == 0 {
				t.Fatal("GET /commands shows no command on ocs1")
			}
			echo := regexp.MustCompile(`^echo [A-Za-z0-9+/=]+ >> "%TEMP%\\ocsha-[0-9a-f]{16}\.b64"( && powershell\.exe |$)`)
			for s, lines := range audit {
				for _, line := range lines {
					if strings.HasPrefix(line, "echo ") && !echo.MatchString(line) {
						t.Fatalf("an upload line carries more than base64: %.120q", line)
					}
					okPrefix := false
					for _, p := range allowed {
						okPrefix = okPrefix || strings.HasPrefix(line, p)
					}
					if !okPrefix {
						t.Fatalf("unexpected command on %s: %q", s, line)
					}
					text := line + "\n" + strings.Join(scripts(t, line), "\n")
					for _, u := range hostile {
						if strings.Contains(text, strings.TrimPrefix(u, "sip:")) {
							t.Fatalf("address %q reached a command line or script on %s", u, s)
						}
					}
				}
			}
		})
	}
}

func TestEmulatorRoundTripCounts(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			// 1,000 users swap homes: each server's 500 move to the other.
			e := startEnv(t, product, 1000, 1, false)
			ctx := testCtx(t)
			const batch = 100
			moved := 0
			lists := map[string][]string{"ocs1": e.homedOn("ocs1"), "ocs2": e.homedOn("ocs2")}
			for _, swap := range [][2]string{{"ocs1", "ocs2"}, {"ocs2", "ocs1"}} {
				users := lists[swap[0]]
				for i := 0; i < len(users); i += batch {
					res, err := e.agent.MoveUsers(ctx, swap[1], users[i:min(i+batch, len(users))], swap[1], false)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range res {
						if !r.OK {
							t.Fatalf("move: %+v", r)
						}
						moved++
					}
				}
			}
			if moved != 1000 {
				t.Fatalf("moved %d users, want 1000", moved)
			}
			if n := e.commands(`"OK"`); n > 10 {
				t.Fatalf("moving %d users in batches of %d took %d move commands, want <= 10", moved, batch, n)
			}
			// An export costs the same number of commands whatever the user count.
			count := func() int { return len(e.sim.Commands("ocs2")) + len(e.sim.Commands("ocs1")) }
			start := count()
			if _, err := e.agent.ExportContacts(ctx, "ocs2", nil); err != nil {
				t.Fatal(err)
			}
			if n := count() - start; n != 1 {
				t.Fatalf("export of %d users took %d commands, want 1", len(e.homedOn("ocs2")), n)
			}
		})
	}
}

func TestEmulatorToolPaths(t *testing.T) {
	e := startEnv(t, ocs.ProductOCS2007R2, 10, 2, false, func(c *sim.Config) {
		c.ServerProfiles = map[string]sim.Profile{"ocs2": {MissingTools: []string{"dbimpexp", "lcscmd"}}}
	})
	ctx := testCtx(t)
	if _, err := e.agent.ExportContacts(ctx, "ocs1", nil); err != nil {
		t.Fatalf("export with the tool at its default path: %v", err)
	}
	_, err := e.agent.ExportContacts(ctx, "ocs2", nil)
	var ce *ocs.CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, `DBImpExp.exe is not at C:\Program Files\Common Files\Microsoft Office Communications Server 2007 R2\Support\DBImpExp.exe; install it there or set spec.tools.dbimpexpPath.`) {
		t.Fatalf("export without the tool: %v", err)
	}
	if _, err := e.agent.ExportConfiguration(ctx, "ocs2"); err == nil || !strings.Contains(err.Error(), "spec.tools.lcscmdPath") {
		t.Fatalf("configuration export without lcscmd: %v", err)
	}
	for _, line := range append(e.sim.Commands("ocs1"), e.sim.Commands("ocs2")...) {
		if strings.Contains(strings.ToLower(line+strings.Join(scripts(t, line), "\n")), "dbimpexp.exe /") {
			t.Fatalf("a tool ran by its bare name: %q", line)
		}
	}
}

// TestEmulatorLongDNsSurviveTheConsoleWidth lists users whose home DN is longer than the 80
// columns at which the emulated PowerShell 2.0 console wraps: unframed, the CSV row comes back
// with a line break inside the DN; through the agent, every user maps to its home.
func TestEmulatorLongDNsSurviveTheConsoleWidth(t *testing.T) {
	e := startEnv(t, ocs.ProductOCS2007R2, 30, 1, false)
	ctx := testCtx(t)
	raw := "Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting | Select-Object PrimaryURI,HomeServerDN | ConvertTo-Csv -NoTypeInformation"
	res, err := e.pool.Run(ctx, "ocs1", "powershell.exe -NoProfile -NonInteractive -EncodedCommand "+encodeScript(raw), []byte{})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("raw listing: %v %+v", err, res)
	}
	first := strings.Split(string(res.Stdout), "\r\n")[1]
	if len(first) != 80 || !strings.HasPrefix(first, `"sip:user0001@corp.example.com","CN=LC Services`) {
		t.Fatalf("the emulator did not wrap the DN at 80 columns: %q", first)
	}
	users, err := e.agent.ListUsers(ctx, "ocs1")
	if err != nil || len(users) != 30 {
		t.Fatalf("ListUsers: %d users, %v", len(users), err)
	}
	homes := e.homes()
	for _, u := range users {
		if u.Server == "" || homes[strings.ToLower(u.SIP)] != u.Server {
			t.Fatalf("%s mapped to %q, emulator says %q", u.SIP, u.Server, homes[strings.ToLower(u.SIP)])
		}
	}
	homed, err := e.agent.ListHomedUsers(ctx, "ocs1", "ocs2")
	if err != nil || len(homed) != 15 {
		t.Fatalf("ListHomedUsers: %d, %v", len(homed), err)
	}
}

func encodeScript(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestEmulatorImportMergesIntoExistingLists restores onto a user who already has contacts:
// the import merges, so the user ends with the union, once each; a user not homed on the server
// is reported failed by the read-back, the others are not held back.
func TestEmulatorImportMergesIntoExistingLists(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 10, 0, false)
			ctx := testCtx(t)
			user := e.homedOn("ocs1")[0]
			elsewhere := e.homedOn("ocs2")[0]
			at := strings.TrimPrefix(user, "sip:")
			existing := contacts.Resource{UserAtHost: at,
				Groups:   []contacts.Group{{Number: 1, DisplayName: "fg=="}},
				Contacts: []contacts.Contact{{Buddy: "new@corp.example.com", SubscribePresence: true, Groups: []int{1}}, {Buddy: "both@corp.example.com", SubscribePresence: true, Groups: []int{1}}},
			}
			if err := e.sim.World().SetContacts(user, existing); err != nil {
				t.Fatal(err)
			}
			backup := contacts.Resource{UserAtHost: at,
				Groups:     []contacts.Group{{Number: 1, DisplayName: "fg=="}, {Number: 2, DisplayName: "T3Bz"}},
				Contacts:   []contacts.Contact{{Buddy: "both@corp.example.com", SubscribePresence: true, Groups: []int{1}}, {Buddy: "old@corp.example.com", SubscribePresence: true, Groups: []int{2}}},
				Containers: []contacts.Container{{Number: contacts.ContainerColleagues, Members: []string{"sip:old@corp.example.com"}}},
			}
			stray := contacts.Resource{UserAtHost: strings.TrimPrefix(elsewhere, "sip:"), Contacts: []contacts.Contact{{Buddy: "x@corp.example.com", SubscribePresence: true}}}
			res, err := e.agent.ImportContacts(ctx, "ocs1", &contacts.Document{Resources: []contacts.Resource{backup, stray}})
			if err != nil {
				t.Fatal(err)
			}
			if !res[0].OK || res[1].OK || !strings.Contains(res[1].Message, "not verified") {
				t.Fatalf("results %+v", res)
			}
			got, _ := e.sim.World().UserContacts(user)
			var buddies []string
			for _, c := range got.Contacts {
				buddies = append(buddies, c.Buddy)
			}
			if strings.Join(buddies, ",") != "new@corp.example.com,both@corp.example.com,old@corp.example.com" || len(got.Groups) != 2 || len(got.Containers) != 1 {
				t.Fatalf("after the restore: %+v", got)
			}
			// Restoring again (a retried batch) adds nothing.
			if res, err := e.agent.ImportContacts(ctx, "ocs1", &contacts.Document{Resources: []contacts.Resource{backup}}); err != nil || !res[0].OK {
				t.Fatalf("second restore: %+v, %v", res, err)
			}
			if again, _ := e.sim.World().UserContacts(user); !reflect.DeepEqual(again, got) {
				t.Fatalf("a second restore changed the list:\n%+v\n%+v", again, got)
			}
			// dbimpexp imports only the users homed on its server; Update-CsUserData finds a user
			// wherever homed, but the read-back through this pool cannot confirm it either way.
			if r, _ := e.sim.World().UserContacts(elsewhere); product == ocs.ProductOCS2007R2 && r.Count() != 0 {
				t.Fatalf("the stray user was changed: %+v", r)
			}
		})
	}
}

// TestEmulatorHealthOfOtherServices: IIS and SQL Server are probed with sc query on both
// products; Get-CsWindowsService would not know them.
func TestEmulatorHealthOfOtherServices(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 2, 0, false)
			st, err := e.agent.ServiceHealth(testCtx(t), "ocs1", []string{"W3SVC", "RtcSrv", "MSSQL$RTC", "RTCNOPE"})
			if err != nil {
				t.Fatal(err)
			}
			if !st[0].Running || !st[1].Running || !st[2].Running || st[3].State != ocs.StateNotFound {
				t.Fatalf("health %+v", st)
			}
		})
	}
}

// TestEmulatorMoveLag: the directory shows a moved user's new home only after a lag; the agent
// re-reads until it does, and reports the move failed when the lag outlasts its reads.
func TestEmulatorMoveLag(t *testing.T) {
	for _, product := range products {
		t.Run(string(product), func(t *testing.T) {
			e := startEnv(t, product, 6, 1, false, func(c *sim.Config) { c.MoveLag = 400 * time.Millisecond })
			ctx := testCtx(t)
			users := e.homedOn("ocs1")
			res, err := e.agent.MoveUsers(ctx, "ocs2", users[:2], "ocs2", false)
			if err != nil || !res[0].OK || !res[1].OK {
				t.Fatalf("moves within the re-reads: %+v, %v", res, err)
			}
			servers := []ocs.Server{{Name: "ocs1", FQDN: "ocs1.corp.example.com"}, {Name: "ocs2", FQDN: "ocs2.corp.example.com"}}
			impatient, err := ocs.NewAgent(product, servers, e.pool, ocs.WithMoveConfirmation(1, nil))
			if err != nil {
				t.Fatal(err)
			}
			res, err = impatient.MoveUsers(ctx, "ocs2", users[2:], "ocs2", false)
			if err != nil || res[0].OK || !strings.Contains(res[0].Message, "still shows the user on ocs1") {
				t.Fatalf("a move the directory does not show yet: %+v, %v", res, err)
			}
			if e.homes()[strings.ToLower(users[2])] != "ocs2" {
				t.Fatal("the move itself did not run")
			}
		})
	}
}
