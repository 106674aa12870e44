package host

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// sfbHeader is the three lines every Skype for Business script starts with.
const sfbHeader = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\nImport-Module SkypeForBusiness\n"

// TestSfbRestoreRules: Update-CsUserData asks for confirmation unless told not to, which
// -NonInteractive turns into an error, and takes only a package with every part an export has.
func TestSfbRestoreRules(t *testing.T) {
	w := newSfBWorld(t, 4, 2)
	export := sfbHeader + "$p = Join-Path $env:TEMP 'ocsha-t.zip'\nExport-CsUserData -PoolFqdn 'ocs1.corp.example.com' -FileName $p -UserFilter user0003@corp.example.com\n" +
		"[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p\n"
	r := runPS(t, w, "ocs1", export, "")
	template, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
	if r.code != 0 || err != nil {
		t.Fatalf("template export: %+v %v", r, err)
	}
	parts, _ := contacts.UserDataZipParts(template)
	if strings.Join(parts, ",") != "[Content_Types].xml,DocItemSet.xml,ExportSummary.xml" {
		t.Fatalf("export parts %v", parts)
	}
	doc := &contacts.Document{Resources: []contacts.Resource{{UserAtHost: "user0001@corp.example.com",
		Groups:   []contacts.Group{{Number: 1, DisplayName: "fg=="}},
		Contacts: []contacts.Contact{{Buddy: "new@corp.example.com", SubscribePresence: true, Groups: []int{1}}}}}}
	complete, err := contacts.WriteUserDataZipFrom(template, doc)
	if err != nil {
		t.Fatal(err)
	}
	bare, _ := contacts.WriteUserDataZip(doc)
	update := func(confirm string, data []byte) result {
		script := sfbHeader + "$p = Join-Path $env:TEMP 'ocsha-u.zip'\n[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String(" + inFile + "))\n" +
			"Update-CsUserData -FileName $p" + confirm + "\n"
		return runPS(t, w, "ocs1", script, base64.StdEncoding.EncodeToString(data))
	}
	before, _ := w.UserContacts("user0001@corp.example.com")
	if r := update("", complete); r.code != 1 || !strings.Contains(r.stderr, "NonInteractive mode") {
		t.Errorf("no -Confirm:$false: %+v", r)
	}
	if r := update(" -Confirm:$false", bare); r.code != 1 || !strings.Contains(r.stderr, "has no [Content_Types].xml") {
		t.Errorf("a package with DocItemSet.xml alone: %+v", r)
	}
	if after, _ := w.UserContacts("user0001@corp.example.com"); after.Count() != before.Count() {
		t.Fatalf("a refused update changed the list: %d -> %d", before.Count(), after.Count())
	}
	if r := update(" -Confirm:$false", complete); r.code != 0 {
		t.Fatalf("complete package: %+v", r)
	}
	if after, _ := w.UserContacts("user0001@corp.example.com"); after.Count() != before.Count()+1 {
		t.Errorf("update did not merge: %d -> %d", before.Count(), after.Count())
	}
	if r := runPS(t, w, "ocs1", sfbHeader+"Move-CsUser -Identity sip:user0001@corp.example.com -Target ocs2.corp.example.com", ""); r.code != 1 || !strings.Contains(r.stderr, "NonInteractive mode") {
		t.Errorf("Move-CsUser without -Confirm:$false: %+v", r)
	}
}

// TestGetCsWindowsServiceKnowsOnlyItsOwnServices: IIS and SQL are not Skype for Business
// services; sc query still sees them.
func TestGetCsWindowsServiceKnowsOnlyItsOwnServices(t *testing.T) {
	w := newSfBWorld(t, 2, 1)
	for _, name := range []string{"W3SVC", "MSSQL$RTC"} {
		r := runPS(t, w, "ocs1", sfbHeader+"Get-CsWindowsService -Name '"+name+"'", "")
		if r.code != 1 || !strings.Contains(r.stderr, "Cannot find any service") {
			t.Errorf("Get-CsWindowsService %s: %+v", name, r)
		}
		if r := runProg(t, w, "ocs1", "sc", []string{"query", name}, ""); r.code != 0 || !strings.Contains(r.stdout, "RUNNING") {
			t.Errorf("sc query %s: %+v", name, r)
		}
	}
	r := runPS(t, w, "ocs1", sfbHeader+"Get-CsWindowsService -Name RtcSrv | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation", "")
	if r.code != 0 || r.stdout != "\"Name\",\"Status\"\r\n\"RtcSrv\",\"Running\"\r\n" {
		t.Errorf("RtcSrv: %+v", r)
	}
}
