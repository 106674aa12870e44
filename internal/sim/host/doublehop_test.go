package host

import (
	"context"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// doubleHopWorld is a site of the product whose directory refuses sessions without delegated
// credentials; its powershell.exe does not wrap, so that answers read line by line.
func doubleHopWorld(t *testing.T, product Product) *World {
	t.Helper()
	w, err := NewWorld(Config{Product: product, Profile: Profile{ConsoleWidth: -1}, Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2"}},
		Users: 4, ContactsPerUser: 2, Seed: 7, DoubleHop: true})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runPSCtx is runPS in a session of ctx's logon: data waits in %TEMP%\ocsha-in.txt.
func runPSCtx(ctx context.Context, t *testing.T, w *World, script, data string) result {
	t.Helper()
	if data != "" {
		if err := w.FS("ocs1").WriteFile(winfs.TempDir+`\ocsha-in.txt`, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return runProgCtx(ctx, t, w, "ocs1", "powershell", []string{"-NoProfile", "-NonInteractive", "-EncodedCommand", encode(script)}, "")
}

// TestDoubleHopRefusesDirectoryCommandsWithoutDelegation: in a session of a network logon
// (Basic, NTLM) the directory commands fail as the domain controller refuses the anonymous
// second hop; services, the local database and the pool table still answer.
func TestDoubleHopRefusesDirectoryCommandsWithoutDelegation(t *testing.T) {
	network := WithDelegatedCredentials(context.Background(), false)
	tests := map[string]struct {
		product    Product
		script     string
		wantStderr string // "" = must succeed
	}{
		"MSFT_SIPESUserSetting query": {product: ProductOCS2007R2, script: usersScript, wantStderr: "Get-WmiObject : Access denied"},
		"Get-CsUser":                  {product: ProductSkypeForBusiness, script: "$ErrorActionPreference = 'Stop'\nGet-CsUser", wantStderr: `Get-CsUser : Active Directory operation failed on "dc01.corp.example.com"`},
		"Move-CsUser":                 {product: ProductSkypeForBusiness, script: "$ErrorActionPreference = 'Stop'\nMove-CsUser -Identity sip:user0001@corp.example.com -Target ocs2.corp.example.com -Confirm:$false", wantStderr: "Access is denied."},
		"Update-CsUserData":           {product: ProductSkypeForBusiness, script: "$ErrorActionPreference = 'Stop'\nUpdate-CsUserData -FileName 'C:\\nothing.zip' -Confirm:$false", wantStderr: "Active Directory operation failed"},
		"the pool table":              {product: ProductOCS2007R2, script: poolScript},
		"Get-CsWindowsService":        {product: ProductSkypeForBusiness, script: "Get-CsWindowsService -Name RTCSRV | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation"},
		"Export-CsUserData":           {product: ProductSkypeForBusiness, script: "$ErrorActionPreference = 'Stop'\nExport-CsUserData -PoolFqdn 'ocs1.corp.example.com' -FileName (Join-Path $env:TEMP 'x.zip')"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := doubleHopWorld(t, tt.product)
			r := runPSCtx(network, t, w, tt.script, "")
			if tt.wantStderr == "" {
				if r.code != 0 {
					t.Fatalf("refused without a second hop: %+v", r)
				}
				return
			}
			if r.code != 1 || !strings.HasPrefix(r.stderr, "#< CLIXML\r\n") || !strings.Contains(clixmlText(r.stderr), tt.wantStderr) {
				t.Fatalf("code %d, stderr %q", r.code, clixmlText(r.stderr))
			}
			if homeOf(w, "sip:user0001@corp.example.com") != "ocs1" {
				t.Fatal("a refused command moved a user")
			}
		})
	}
	t.Run("sc query", func(t *testing.T) {
		if r := runProgCtx(network, t, doubleHopWorld(t, ProductOCS2007R2), "ocs1", "sc", []string{"query", "RtcSrv"}, ""); r.code != 0 {
			t.Fatalf("%+v", r)
		}
	})
}

// TestDoubleHopBatchMoveReportsEveryUser: the agent's batch script catches the refusal per user,
// so a whole batch fails with the directory's message and nobody moves.
func TestDoubleHopBatchMoveReportsEveryUser(t *testing.T) {
	w, sfb := doubleHopWorld(t, ProductOCS2007R2), doubleHopWorld(t, ProductSkypeForBusiness)
	stdin := "sip:user0001@corp.example.com\nsip:user0003@corp.example.com\n"
	network := WithDelegatedCredentials(context.Background(), false)
	r := runPSCtx(network, t, w, moveScript(moveTemplate, poolDN("ocs2", "corp.example.com"), false), stdin)
	if r.code != 0 || strings.Count(r.stdout, `"Failed","Access denied "`) != 2 {
		t.Fatalf("%+v", r)
	}
	r = runPSCtx(network, t, sfb, moveScript(csMoveTemplate, "ocs2.corp.example.com", false), stdin)
	if r.code != 0 || strings.Count(r.stdout, `"Failed","Active Directory operation failed`) != 2 {
		t.Fatalf("%+v", r)
	}
	for _, world := range []*World{w, sfb} {
		if homeOf(world, "sip:user0001@corp.example.com") != "ocs1" || homeOf(world, "sip:user0003@corp.example.com") != "ocs1" {
			t.Fatal("users moved")
		}
	}
}

// TestDoubleHopPassesWithDelegation: a CredSSP session reaches the directory; so does every
// session of a world without the double hop (the lab default).
func TestDoubleHopPassesWithDelegation(t *testing.T) {
	delegatedCtx := WithDelegatedCredentials(context.Background(), true)
	w := doubleHopWorld(t, ProductOCS2007R2)
	if r := runPSCtx(delegatedCtx, t, w, usersScript, ""); r.code != 0 || !strings.Contains(r.stdout, "user0004") {
		t.Fatalf("listing: %+v", r)
	}
	r := runPSCtx(delegatedCtx, t, w, moveScript(moveTemplate, poolDN("ocs2", "corp.example.com"), false), "sip:user0001@corp.example.com\n")
	if r.code != 0 || !strings.Contains(r.stdout, `"OK"`) || homeOf(w, "sip:user0001@corp.example.com") != "ocs2" {
		t.Fatalf("move: %+v", r)
	}
	if r := runPSCtx(context.Background(), t, newTestWorld(t, 2, 1), usersScript, ""); r.code != 0 {
		t.Fatalf("without the double hop: %+v", r)
	}
	// The object of a delegated query cannot be written back from a network session.
	u := w.users["sip:user0002@corp.example.com"]
	put := w.userObject(u).Methods["put"]
	if _, err := put(WithDelegatedCredentials(context.Background(), false), nil); err == nil || err.Error() != wmiAccessDenied {
		t.Fatalf("Put without delegation: %v", err)
	}
}

// clixmlText joins the error lines of a CLIXML stderr.
func clixmlText(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, `<S S="Error">`)[1:] {
		line, _, _ := strings.Cut(part, "</S>")
		b.WriteString(strings.ReplaceAll(line, "_x000D__x000A_", ""))
	}
	return b.String()
}
