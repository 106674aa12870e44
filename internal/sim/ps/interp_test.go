package ps

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, script, stdin string, extra Registry) result {
	t.Helper()
	reg := Builtins()
	for k, v := range extra {
		reg[k] = v
	}
	var out, errb bytes.Buffer
	s := &Session{FS: winfs.New(), Env: map[string]string{"TEMP": winfs.TempDir}, Stdin: strings.NewReader(stdin), Cmdlets: reg}
	code := Run(context.Background(), s, script, &out, &errb)
	return result{out.String(), errb.String(), code}
}

func TestConstructs(t *testing.T) {
	tests := []struct {
		name, script, stdin, want string
		code                      int
	}{
		{"single-quoted with doubled quote", `'it''s'`, "", "it's\r\n", 0},
		{"double-quoted expansion and escapes", "$a = 'x'; \"[$a]`t`\"q`\"\"", "", "[x]\t\"q\"\r\n", 0},
		{"integers and addition", `1 + 2`, "", "3\r\n", 0},
		{"string concatenation", `'a' + 1 + 'b'`, "", "a1b\r\n", 0},
		{"array building with comma", `$a = 'x', 'y'; $a + 'z'`, "", "x\r\ny\r\nz\r\n", 0},
		{"empty array", `$a = @(); $a.Length`, "", "0\r\n", 0},
		{"array subexpression", `@('a'; 'b').Count`, "", "2\r\n", 0},
		{"eq is case-insensitive", `'ABC' -eq 'abc'`, "", "True\r\n", 0},
		{"ne", `1 -ne 2`, "", "True\r\n", 0},
		{"eq null", `$x -eq $null`, "", "True\r\n", 0},
		{"replace", `'a"b' -replace '"','""'`, "", "a\"\"b\r\n", 0},
		{"not and or", `-not $false -and ($true -or $false)`, "", "True\r\n", 0},
		{"void cast", `[void]'x'; [string]5`, "", "5\r\n", 0},
		{"if elseif else", "if ($false) { 'a' } elseif (1 -eq 1) { 'b' } else { 'c' }", "", "b\r\n", 0},
		{"else on next line", "if ($false) { 'a' }\nelse { 'c' }", "", "c\r\n", 0},
		{"foreach continue break", "foreach ($i in 1,2,3,4) { if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }", "", "1\r\n3\r\n", 0},
		{"try catch throw", "try { throw 'boom' } catch { 'caught: ' + $_.Exception.Message }", "", "caught: boom\r\n", 0},
		{"exit code", "'a'; exit 3; 'b'", "", "a\r\n", 3},
		{"string methods", `' Ab '.Trim().ToLower() + '|' + 'abc'.Substring(1) + '|' + 'abc'.StartsWith('ab') + '|' + 'abc'.Length`, "", "ab|bc|True|3\r\n", 0},
		{"split on newline", "\"a`nb\".Split(\"`n\").Length", "", "2\r\n", 0},
		{"stdin read", `[Console]::In.ReadToEnd().Trim()`, " data \r\n", "data\r\n", 0},
		{"base64 round trip", `[Convert]::ToBase64String([Convert]::FromBase64String('aGk='))`, "", "aGk=\r\n", 0},
		{"env and Join-Path", `Join-Path $env:TEMP 'f.xml'`, "", winfs.TempDir + "\\f.xml\r\n", 0},
		{"path combine", `[IO.Path]::Combine('C:\a', 'b')`, "", "C:\\a\\b\r\n", 0},
		{"file write read remove", "$p = Join-Path $env:TEMP 'x.bin'\n[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String('AAE='))\n[Convert]::ToBase64String([IO.File]::ReadAllBytes($p))\nRemove-Item -LiteralPath $p", "", "AAE=\r\n", 0},
		{"write-output pipeline", `Write-Output 'a','b' | Write-Output`, "", "a\r\nb\r\n", 0},
		{"comments and line continuation", "# c\n'a' + `\n'b' # trailing", "", "ab\r\n", 0},
		{"import module accepted", `Import-Module Lync; Import-Module SkypeForBusiness; 'ok'`, "", "ok\r\n", 0},
		{"index", `$a = 'x','y'; $a[1]`, "", "y\r\n", 0},
		{"LASTEXITCODE and preferences", `$ProgressPreference = 'SilentlyContinue'; $LASTEXITCODE`, "", "0\r\n", 0},
		{"statement error without Stop continues", "Get-Nothing\n'after'", "", "after\r\n", 1},
		{"statement error with Stop ends", "$ErrorActionPreference = 'Stop'\nGet-Nothing\n'after'", "", "", 1},
		{"unknown command caught", "try { Get-Nothing } catch { 'c' }", "", "c\r\n", 0},
		{"method on null", "try { $null.Trim() } catch { $_.Exception.Message }", "", "You cannot call a method on a null-valued expression.\r\n", 0},
		{"unsupported keyword", "while ($true) { }", "", "", 1},
		{"subexpression in string refused", `"$(1)"`, "", "", 1},
		{"ampersand refused", `& 'x.exe'`, "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.script, tt.stdin, nil)
			if r.stdout != tt.want || r.code != tt.code {
				t.Errorf("got stdout %q code %d (stderr %q), want %q code %d", r.stdout, r.code, r.stderr, tt.want, tt.code)
			}
		})
	}
}
