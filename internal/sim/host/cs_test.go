package host

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

func TestGetCsUser(t *testing.T) {
	w := newSfBWorld(t, 3, 1)
	r := runPS(t, w, "ocs1", "Import-Module SkypeForBusiness\nGet-CsUser | Select-Object SipAddress,RegistrarPool | ConvertTo-Csv -NoTypeInformation", "")
	want := "\"SipAddress\",\"RegistrarPool\"\r\n\"sip:user0001@corp.example.com\",\"ocs1.corp.example.com\"\r\n" +
		"\"sip:user0002@corp.example.com\",\"ocs2.corp.example.com\"\r\n\"sip:user0003@corp.example.com\",\"ocs1.corp.example.com\"\r\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("all users: %+v", r)
	}
	r = runPS(t, w, "ocs1", `Get-CsUser -Filter {RegistrarPool -eq "ocs2.corp.example.com"} | Select-Object SipAddress,RegistrarPool | ConvertTo-Csv -NoTypeInformation`, "")
	if r.code != 0 || r.stdout != "\"SipAddress\",\"RegistrarPool\"\r\n\"sip:user0002@corp.example.com\",\"ocs2.corp.example.com\"\r\n" {
		t.Errorf("filter: %+v", r)
	}
	r = runPS(t, w, "ocs1", `(Get-CsUser -Identity 'sip:user0003@corp.example.com').RegistrarPool`, "")
	if r.stdout != "ocs1.corp.example.com\r\n" {
		t.Errorf("identity: %+v", r)
	}
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nGet-CsUser -Identity sip:nobody@corp.example.com", "")
	if r.code != 1 || !strings.Contains(r.stderr, "Management object not found for identity") {
		t.Errorf("unknown identity: %+v", r)
	}
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nGet-CsUser -Filter {Enabled -eq $true}", "")
	if r.code != 1 {
		t.Errorf("unsupported filter: %+v", r)
	}
}

func TestMoveCsUser(t *testing.T) {
	w := newSfBWorld(t, 10, 4)
	before, _ := w.UserContacts("sip:user0001@corp.example.com")
	r := runPS(t, w, "ocs2", moveScript(csMoveTemplate, "ocs2.corp.example.com", false), "sip:user0001@corp.example.com\nsip:nobody@corp.example.com\n")
	want := "\"sip:user0001@corp.example.com\",\"OK\",\"\"\r\n" +
		"\"sip:nobody@corp.example.com\",\"Failed\",\"Management object not found for identity \"\"sip:nobody@corp.example.com\"\".\"\r\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("planned: %+v", r)
	}
	after, _ := w.UserContacts("sip:user0001@corp.example.com")
	if !reflect.DeepEqual(before, after) || homeOf(w, "sip:user0001@corp.example.com") != "ocs2" {
		t.Error("planned Move-CsUser lost contacts")
	}
	// Source down: refused without -Force, done with -Force and the contacts are gone.
	_ = w.SetState("ocs1", StateDown)
	r = runPS(t, w, "ocs2", moveScript(csMoveTemplate, "ocs2.corp.example.com", false), "sip:user0003@corp.example.com")
	if !strings.Contains(r.stdout, `"Failed","Cannot move user ""sip:user0003@corp.example.com"": the source pool ""ocs1.corp.example.com"" is not available.`) {
		t.Errorf("source down: %+v", r)
	}
	r = runPS(t, w, "ocs2", moveScript(csMoveTemplate, "ocs2.corp.example.com", true), "sip:user0003@corp.example.com")
	if r.stdout != "\"sip:user0003@corp.example.com\",\"OK\",\"\"\r\n" {
		t.Errorf("forced: %+v", r)
	}
	if got, _ := w.UserContacts("sip:user0003@corp.example.com"); got.Count() != 0 {
		t.Error("forced Move-CsUser kept contacts")
	}
	// -Force with the source up drops the data from the source too.
	_ = w.SetState("ocs1", StateUp)
	runPS(t, w, "ocs1", "Move-CsUser -Identity sip:user0005@corp.example.com -Target ocs2.corp.example.com -Force -Confirm:$false", "")
	if _, ok := w.dbOf("ocs1", "user0005@corp.example.com"); ok || homeOf(w, "sip:user0005@corp.example.com") != "ocs2" {
		t.Error("forced move with the source up")
	}
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nMove-CsUser -Identity sip:user0007@corp.example.com -Target nowhere.example.com -Confirm:$false", "")
	if r.code != 1 || !strings.Contains(r.stderr, "Move-CsUser : Cannot find a Registrar pool") {
		t.Errorf("unknown target: %+v", r)
	}
}

