package host

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// sfbHeader is the three lines every Skype for Business script starts with.
const sfbHeader = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\nImport-Module SkypeForBusiness\n"

func TestSfbDocumentedImportAndHealth(t *testing.T) {
	w := newSfBWorld(t, 4, 2)
	doc := &contacts.Document{Resources: []contacts.Resource{{UserAtHost: "user0001@corp.example.com",
		Groups:   []contacts.Group{{Number: 1, DisplayName: "fg=="}},
		Contacts: []contacts.Contact{{Buddy: "new@corp.example.com", SubscribePresence: true, Groups: []int{1}}}}}}
	zipData, err := contacts.WriteUserDataZip(doc)
	if err != nil {
		t.Fatal(err)
	}
	importScript := sfbHeader + `$p = Join-Path $env:TEMP 'ocsha-0000000000000001.zip'
[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String([Console]::In.ReadToEnd()))
$failed = ''
try { Update-CsUserData -FileName $p } catch { $failed = $_.Exception.Message }
Remove-Item -LiteralPath $p
if ($failed -ne '') { Write-Output ('"","Failed","' + ($failed -replace '"','""') + '"'); exit 1 }
`
	before, _ := w.UserContacts("user0001@corp.example.com")
	r := runPS(t, w, "ocs1", importScript, base64.StdEncoding.EncodeToString(zipData))
	after, _ := w.UserContacts("user0001@corp.example.com")
	if r.code != 0 || r.stdout != "" || after.Count() != before.Count()+1 {
		t.Errorf("import: %+v, %d -> %d contacts", r, before.Count(), after.Count())
	}
	r = runPS(t, w, "ocs1", importScript, base64.StdEncoding.EncodeToString([]byte("not a zip")))
	if r.code != 1 || !strings.HasPrefix(r.stdout, `"","Failed","The file ""`) || w.FS("ocs1").Exists(`C:\Users\ocsadmin\AppData\Local\Temp\ocsha-0000000000000001.zip`) {
		t.Errorf("bad import: %+v", r)
	}
	health := sfbHeader + `$n = 'RtcSrv'
try { Get-CsWindowsService -Name $n | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation } catch { Write-Output ('"' + $n + '","NotFound"') }
$n = 'NoSuchService'
try { Get-CsWindowsService -Name $n | Select-Object Name,Status | ConvertTo-Csv -NoTypeInformation } catch { Write-Output ('"' + $n + '","NotFound"') }
`
	_ = w.SetState("ocs2", StateServiceStopped)
	r = runPS(t, w, "ocs2", health, "")
	if r.code != 0 || r.stdout != "\"Name\",\"Status\"\r\n\"RtcSrv\",\"Stopped\"\r\n\"NoSuchService\",\"NotFound\"\r\n" {
		t.Errorf("health: %+v", r)
	}
	r = runPS(t, w, "ocs1", sfbHeader+"$p = Join-Path $env:TEMP 'ocsha-0000000000000002.zip'\nExport-CsConfiguration -FileName $p\n[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p\n", "")
	if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout)); r.code != 0 || err != nil {
		t.Errorf("configuration: %+v", r)
	}
}
