package host

import (
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
)

// TestEncodedCommandStdin: the emulated PowerShell 2.0 host consumes piped stdin before an
// -EncodedCommand script runs, so [Console]::In reads nothing; 5.1 passes it on; a script on
// stdin (-Command -) still runs from it.
func TestEncodedCommandStdin(t *testing.T) {
	read := []string{"-NoProfile", "-NonInteractive", "-EncodedCommand", ps.EncodeCommand("'[' + [Console]::In.ReadToEnd() + ']'")}
	for _, tc := range []struct {
		version, want string
	}{{"2.0", "[]\r\n"}, {"1.0", "[]\r\n"}, {"5.1", "[data]\r\n"}} {
		w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}}, Profile: Profile{PowerShell: tc.version}})
		if err != nil {
			t.Fatal(err)
		}
		if r := runProg(t, w, "ocs1", "powershell", read, "data"); r.stdout != tc.want || r.code != 0 {
			t.Errorf("PowerShell %s: %+v", tc.version, r)
		}
	}
	w := newTestWorld(t, 1, 0)
	if r := runProg(t, w, "ocs1", "powershell", []string{"-Command", "-"}, "'from stdin'\r\n"); r.stdout != "from stdin\r\n" {
		t.Errorf("-Command -: %+v", r)
	}
}

// TestMoveLag: after a move, directory reads show the old home for MoveLag; the data has moved.
func TestMoveLag(t *testing.T) {
	w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2"}}, Users: 2, ContactsPerUser: 1,
		MoveLag: time.Hour, Profile: Profile{ConsoleWidth: -1}})
	if err != nil {
		t.Fatal(err)
	}
	r := runPS(t, w, "ocs2", moveScript(moveTemplate, dn2, false), "sip:user0001@corp.example.com\n")
	if r.code != 0 || !strings.Contains(r.stdout, `"OK"`) {
		t.Fatalf("move: %+v", r)
	}
	if homeOf(w, "sip:user0001@corp.example.com") != "ocs2" {
		t.Fatal("the move did not happen")
	}
	read := "(Get-WmiObject -Namespace 'root\\cimv2' -Class MSFT_SIPESUserSetting -Filter \"PrimaryURI='sip:user0001@corp.example.com'\").HomeServerDN"
	if r := runPS(t, w, "ocs2", read, ""); r.stdout != dn1+"\r\n" {
		t.Fatalf("a read during the lag: %+v", r)
	}
	w.mu.Lock()
	w.users["sip:user0001@corp.example.com"].shownUntil = time.Now()
	w.mu.Unlock()
	if r := runPS(t, w, "ocs2", read, ""); r.stdout != dn2+"\r\n" {
		t.Fatalf("a read after the lag: %+v", r)
	}
}

// TestPowerShellVersions: 1.0 has no $PSVersionTable, no try and no ConvertTo-Csv (WMF 2.0
// brought them); 2.0 and 5.1 report their version.
func TestPowerShellVersions(t *testing.T) {
	probe := "$v = '1.0'\nif ($PSVersionTable -ne $null) { $v = [string]$PSVersionTable.PSVersion.Major + '.' + [string]$PSVersionTable.PSVersion.Minor }\n'version ' + $v"
	for _, version := range []string{"1.0", "2.0", "5.1"} {
		w, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}}, Profile: Profile{PowerShell: version, ConsoleWidth: -1}})
		if err != nil {
			t.Fatal(err)
		}
		if r := runPS(t, w, "ocs1", probe, ""); r.stdout != "version "+version+"\r\n" || r.code != 0 {
			t.Errorf("%s: %+v", version, r)
		}
		r := runPS(t, w, "ocs1", "try { 'in try' } catch { 'caught' }", "")
		if (version == "1.0") != (r.code == 1 && strings.Contains(r.stderr, "The term 'try' is not recognized")) {
			t.Errorf("%s: try: %+v", version, r)
		}
		r = runPS(t, w, "ocs1", "'x' | ConvertTo-Csv -NoTypeInformation", "")
		if (version == "1.0") != (r.code == 1) {
			t.Errorf("%s: ConvertTo-Csv: %+v", version, r)
		}
	}
}
