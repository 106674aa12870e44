package host

import (
	"strings"
	"testing"
)

func TestPowerShellWrapsAtTheConsoleWidth(t *testing.T) {
	ninety := strings.Repeat("a", 80) + strings.Repeat("b", 10)
	eighty := strings.Repeat("c", 80)
	script := "'" + ninety + "'\n'" + eighty + "'\nWrite-Host '" + strings.Repeat("d", 85) + "'\nthrow '" + strings.Repeat("e", 100) + "'"
	ocs, err := NewWorld(Config{Servers: []ServerConfig{{Name: "ocs1"}, {Name: "ocs2", Profile: Profile{ConsoleWidth: 40}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := runPS(t, ocs, "ocs1", script, "")
	want := strings.Repeat("a", 80) + "\r\n" + strings.Repeat("b", 10) + "\r\n" + eighty + "\r\n" + strings.Repeat("d", 80) + "\r\nddddd\n"
	if r.stdout != want {
		t.Fatalf("OCS 2007 R2 stdout:\n%q\nwant\n%q", r.stdout, want)
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		if n := len([]rune(strings.TrimSuffix(line, "\r"))); n > 80 {
			t.Fatalf("stderr line of %d characters: %q", n, line)
		}
	}
	if !strings.Contains(strings.ReplaceAll(r.stderr, "\r\n", ""), "<Objs") {
		t.Fatalf("stderr is not CLIXML: %q", r.stderr)
	}
	if r := runPS(t, ocs, "ocs2", "'"+strings.Repeat("x", 45)+"'", ""); r.stdout != strings.Repeat("x", 40)+"\r\nxxxxx\r\n" {
		t.Fatalf("width 40: %q", r.stdout)
	}
	if r := runPS(t, ocs, "ocs1", "'"+strings.Repeat("é", 81)+"'", ""); r.stdout != strings.Repeat("é", 80)+"\r\né\r\n" {
		t.Fatalf("characters, not bytes, count: %q", r.stdout)
	}
	sfb, err := NewWorld(Config{Product: ProductSkypeForBusiness, Servers: []ServerConfig{{Name: "ocs1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := runPS(t, sfb, "ocs1", "'"+ninety+"'", ""); r.stdout != ninety+"\r\n" {
		t.Fatalf("Skype for Business wraps: %q", r.stdout)
	}
}
