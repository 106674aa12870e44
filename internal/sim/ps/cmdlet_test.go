package ps

import (
	"context"
	"strings"
	"testing"
)

// probe is a test cmdlet that reports how its arguments were bound.
func probe() Registry {
	r := Registry{}
	r.Add(&Cmdlet{Name: "Test-Probe", Params: []string{"Identity", "Filter", "Format"}, Switches: []string{"Force"},
		Run: func(_ context.Context, c *Call) ([]any, error) {
			var parts []string
			for _, k := range []string{"identity", "filter", "format", "force", "confirm"} {
				if v, ok := c.Named[k]; ok {
					if sb, ok := v.(*ScriptBlock); ok {
						v = "{" + sb.Text + "}"
					}
					parts = append(parts, k+"="+ToString(v))
				}
			}
			for _, p := range c.Positional {
				parts = append(parts, "pos="+ToString(p))
			}
			return []any{strings.Join(parts, ";")}, nil
		}})
	r.Add(&Cmdlet{Name: "Test-Fail", Run: func(context.Context, *Call) ([]any, error) {
		return []any{"partial"}, NewError("InvalidOperation", "TestException", "TestFailed", "it failed")
	}})
	r.Add(&Cmdlet{Name: "Test-Object", Run: func(context.Context, *Call) ([]any, error) {
		o := NewObject("Test.Thing")
		o.Set("Name", `say "hi"`)
		o.Set("Missing", nil)
		o.Set("Flag", true)
		return []any{o}, nil
	}})
	return r
}

func TestCmdletBinding(t *testing.T) {
	tests := []struct {
		name, script, want string
		code               int
	}{
		{"named, prefix and switch", `Test-Probe -Ident 'a b' -Fo -Confirm:$false`, "", 1},
		{"exact names", `Test-Probe -Identity x -Force -Confirm:$false`, "identity=x;force=True;confirm=False\r\n", 0},
		{"prefix", `Test-Probe -Id x -Forc`, "identity=x;force=True\r\n", 0},
		{"scriptblock", `Test-Probe -Filter {RegistrarPool -eq "p.example.com"}`, "filter={RegistrarPool -eq \"p.example.com\"}\r\n", 0},
		{"positional barewords and arrays", `Test-Probe root\cimv2 a,b 3`, "pos=root\\cimv2;pos=a b;pos=3\r\n", 0},
		{"unknown parameter", `Test-Probe -Bogus 1`, "", 1},
		{"missing argument", `Test-Probe -Identity`, "", 1},
		{"non-terminating error keeps output", "Test-Fail\n'next'", "partial\r\nnext\r\n", 1},
		{"ErrorAction Stop is catchable", "try { Test-Fail -ErrorAction Stop } catch { 'c:' + $_.Exception.Message }", "c:it failed\r\n", 0},
		{"csv of objects", `Test-Object | ConvertTo-Csv -NoTypeInformation`, "\"Name\",\"Missing\",\"Flag\"\r\n\"say \"\"hi\"\"\",,\"True\"\r\n", 0},
		{"csv with type line", `Test-Object | Select-Object Name | ConvertTo-Csv`, "#TYPE Selected.Test.Thing\r\n\"Name\"\r\n\"say \"\"hi\"\"\"\r\n", 0},
		{"select expand", `Test-Object | Select-Object -ExpandProperty Flag`, "True\r\n", 0},
		{"member of command output", `(Test-Object).Name`, "say \"hi\"\r\n", 0},
		{"property assignment", "$o = Test-Object; $o.Name = 'x'; $o.Name", "x\r\n", 0},
		{"unknown property assignment", "$o = Test-Object; $o.Nope = 'x'", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.script, "", probe())
			if r.stdout != tt.want || r.code != tt.code {
				t.Errorf("got %q code %d (stderr %q), want %q code %d", r.stdout, r.code, r.stderr, tt.want, tt.code)
			}
		})
	}
}

func TestErrorRecordsOnStderr(t *testing.T) {
	r := run(t, "throw 'The user was not found.'", "", nil)
	want := "#< CLIXML\r\n" + `<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">` +
		`<S S="Error">The user was not found._x000D__x000A_</S>` +
		`<S S="Error">    + CategoryInfo          : OperationStopped: (The user was not found.:Strin _x000D__x000A_</S>` +
		`<S S="Error">   g) [], RuntimeException_x000D__x000A_</S>` +
		`<S S="Error">    + FullyQualifiedErrorId : The user was not found._x000D__x000A_</S>` +
		`<S S="Error"> _x000D__x000A_</S></Objs>`
	if r.code != 1 || r.stderr != want {
		t.Errorf("throw:\n got %q\nwant %q", r.stderr, want)
	}
	r = run(t, "'a'\nnot-a-command", "", nil)
	if r.code != 1 || r.stdout != "a\r\n" || !strings.Contains(r.stderr, "The term 'not-a-command' is not recognized as the name of a cmdlet, function,  _x000D__x000A_</S><S S=\"Error\">   script file, or operable program.") {
		t.Errorf("unknown command: %+v", r)
	}
	r = run(t, "if ($true) { 'x'", "", nil)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Missing closing &#39;}&#39;") && !strings.Contains(r.stderr, "Missing closing '}'") {
		t.Errorf("parse error: %+v", r)
	}
}
