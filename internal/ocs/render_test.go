package ocs

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

// decodeLine returns the scripts of every -EncodedCommand in a command line, and the line with
// them cut out.
func decodeLine(t *testing.T, line string) (scripts []string, rest string) {
	t.Helper()
	parts := strings.Split(line, psPrefix)
	rest = parts[0]
	for _, p := range parts[1:] {
		enc, tail, _ := strings.Cut(p, " ")
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(b)%2 != 0 {
			t.Fatalf("bad EncodedCommand %q: %v", enc, err)
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		scripts = append(scripts, string(utf16.Decode(u)))
		rest += " " + tail
	}
	return scripts, rest
}

func TestQuotePS(t *testing.T) {
	tests := map[string]struct {
		in, want string
		wantErr  bool
	}{
		"plain":                                {in: "abc", want: "'abc'"},
		"single quote doubled":                 {in: "o'neil", want: "'o''neil'"},
		"typographic quote doubled":            {in: "a\u2019b", want: "'a\u2019\u2019b'"},
		"double quote and dollar stay literal": {in: `"$(x)` + "`", want: `'"$(x)` + "`'"},
		"empty":                                {in: "", want: "''"},
		"newline refused":                      {in: "a\nb", wantErr: true},
		"NUL refused":                          {in: "a\x00b", wantErr: true},
		"line separator refused":               {in: "a\u2028b", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := QuotePS(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("err = %v, want ErrInvalidArgument", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("QuotePS(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestValidateSIP(t *testing.T) {
	valid := []string{"sip:user0001@corp.example.com", "sip:a.b-c_d%e+f@x-y.example", "sip:A@B", "sip:o'neil@corp.example.com", "sip:o'brien@corp.example.com"}
	invalid := []string{
		"user@corp.example.com", `sip:a"b@corp.example.com`,
		"sip:a;b@corp.example.com", "sip:$(calc)@corp.example.com", "sip:a`b@corp.example.com",
		"sip:a&b@corp.example.com", "sip:a b@corp.example.com", "sip:a@corp.example.com\n",
		"sip:@corp.example.com", "sip:a@", "sip:a@b@c", "SIP:a@b", "sip:" + strings.Repeat("a", 250) + "@b.com",
	}
	for _, s := range valid {
		if err := ValidateSIP(s); err != nil {
			t.Errorf("ValidateSIP(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range invalid {
		if err := ValidateSIP(s); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ValidateSIP(%q) = %v, want ErrInvalidArgument", s, err)
		}
	}
}

func TestEncodePSBudget(t *testing.T) {
	max := strings.Repeat("x", maxScriptChars)
	line, err := encodePS(max)
	if err != nil {
		t.Fatal(err)
	}
	if len(line) > maxCommandLine {
		t.Fatalf("a %d-character script gives a %d-character line, over %d", maxScriptChars, len(line), maxCommandLine)
	}
	scripts, _ := decodeLine(t, line)
	if scripts[0] != max {
		t.Fatal("script does not survive encoding")
	}
	if _, err := encodePS(max + "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("over budget: err = %v", err)
	}
}

// longToolPath is a tool path near the 260-character limit.
var longToolPath = `%CommonProgramFiles%\` + strings.Repeat(`Folder Name `, 18) + `\DBImpExp.exe`

func TestRenderedCommandsStayInBudget(t *testing.T) {
	longDN := "CN=LC Services,CN=Microsoft,CN=" + strings.Repeat("p", 64) + ",CN=Pools,CN=RTC Service,CN=Services,CN=Configuration,DC=" + strings.Repeat("d", 60) + ",DC=example,DC=com"
	fqdn := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + ".example.com"
	services := []string{"RtcSrv", "W3SVC", "RTCCLSAGT", "RTCDATAMCU", "RTCIMMCU", "RTCMEDSRV", "RTCRGS", "MSSQL$RTC"}
	render := map[string]func() (string, error){
		"OCS pools":       func() (string, error) { return encodePS(ocsPoolScript()) },
		"OCS users":       func() (string, error) { s, _ := ocsUsersScript(""); return encodePS(s) },
		"OCS homed users": func() (string, error) { s, _ := ocsUsersScript(longDN); return encodePS(s) },
		"OCS move":        func() (string, error) { s, _ := ocsMoveScript(longDN, true, tempName(".b64")); return encodePS(s) },
		"OCS export": func() (string, error) {
			s, _ := ocsExportScript(longToolPath, tempName(".xml"))
			return encodePS(s)
		},
		"OCS import": func() (string, error) {
			s, _ := ocsImportScript(longToolPath, tempName(".xml"), tempName(".b64"))
			return encodePS(s)
		},
		"OCS config": func() (string, error) {
			s, _ := ocsConfigScript(longToolPath, strings.Repeat("p", 64), []string{tempName("-global.xml"), tempName("-pool.xml"), tempName("-machine.xml")})
			return encodePS(s)
		},
		"OCS health": func() (string, error) { return scQueryCommand(services) },
		"SfB health": func() (string, error) { s, _ := sfbServicesScript(services); return encodePS(s) },
		"SfB users":  func() (string, error) { s, _ := sfbUsersScript(fqdn); return encodePS(s) },
		"SfB move":   func() (string, error) { s, _ := sfbMoveScript(fqdn, true, tempName(".b64")); return encodePS(s) },
		"SfB export": func() (string, error) { s, _ := sfbExportScript(fqdn, tempName(".zip")); return encodePS(s) },
		"SfB import": func() (string, error) {
			s, _ := sfbImportScript(fqdn, tempName(".zip"), tempName(".b64"))
			return encodePS(s)
		},
		"SfB config": func() (string, error) { s, _ := sfbConfigScript(tempName(".zip")); return encodePS(s) },
	}
	for name, fn := range render {
		t.Run(name, func(t *testing.T) {
			line, err := fn()
			if err != nil {
				t.Fatal(err)
			}
			if len(line) > maxCommandLine {
				t.Fatalf("line of %d characters", len(line))
			}
			scripts, _ := decodeLine(t, line)
			for _, s := range scripts {
				if n := len([]rune(s)); n > maxScriptChars {
					t.Fatalf("script of %d characters", n)
				}
				if !strings.HasPrefix(s, psHeader) {
					t.Fatalf("script does not start with the header:\n%s", s)
				}
			}
		})
	}
}

func TestRenderingRefusesUnsafeValues(t *testing.T) {
	tests := map[string]func() error{
		"FQDN with a quote in a SfB filter": func() error { _, err := sfbUsersScript(`a".example.com`); return err },
		"pool name with a newline": func() error {
			_, err := ocsConfigScript(defaultLcscmdPath, "a\nb", []string{"g.xml", "p.xml", "m.xml"})
			return err
		},
		"tool path with a quote": func() error { _, err := ocsExportScript(`C:\a"b\x.exe`, "x.xml"); return err },
		"tool path with an ampersand": func() error {
			_, err := ocsExportScript(`C:\a&calc\x.exe`, "x.xml")
			return err
		},
		"service name with ampersand": func() error { _, err := scQueryCommand([]string{"RtcSrv&calc"}); return err },
		"service name with space":     func() error { _, err := sfbServicesScript([]string{"Rtc Srv"}); return err },
		"DN with a newline":           func() error { _, err := ocsMoveScript("CN=a\nCN=b", false, "ocsha-0000000000000000.b64"); return err },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			if err := fn(); !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestMoveScriptsQuoteTheTarget(t *testing.T) {
	s, err := ocsMoveScript("CN=O'Neil,DC=x", true, "ocsha-0000000000000000.b64")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "$target = 'CN=O''Neil,DC=x'\n") || !strings.Contains(s, "$force = $true\n") {
		t.Fatalf("target or force not rendered as literals:\n%s", s)
	}
	s, err = sfbMoveScript("se1.corp.example.com", false, "ocsha-0000000000000000.b64")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "-Force") || !strings.Contains(s, "Move-CsUser -Identity $sip -Target $target -Confirm:$false") {
		t.Fatalf("planned SfB move:\n%s", s)
	}
	s, _ = sfbMoveScript("se1.corp.example.com", true, "ocsha-0000000000000000.b64")
	if !strings.Contains(s, "-Force -Confirm:$false") {
		t.Fatalf("forced SfB move:\n%s", s)
	}
}

func TestTempNamesAreUniqueAndSafe(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n := tempName(".xml")
		if seen[n] || len(n) != len("ocsha-0123456789abcdef.xml") || strings.ContainsAny(n, `%&|<>^" '`) {
			t.Fatalf("bad temp name %q", n)
		}
		seen[n] = true
	}
}
