package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/masterzen/winrm"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
)

// stubWorld is a minimal deployment for tests that are about the protocol, not OCS.
type stubWorld struct {
	mu       sync.Mutex
	states   map[string]string
	homes    map[string]string
	contacts map[string]contacts.Resource
	servers  []ServerSpec
}

func newStubWorld(wc WorldConfig) (World, error) {
	w := &stubWorld{states: map[string]string{}, homes: map[string]string{}, contacts: map[string]contacts.Resource{}, servers: wc.Servers}
	for _, s := range wc.Servers {
		w.states[s.Name] = StateUp
	}
	for i := range wc.Users {
		sip := fmt.Sprintf("sip:user%04d@%s", i+1, wc.Domain)
		w.homes[sip] = wc.Servers[i%len(wc.Servers)].Name
		r := contacts.Resource{UserAtHost: strings.TrimPrefix(sip, "sip:")}
		for j := range wc.ContactsPerUser {
			r.Contacts = append(r.Contacts, contacts.Contact{Buddy: fmt.Sprintf("c%d@%s", j, wc.Domain), Groups: []int{1}})
		}
		w.contacts[sip] = r
	}
	return w, nil
}

func (w *stubWorld) Programs(server string) map[string]cmdexe.Program {
	return map[string]cmdexe.Program{
		"sc": func(_ context.Context, p *cmdexe.Proc) int {
			w.mu.Lock()
			st := w.states[server]
			w.mu.Unlock()
			state := "4  RUNNING"
			if st != StateUp {
				state = "1  STOPPED"
			}
			fmt.Fprintf(p.Stdout, "\r\nSERVICE_NAME: RtcSrv\r\n        STATE              : %s\r\n", state)
			return 0
		},
		"powershell": func(_ context.Context, p *cmdexe.Proc) int {
			fmt.Fprintf(p.Stdout, "ps %s\r\n", strings.Join(p.Args, "|"))
			return 0
		},
	}
}

func (w *stubWorld) SetState(server, state string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.states[server] = state
	return nil
}

func (w *stubWorld) Servers() []ServerView {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ServerView
	for _, s := range w.servers {
		n := 0
		for _, h := range w.homes {
			if h == s.Name {
				n++
			}
		}
		out = append(out, ServerView{Name: s.Name, FQDN: s.FQDN, State: w.states[s.Name], HomedUsers: n})
	}
	return out
}

func (w *stubWorld) Users() []UserView {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []UserView
	for sip, h := range w.homes {
		out = append(out, UserView{SIP: sip, Home: h, Contacts: len(w.contacts[sip].Contacts)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SIP < out[j].SIP })
	return out
}

func (w *stubWorld) UserContacts(sip string) (contacts.Resource, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.contacts[sip]
	return r, ok
}

func (w *stubWorld) AddUser(sip, home string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.homes[sip]; ok {
		return errors.New("user exists")
	}
	w.homes[sip] = home
	w.contacts[sip] = contacts.Resource{UserAtHost: strings.TrimPrefix(sip, "sip:")}
	return nil
}

func (w *stubWorld) SetContacts(sip string, r contacts.Resource) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.homes[sip]; !ok {
		return errors.New("no such user")
	}
	w.contacts[sip] = r
	return nil
}

