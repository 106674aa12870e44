package host

import (
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// newRoleWorld is a site with two front ends, a Mediation server and an Edge.
func newRoleWorld(t *testing.T, product Product) *World {
	t.Helper()
	w, err := NewWorld(Config{
		Product: product, Profile: Profile{ConsoleWidth: -1},
		Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2"}, {Name: "med1", Role: RoleMediation}, {Name: "edge1", Role: "edge"}},
		Users:   6, ContactsPerUser: 2, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// serviceRunning asks the server about one service the way the agent does per product: sc
// query on OCS 2007 R2, Get-CsWindowsService on Skype for Business. found is false when the
// service is not installed.
func serviceRunning(t *testing.T, w *World, server, name string) (running, found bool) {
	t.Helper()
	if w.product == ProductOCS2007R2 {
		r := runProg(t, w, server, "sc", []string{"query", name}, "")
		if r.code == scNotFoundCode {
			return false, false
		}
		return strings.Contains(r.stdout, "RUNNING"), true
	}
	r := runPS(t, w, server, "Get-CsWindowsService -Name '"+name+"' | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation", "")
	if r.code != 0 {
		return false, false
	}
	return strings.Contains(r.stdout, `"Running"`), true
}

func TestRoleServersRunTheServicesTheAgentAsksFor(t *testing.T) {
	for _, product := range []Product{ProductOCS2007R2, ProductSkypeForBusiness} {
		w := newRoleWorld(t, product)
		for server, role := range map[string]string{"med1": ocs.RoleMediation, "edge1": ocs.RoleEdge} {
			services := ocs.RoleServices(ocs.Product(product), role)
			if len(services) == 0 {
				t.Fatalf("%s %s: the agent's table is empty", product, role)
			}
			for _, svc := range services {
				running := false
				for _, n := range svc.Names {
					up, _ := serviceRunning(t, w, server, n)
					running = running || up
				}
				if !running {
					t.Errorf("%s %s: none of %v runs", product, server, svc.Names)
				}
			}
			if _, found := serviceRunning(t, w, server, "RtcSrv"); found && role == ocs.RoleMediation {
				t.Errorf("%s %s runs the front-end service", product, server)
			}
		}
	}
}

func TestRoleServersHomeNoUsersAndAreNoPool(t *testing.T) {
	w := newRoleWorld(t, ProductOCS2007R2)
	for _, s := range w.Servers() {
		want := map[string]int{"ocs1": 3, "ocs2": 3}[s.Name]
		if s.HomedUsers != want {
			t.Errorf("%s homes %d users, want %d", s.Name, s.HomedUsers, want)
		}
	}
	if roles := w.Servers(); roles[2].Role != RoleMediation || roles[3].Role != RoleEdge || roles[0].Role != RoleFrontEnd {
		t.Errorf("roles: %+v", roles)
	}
	if err := w.AddUser("sip:new@corp.example.com", "med1"); err == nil {
		t.Error("a user was homed on a Mediation server")
	}
	r := runPS(t, w, "ocs1", "Get-WmiObject -Class MSFT_SIPPoolSetting | Select-Object PoolFQDN | ConvertTo-Csv -NoTypeInformation", "")
	if strings.Contains(r.stdout, "med1") || strings.Contains(r.stdout, "edge1") || !strings.Contains(r.stdout, "ocs2") {
		t.Errorf("pools seen from a front end: %+v", r)
	}
	if _, err := NewWorld(Config{Servers: []ServerConfig{{Name: "med1", Role: RoleMediation}}}); err == nil {
		t.Error("a site without front ends was built")
	}
	if _, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}, {Name: "x", Role: "Director"}}}); err == nil {
		t.Error("an unknown role was accepted")
	}
}

func TestRoleServersRefuseDirectoryCommands(t *testing.T) {
	ocsWorld := newRoleWorld(t, ProductOCS2007R2)
	if r := runPS(t, ocsWorld, "med1", "Get-WmiObject -Class MSFT_SIPESUserSetting", ""); r.code != 1 || !strings.Contains(r.stderr, "Invalid class") {
		t.Errorf("MSFT_SIPESUserSetting on a Mediation server: %+v", r)
	}
	for _, tool := range []string{DBImpExpPath, LcscmdPath} {
		if ocsWorld.Programs("edge1")[strings.ToLower(tool)] != nil {
			t.Errorf("%s installed on an Edge", tool)
		}
	}
	sfb := newRoleWorld(t, ProductSkypeForBusiness)
	for _, cmd := range []string{"Get-CsUser", "Move-CsUser -Identity x -Target y", "Export-CsUserData -PoolFqdn x -FileName y"} {
		if r := runPS(t, sfb, "edge1", cmd, ""); r.code != 1 || !strings.Contains(r.stderr, "is not recognized") {
			t.Errorf("%s on an Edge: %+v", cmd, r)
		}
	}
	if r := runPS(t, sfb, "med1", "Import-Module SkypeForBusiness; 'ok'", ""); r.code != 0 || r.stdout != "ok\r\n" {
		t.Errorf("the module on a Mediation server: %+v", r)
	}
}

func TestRoleServerServicesStopAndStart(t *testing.T) {
	for _, product := range []Product{ProductOCS2007R2, ProductSkypeForBusiness} {
		w := newRoleWorld(t, product)
		if err := w.StopService("edge1", "rtcmediarelay"); err != nil {
			t.Fatal(err)
		}
		if up, _ := serviceRunning(t, w, "edge1", "RTCMEDIARELAY"); up {
			t.Errorf("%s: RTCMEDIARELAY still runs", product)
		}
		if up, _ := serviceRunning(t, w, "edge1", "RTCSRV"); !up {
			t.Errorf("%s: RTCSRV stopped with RTCMEDIARELAY", product)
		}
		if st := w.Servers()[3].State; st != StateServiceStopped {
			t.Errorf("%s: edge1 is %s", product, st)
		}
		if err := w.StopService("edge1", "RtcSrvX"); err == nil {
			t.Errorf("%s: an unknown service was stopped", product)
		}
		_ = w.SetState("med1", StateServiceStopped)
		if up, _ := serviceRunning(t, w, "med1", "RTCMEDSRV"); up {
			t.Errorf("%s: service-stopped left RTCMEDSRV running", product)
		}
		for _, s := range []string{"med1", "edge1"} {
			_ = w.SetState(s, StateUp)
		}
		for _, n := range []string{"RTCMEDIARELAY", "RTCSRV"} {
			if up, _ := serviceRunning(t, w, "edge1", n); !up {
				t.Errorf("%s: %s not started again", product, n)
			}
		}
		if up, _ := serviceRunning(t, w, "med1", "RTCMEDSRV"); !up {
			t.Errorf("%s: RTCMEDSRV not started again", product)
		}
	}
}

func TestStoppingAnotherFrontEndServiceKeepsMovesWorking(t *testing.T) {
	w := newTestWorld(t, 4, 1)
	if err := w.StopService("ocs1", "W3SVC"); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	running := w.server("ocs1").running()
	w.mu.Unlock()
	if !running {
		t.Error("a front end with RtcSrv running refuses moves")
	}
}
