package sim

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestServerSpecsPutRoleServersAfterTheFrontEnds(t *testing.T) {
	cfg := Config{Servers: []string{"ocs1", "ocs2"}, Mediation: []string{"med1", "med2"}, Edge: []string{"edge1"}, Domain: "corp.example.com"}
	specs, err := cfg.serverSpecs()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range specs {
		got = append(got, s.Name+"/"+s.Role+"/"+s.FQDN)
	}
	want := []string{"ocs1//ocs1.corp.example.com", "ocs2//ocs2.corp.example.com", "med1/Mediation/med1.corp.example.com",
		"med2/Mediation/med2.corp.example.com", "edge1/Edge/edge1.corp.example.com"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("specs (endpoint order, base-port + index) = %v, want %v", got, want)
	}
	for _, bad := range []Config{
		{Servers: []string{"ocs1"}, Mediation: []string{"OCS1"}},
		{Servers: []string{"ocs1"}, Edge: []string{"e1", ""}},
	} {
		if _, err := bad.serverSpecs(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestRoleServersAdminAPI drives role servers through the admin API and reads their services
// over WinRM, as the operator's probe does.
func TestRoleServersAdminAPI(t *testing.T) {
	e, err := Start(context.Background(), Config{Servers: []string{"ocs1", "ocs2"}, Mediation: []string{"med1"}, Edge: []string{"edge1"},
		Users: 4, ContactsPerUser: 1, Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	var servers []serverJSON
	getJSON(t, e.AdminURL()+"/servers", &servers)
	if len(servers) != 4 || servers[0].Role != RoleFrontEnd || servers[0].HomedUsers != 2 ||
		servers[2].Role != RoleMediation || servers[2].HomedUsers != 0 || servers[3].Role != RoleEdge ||
		servers[3].FQDN != "edge1.corp.example.com" || servers[3].Endpoint == servers[2].Endpoint || servers[3].Endpoint == "" {
		t.Fatalf("GET /servers = %+v", servers)
	}
	query := func(server, service string) string {
		t.Helper()
		out, _, _, err := client(t, e, server, nil).RunCmdWithContext(context.Background(), "sc query "+service)
		if err != nil {
			t.Fatalf("sc query %s on %s: %v", service, server, err)
		}
		return out
	}
	if out := query("edge1", "RTCMEDIARELAY"); !strings.Contains(out, "RUNNING") {
		t.Fatalf("RTCMEDIARELAY: %q", out)
	}
	if code := send(t, http.MethodPost, e.AdminURL()+"/servers/edge1/stop-service?service=RTCMEDIARELAY", ""); code != http.StatusOK {
		t.Fatalf("stop-service?service=RTCMEDIARELAY: %d", code)
	}
	if !strings.Contains(query("edge1", "RTCMEDIARELAY"), "STOPPED") || !strings.Contains(query("edge1", "RTCSRV"), "RUNNING") {
		t.Error("stopping RTCMEDIARELAY did not stop exactly it")
	}
	if code := send(t, http.MethodPost, e.AdminURL()+"/servers/edge1/stop-service?service=Nope", ""); code != http.StatusNotFound {
		t.Errorf("stop-service of an unknown service: %d", code)
	}
	if code := send(t, http.MethodPost, e.AdminURL()+"/servers/med1/stop-service", ""); code != http.StatusOK ||
		!strings.Contains(query("med1", "RTCMEDSRV"), "STOPPED") {
		t.Errorf("stop-service of the Mediation server: %d", code)
	}
	send(t, http.MethodPost, e.AdminURL()+"/servers/med1/crash", "")
	if _, _, _, err := client(t, e, "med1", nil).RunCmdWithContext(context.Background(), "sc query RTCMEDSRV"); err == nil {
		t.Error("a crashed Mediation server answered")
	}
	for _, s := range []string{"med1", "edge1"} {
		send(t, http.MethodPost, e.AdminURL()+"/servers/"+s+"/start", "")
	}
	getJSON(t, e.AdminURL()+"/servers", &servers)
	for _, s := range servers {
		if s.State != StateUp {
			t.Errorf("%s is %s after start", s.Name, s.State)
		}
	}
	if !strings.Contains(query("med1", "RTCMEDSRV"), "RUNNING") || !strings.Contains(query("edge1", "RTCMEDIARELAY"), "RUNNING") {
		t.Error("start left a service stopped")
	}
}