func TestCsUserDataExportUpdateImport(t *testing.T) {
	w := newSfBWorld(t, 6, 3)
	script := "$ErrorActionPreference = 'Stop'\n$p = Join-Path $env:TEMP 'ocsha-aa.zip'\n" +
		"Export-CsUserData -PoolFqdn 'ocs1.corp.example.com' -FileName $p\n" +
		"[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p\n"
	r := runPS(t, w, "ocs2", script, "")
	if r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	zipData, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := contacts.ReadUserDataZip(zipData)
	if err != nil || len(doc.Resources) != 3 {
		t.Fatalf("zip: %v %+v", err, doc)
	}
	want, _ := w.UserContacts("user0001@corp.example.com")
	if !reflect.DeepEqual(doc.Resources[0], want) {
		t.Errorf("exported %+v, want %+v", doc.Resources[0], want)
	}
	// Update merges: a user who kept one contact gets the others back, plus the extra one.
	extra := contacts.Contact{Buddy: "someone@corp.example.com", Groups: []int{1}}
	_ = w.SetContacts("user0001@corp.example.com", contacts.Resource{Groups: want.Groups[:1], Contacts: []contacts.Contact{extra}})
	update := writeFromStdin("ocsha-bb.zip") + "Update-CsUserData -FileName $p -Confirm:$false\nRemove-Item -LiteralPath $p\n"
	if r := runPS(t, w, "ocs1", update, base64.StdEncoding.EncodeToString(zipData)); r.code != 0 {
		t.Fatalf("update: %+v", r)
	}
	got, _ := w.UserContacts("user0001@corp.example.com")
	if got.Count() != want.Count()+1 || len(got.Groups) != len(want.Groups) {
		t.Errorf("merged %+v", got)
	}
	// Import is staged until RtcSrv restarts.
	_ = w.SetContacts("user0003@corp.example.com", contacts.Resource{})
	_ = w.FS("ocs1").WriteFile(winfs.TempDir+`\cc.zip`, zipData)
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nImport-CsUserData -PoolFqdn 'ocs1.corp.example.com' -FileName (Join-Path $env:TEMP 'cc.zip') -Confirm:$false", "")
	if r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	if got, _ := w.UserContacts("user0003@corp.example.com"); got.Count() != 0 {
		t.Error("import applied before the restart")
	}
	_ = w.SetState("ocs1", StateServiceStopped)
	_ = w.SetState("ocs1", StateUp)
	if got, _ := w.UserContacts("user0003@corp.example.com"); got.Count() != 3 {
		t.Errorf("import not applied after the restart: %+v", got)
	}
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nExport-CsUserData -PoolFqdn 'nope' -FileName 'C:\\x.zip'", "")
	if r.code != 1 {
		t.Errorf("unknown pool: %+v", r)
	}
}

func TestCsConfigurationAndServices(t *testing.T) {
	w := newSfBWorld(t, 2, 1)
	r := runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\n$p = Join-Path $env:TEMP 'cfg.zip'\nExport-CsConfiguration -FileName $p\n[Convert]::ToBase64String([IO.File]::ReadAllBytes($p)).Length -ne 0", "")
	if r.code != 0 || r.stdout != "True\r\n" {
		t.Errorf("configuration: %+v", r)
	}
	script := "Get-CsWindowsService -Name RtcSrv | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation"
	r = runPS(t, w, "ocs1", script, "")
	if r.stdout != "\"Name\",\"Status\"\r\n\"RtcSrv\",\"Running\"\r\n" {
		t.Errorf("running: %+v", r)
	}
	_ = w.SetState("ocs1", StateServiceStopped)
	r = runPS(t, w, "ocs1", script, "")
	if r.stdout != "\"Name\",\"Status\"\r\n\"RtcSrv\",\"Stopped\"\r\n" {
		t.Errorf("stopped: %+v", r)
	}
	r = runPS(t, w, "ocs1", "$ErrorActionPreference = 'Stop'\nGet-CsWindowsService -Name Nope", "")
	if r.code != 1 {
		t.Errorf("unknown service: %+v", r)
	}
}