func startStub(t *testing.T, mod func(*Config)) *Emulator {
	t.Helper()
	cfg := Config{Servers: []string{"ocs1", "ocs2"}, Users: 4, ContactsPerUser: 2, Admin: "127.0.0.1:0", NewWorld: newStubWorld}
	if mod != nil {
		mod(&cfg)
	}
	e, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func client(t *testing.T, e *Emulator, name string, params *winrm.Parameters) *winrm.Client {
	t.Helper()
	u, err := url.Parse(e.Endpoint(name))
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	ep := &winrm.Endpoint{Host: u.Hostname(), Port: port, HTTPS: u.Scheme == "https", CACert: e.CACertPEM(), Timeout: 30 * time.Second}
	if params == nil {
		params = winrm.DefaultParameters
	}
	c, err := winrm.NewClientWithParameters(ep, DefaultUsername, DefaultPassword, params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func send(t *testing.T, method, u, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestAdminAPI(t *testing.T) {
	e := startStub(t, nil)
	c := client(t, e, "ocs1", nil)
	ctx := context.Background()
	if out, _, code, err := c.RunCmdWithContext(ctx, "sc query RtcSrv"); err != nil || code != 0 || !strings.Contains(out, "RUNNING") {
		t.Fatalf("sc query: %q %d %v", out, code, err)
	}

	var servers []map[string]any
	getJSON(t, e.AdminURL()+"/servers", &servers)
	if len(servers) != 2 || servers[0]["name"] != "ocs1" || servers[0]["fqdn"] != "ocs1.corp.example.com" ||
		servers[0]["endpoint"] != e.Endpoint("ocs1") || servers[0]["state"] != "up" || servers[0]["homedUsers"] != 2.0 {
		t.Errorf("/servers = %v", servers)
	}

	if st := send(t, http.MethodPost, e.AdminURL()+"/servers/ocs1/crash", ""); st != 200 {
		t.Fatalf("crash: %d", st)
	}
	u, _ := url.Parse(e.Endpoint("ocs1"))
	if conn, err := net.Dial("tcp", u.Host); err == nil {
		_ = conn.Close()
		t.Error("crashed endpoint still accepts connections")
	}
	if _, _, _, err := c.RunCmdWithContext(ctx, "echo x"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("command on crashed server: %v", err)
	}
	getJSON(t, e.AdminURL()+"/servers", &servers)
	if servers[0]["state"] != "down" {
		t.Errorf("state after crash %v", servers[0]["state"])
	}
	if st := send(t, http.MethodPost, e.AdminURL()+"/servers/ocs1/start", ""); st != 200 {
		t.Fatalf("start: %d", st)
	}
	if out, _, _, err := c.RunCmdWithContext(ctx, "echo back"); err != nil || out != "back\r\n" {
		t.Errorf("after start: %q %v", out, err)
	}
	if st := send(t, http.MethodPost, e.AdminURL()+"/servers/ocs2/stop-service", ""); st != 200 {
		t.Fatalf("stop-service: %d", st)
	}
	if out, _, _, _ := client(t, e, "ocs2", nil).RunCmdWithContext(ctx, "sc query RtcSrv"); !strings.Contains(out, "STOPPED") {
		t.Errorf("sc query after stop-service: %q", out)
	}

	var users []map[string]any
	getJSON(t, e.AdminURL()+"/users", &users)
	if len(users) != 4 || users[0]["sip"] != "sip:user0001@corp.example.com" || users[0]["home"] != "ocs1" || users[0]["contacts"] != 2.0 {
		t.Errorf("/users = %v", users)
	}
	if st := send(t, http.MethodPost, e.AdminURL()+"/users", `{"sip":"sip:new@corp.example.com","home":"ocs2"}`); st != 201 {
		t.Errorf("POST /users: %d", st)
	}
	list := `{"contacts":[{"buddy":"a@corp.example.com","subscribePresence":true,"groups":[1]}]}`
	if st := send(t, http.MethodPut, e.AdminURL()+"/users/sip:new@corp.example.com/contacts", list); st != 204 {
		t.Errorf("PUT contacts: %d", st)
	}
	var cl contactListJSON
	getJSON(t, e.AdminURL()+"/users/sip:new@corp.example.com", &cl)
	if len(cl.Contacts) != 1 || cl.Contacts[0].Buddy != "a@corp.example.com" || !cl.Contacts[0].SubscribePresence {
		t.Errorf("GET user = %+v", cl)
	}

	if e.RequestCount("ocs1") < 10 || e.RequestCount("nope") != 0 {
		t.Errorf("RequestCount(ocs1) = %d", e.RequestCount("ocs1"))
	}

	var cmds map[string][]string
	getJSON(t, e.AdminURL()+"/commands", &cmds)
	if got := cmds["ocs1"]; len(got) != 2 || got[0] != "sc query RtcSrv" || got[1] != "echo back" {
		t.Errorf("/commands ocs1 = %q", got)
	}
	if got := cmds["ocs2"]; len(got) != 1 {
		t.Errorf("/commands ocs2 = %q", got)
	}
}

func TestTLSWithEmulatorCA(t *testing.T) {
	e := startStub(t, func(c *Config) { c.TLS = true })
	if !strings.HasPrefix(e.Endpoint("ocs2"), "https://") || len(e.CACertPEM()) == 0 {
		t.Fatalf("endpoint %s", e.Endpoint("ocs2"))
	}
	out, _, code, err := client(t, e, "ocs2", nil).RunCmdWithContext(context.Background(), "echo secure")
	if err != nil || code != 0 || out != "secure\r\n" {
		t.Errorf("got %q %d %v", out, code, err)
	}
	// Without the CA the certificate must not verify.
	u, _ := url.Parse(e.Endpoint("ocs2"))
	port, _ := strconv.Atoi(u.Port())
	c, _ := winrm.NewClient(&winrm.Endpoint{Host: u.Hostname(), Port: port, HTTPS: true}, DefaultUsername, DefaultPassword)
	if _, _, _, err := c.RunCmdWithContext(context.Background(), "echo x"); err == nil {
		t.Error("unverified TLS succeeded")
	}
}

func TestRunPSThroughCmd(t *testing.T) {
	e := startStub(t, nil)
	out, _, code, err := client(t, e, "ocs1", nil).RunPSWithContext(context.Background(), "dir")
	if err != nil || code != 0 {
		t.Fatal(code, err)
	}
	want := "ps -EncodedCommand|JABQAHIAbwBnAHIAZQBzAHMAUAByAGUAZgBlAHIAZQBuAGMAZQAgAD0AIAAnAFMAaQBsAGUAbgB0AGwAeQBDAG8AbgB0AGkAbgB1AGUAJwA7AGQAaQByAA==\r\n"
	if out != want {
		t.Errorf("got %q", out)
	}
}

func TestEnvironment(t *testing.T) {
	e := startStub(t, nil)
	out, _, _, err := client(t, e, "ocs1", nil).RunCmdWithContext(context.Background(), "echo %TEMP% %COMPUTERNAME% %USERDOMAIN%")
	if err != nil || out != `C:\Users\ocsadmin\AppData\Local\Temp OCS1 CORP`+"\r\n" {
		t.Errorf("got %q %v", out, err)
	}
}

// Latency set at run time through the admin API applies to the next WS-Management request.
func TestAdminLatencyAtRunTime(t *testing.T) {
	e := startStub(t, nil)
	if st := send(t, http.MethodPut, e.AdminURL()+"/latency", `{"latency":"300ms"}`); st != 200 {
		t.Fatalf("PUT /latency: %d", st)
	}
	var got map[string]string
	getJSON(t, e.AdminURL()+"/latency", &got)
	if got["latency"] != "300ms" {
		t.Fatalf("GET /latency: %v", got)
	}
	if st := send(t, http.MethodPut, e.AdminURL()+"/latency", `{"latency":"-1s"}`); st != http.StatusBadRequest {
		t.Fatalf("a negative latency: %d", st)
	}
	c := client(t, e, "ocs1", nil)
	// A deadline shorter than the latency: the request cannot be answered in time.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, _, err := c.RunCmdWithContext(ctx, "sc query RtcSrv"); err == nil {
		t.Fatal("a request answered before the latency set at run time")
	}
	e.SetLatency(0)
	if _, _, code, err := c.RunCmdWithContext(context.Background(), "sc query RtcSrv"); err != nil || code != 0 {
		t.Fatalf("after the latency was removed: %d %v", code, err)
	}
}
