package ocs

import (
	"errors"
	"reflect"
	"testing"
)

const scRunning = "\r\nSERVICE_NAME: RtcSrv \r\n        TYPE               : 10  WIN32_OWN_PROCESS  \r\n        STATE              : 4  RUNNING \r\n                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\r\n        WIN32_EXIT_CODE    : 0  (0x0)\r\n        SERVICE_EXIT_CODE  : 0  (0x0)\r\n        CHECKPOINT         : 0x0\r\n        WAIT_HINT          : 0x0\r\n\r\n"
const scStopped = "\r\nSERVICE_NAME: W3SVC\r\n        TYPE               : 20  WIN32_SHARE_PROCESS\r\n        STATE              : 1  STOPPED\r\n                                (NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)\r\n\r\n"
const scMissing = "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n\r\n"

func TestParseSCQuery(t *testing.T) {
	tests := map[string]struct {
		out      string
		services []string
		want     []ServiceStatus
		wantErr  bool
	}{
		"running": {out: scRunning, services: []string{"RtcSrv"}, want: []ServiceStatus{{Name: "RtcSrv", Running: true, State: "RUNNING"}}},
		"chain of running, missing, stopped": {
			out: scRunning + scMissing + scStopped, services: []string{"RtcSrv", "Nope", "W3SVC"},
			want: []ServiceStatus{{Name: "RtcSrv", Running: true, State: "RUNNING"}, {Name: "Nope", State: "NOT_FOUND"}, {Name: "W3SVC", State: "STOPPED"}},
		},
		"access denied": {
			out: "[SC] OpenService FAILED 5:\r\n\r\nAccess is denied.\r\n", services: []string{"RtcSrv"},
			want: []ServiceStatus{{Name: "RtcSrv", State: "FAILED_5"}},
		},
		"fewer sections than services": {out: scRunning, services: []string{"RtcSrv", "W3SVC"}, wantErr: true},
		"wrong service name":           {out: scStopped, services: []string{"RtcSrv"}, wantErr: true},
		"no state":                     {out: "SERVICE_NAME: RtcSrv\r\n", services: []string{"RtcSrv"}, wantErr: true},
		"empty output":                 {out: "", services: []string{"RtcSrv"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseSCQuery([]byte(tc.out), tc.services)
			if tc.wantErr {
				if !errors.Is(err, ErrBadOutput) {
					t.Fatalf("err = %v, want ErrBadOutput", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

const clixmlSample = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">Get-WmiObject : Invalid class_x000D__x000A_</S><S S=\"Error\">    + CategoryInfo          : InvalidOperation: (:) [Get-WmiObject], Managemen _x000D__x000A_</S><S S=\"Error\">   tException_x000D__x000A_</S><S S=\"Error\">    + FullyQualifiedErrorId : GetWMIManagementException,Microsoft.PowerShell.C _x000D__x000A_</S><S S=\"Error\">   ommands.GetWmiObjectCommand_x000D__x000A_</S><S S=\"Error\"> _x000D__x000A_</S></Objs>"

func TestErrorMessage(t *testing.T) {
	wrapped := "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN></Obj><S S=\"Error\">Move-CsUser : The move failed: the source server ocs1.corp.example.com is not av _x000D__x000A_</S><S S=\"Error\">   ailable._x000D__x000A_</S><S S=\"Error\">    + CategoryInfo          : x_x000D__x000A_</S></Objs>"
	tests := map[string]struct{ in, want string }{
		"CLIXML record":                {clixmlSample, "Get-WmiObject : Invalid class"},
		"wrapped message":              {wrapped, "Move-CsUser : The move failed: the source server ocs1.corp.example.com is not available."},
		"plain cmd text":               {"'dbimpexp.exe' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", "'dbimpexp.exe' is not recognized as an internal or external command,\r\noperable program or batch file."},
		"cmd text then CLIXML":         {"Could Not Find x\r\n" + clixmlSample, "Could Not Find x; Get-WmiObject : Invalid class"},
		"empty":                        {"", ""},
		"broken XML keeps what it can": {"#< CLIXML\r\n<Objs><S S=\"Error\">half", "half"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ErrorMessage([]byte(tc.in)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseCSVTable(t *testing.T) {
	out := "\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\r\n\"sip:a@x\",\"CN=a,DC=x\",\"True\"\r\n\r\n\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\r\n\"sip:b@x\",\"\",\"False\"\r\n"
	rows, err := parseCSVTable([]byte(out), "PrimaryURI", "HomeServerDN")
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"primaryuri": "sip:a@x", "homeserverdn": "CN=a,DC=x", "enabled": "True"},
		{"primaryuri": "sip:b@x", "homeserverdn": "", "enabled": "False"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got %v", rows)
	}
	if _, err := parseCSVTable([]byte("\"A\",\"B\"\r\n"), "PrimaryURI"); !errors.Is(err, ErrBadOutput) {
		t.Fatalf("missing column: %v", err)
	}
	if rows, err := parseCSVTable(nil, "X"); err != nil || rows != nil {
		t.Fatalf("empty output: %v %v", rows, err)
	}
	if _, err := parseCSVTable([]byte("\"a\"b\"\r\n"), "X"); !errors.Is(err, ErrBadOutput) {
		t.Fatalf("malformed CSV: %v", err)
	}
}

func TestParseResultRows(t *testing.T) {
	out := "WARNING: something\r\n\"sip:a@x\",\"OK\",\"\"\r\n\"sip:b@x\",\"Failed\",\"He said \"\"no\"\"\"\r\n\"sip:c@x\",\"Maybe\",\"\"\r\n"
	rows, err := parseResultRows([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []resultRow{{SIP: "sip:a@x", OK: true}, {SIP: "sip:b@x", Message: `He said "no"`}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got %+v", rows)
	}
}

func TestParseSfBServices(t *testing.T) {
	out := "\"Name\",\"Status\"\r\n\"RTCSRV\",\"Running\"\r\n\"Name\",\"Status\"\r\n\"W3SVC\",\"StopPending\"\r\n\"Nope\",\"NotFound\"\r\n"
	got, err := parseSfBServices([]byte(out), []string{"RtcSrv", "W3SVC", "Nope", "Absent"})
	if err != nil {
		t.Fatal(err)
	}
	want := []ServiceStatus{
		{Name: "RtcSrv", Running: true, State: "RUNNING"}, {Name: "W3SVC", State: "STOP_PENDING"},
		{Name: "Nope", State: "NOT_FOUND"}, {Name: "Absent", State: "NOT_FOUND"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("\"PrimaryURI\",\"HomeServerDN\",\"Enabled\"\r\n\"sip:a@x\",\"CN=a\",\"True\"\r\n"))
	f.Add([]byte("\"sip:a@x\",\"Failed\",\"a \"\"b\"\"\"\r\n"))
	f.Add([]byte("\xef\xbb\xbf\"a\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseCSVTable(data, "PrimaryURI")
		if err != nil && rows != nil {
			t.Fatal("rows returned with an error")
		}
		if res, err := parseResultRows(data); err != nil && res != nil {
			t.Fatal("result rows returned with an error")
		}
		if st, err := parseSfBServices(data, []string{"RtcSrv"}); err == nil && len(st) != 1 {
			t.Fatalf("%d statuses for 1 service", len(st))
		}
	})
}

func FuzzParseSCQuery(f *testing.F) {
	f.Add([]byte(scRunning+scMissing+scStopped), 3)
	f.Add([]byte("STATE : 4 RUNNING\r\nSERVICE_NAME: x"), 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 8 {
			return
		}
		services := []string{"RtcSrv", "Nope", "W3SVC", "a", "b", "c", "d", "e"}[:n]
		got, err := parseSCQuery(data, services)
		if err == nil && len(got) != n {
			t.Fatalf("%d statuses for %d services", len(got), n)
		}
	})
}

func FuzzErrorMessage(f *testing.F) {
	f.Add([]byte(clixmlSample))
	f.Add([]byte("plain\r\n#< CLIXML\r\n<Objs><S S=\"Error\">_x0041__x000D__x000A_   b</S></Objs>#< CLIXML"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := ErrorMessage(data)
		if len(msg) > 6*len(data)+16 {
			t.Fatalf("message of %d bytes from %d bytes of input", len(msg), len(data))
		}
	})
}

func FuzzPoolNameOf(f *testing.F) {
	f.Add("CN=LC Services,CN=Microsoft,CN=ocs1,CN=Pools,CN=RTC Service,DC=x")
	f.Add(`CN=a\,b,CN=Pools`)
	f.Add(`\`)
	f.Fuzz(func(t *testing.T, dn string) {
		name, ok := poolNameOf(dn)
		if !ok && name != "" {
			t.Fatalf("no pool, yet a name %q", name)
		}
		if ok && len(name) >= len(dn) {
			t.Fatalf("pool name %q is not part of %q", name, dn)
		}
	})
}
