package wsman

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const envOpen = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header><a:MessageID>uuid:1</a:MessageID><a:Action s:mustUnderstand="true">ACTION</a:Action><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name="shellid">S1</w:Selector></w:SelectorSet><w:OptionSet><w:Option Name="winrs_skip_cmd_shell">True</w:Option></w:OptionSet><w:OperationTimeout>OPTIMEOUT</w:OperationTimeout></s:Header><s:Body>`

func msg(action, timeout, body string) string {
	return strings.NewReplacer("ACTION", action, "OPTIMEOUT", timeout).Replace(envOpen) + body + `</s:Body></s:Envelope>`
}

func TestParseRequestClientStyles(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("payload ", 20)))
	wrapped := b64[:60] + "\n" + b64[60:]
	tests := []struct {
		name  string
		xml   string
		check func(*Request) bool
	}{
		{"masterzen CDATA", msg(ActionCommand, "PT60S", `<rsp:CommandLine><rsp:Command><![CDATA[echo a & b]]></rsp:Command></rsp:CommandLine>`),
			func(r *Request) bool { return r.CommandLine.Composed() == "echo a & b" }},
		{"pywinrm escaped single Arguments", msg(ActionCommand, "PT20S", `<rsp:CommandLine><rsp:Command>ipconfig</rsp:Command><rsp:Arguments>/all &amp; x</rsp:Arguments></rsp:CommandLine>`),
			func(r *Request) bool { return r.CommandLine.Composed() == "ipconfig /all & x" }},
		{"pypsrp several Arguments", msg(ActionCommand, "PT20S", `<rsp:CommandLine><rsp:Command>cmd.exe</rsp:Command><rsp:Arguments>/c</rsp:Arguments><rsp:Arguments>echo</rsp:Arguments><rsp:Arguments>hi</rsp:Arguments></rsp:CommandLine>`),
			func(r *Request) bool { return r.CommandLine.Composed() == "cmd.exe /c echo hi" }},
		{"ruby quoted with CommandId", msg(ActionCommand, "PT60S", `<rsp:CommandLine CommandId="ABC"><rsp:Command>"ipconfig /all"</rsp:Command></rsp:CommandLine>`),
			func(r *Request) bool {
				return r.CommandLine.Command == `"ipconfig /all"` && r.CommandLine.CommandID == "ABC"
			}},
		{"ruby wrapped base64 and True", msg(ActionSend, "PT60S", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1" End="True">`+wrapped+`</rsp:Stream></rsp:Send>`),
			func(r *Request) bool {
				return len(r.Send) == 1 && r.Send[0].End && string(r.Send[0].Data) == strings.Repeat("payload ", 20)
			}},
		{"empty End stream", msg(ActionSend, "PT60S", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1" End="true"/></rsp:Send>`),
			func(r *Request) bool { return r.Send[0].End && len(r.Send[0].Data) == 0 }},
		{"receive", msg(ActionReceive, "PT1M0S", `<rsp:Receive><rsp:DesiredStream CommandId="C1">stdout stderr</rsp:DesiredStream></rsp:Receive>`),
			func(r *Request) bool { return r.Receive.CommandID == "C1" && r.OperationTimeout == time.Minute }},
		{"signal", msg(ActionSignal, "P0DT0H1M0S", `<rsp:Signal CommandId="C1"><rsp:Code>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate</rsp:Code></rsp:Signal>`),
			func(r *Request) bool { return r.Signal.Code == signalTerminate && r.OperationTimeout == time.Minute }},
		{"create with environment", msg(ActionCreate, "PT60.000S", `<rsp:Shell><rsp:Environment><rsp:Variable Name="A">1 </rsp:Variable></rsp:Environment><rsp:WorkingDirectory>C:\Windows</rsp:WorkingDirectory><rsp:IdleTimeOut>PT60S</rsp:IdleTimeOut></rsp:Shell>`),
			func(r *Request) bool {
				return reflect.DeepEqual(r.Shell.Environment, []EnvVar{{"A", "1 "}}) && r.Shell.WorkingDirectory == `C:\Windows`
			}},
		{"selectors and options any case", msg(ActionDelete, "PT60S", ""),
			func(r *Request) bool {
				return r.Selectors["shellid"] == "S1" && parseBool(r.Options["WINRS_SKIP_CMD_SHELL"])
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			if r.MessageID != "uuid:1" {
				t.Errorf("MessageID %q", r.MessageID)
			}
			if !tt.check(r) {
				t.Errorf("unexpected parse: %+v", r)
			}
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	for _, in := range []string{"", "<x/>", "<s:Envelope xmlns:s=\"urn:other\"/>", msg(ActionCreate, "PT1Y", ""), "<a><b></a>"} {
		if _, err := ParseRequest([]byte(in)); err == nil {
			t.Errorf("ParseRequest(%q) succeeded", in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT60S", time.Minute, true},
		{"PT60.000S", time.Minute, true},
		{"PT1M0S", time.Minute, true},
		{"P0DT0H1M0S", time.Minute, true},
		{"PT0.5S", 500 * time.Millisecond, true},
		{"P1D", 24 * time.Hour, true},
		{"PT", 0, false},
		{"60", 0, false},
		{"P1M", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
	if FormatDuration(7200*time.Second) != "PT7200.000S" {
		t.Error("FormatDuration(7200 s)")
	}
}

func TestCutKeepsUTF8Sequences(t *testing.T) {
	buf := []byte(strings.Repeat("aé€😀", 50))
	for room := 1; room < len(buf); room++ {
		n := cut(buf, room)
		if n > room || n == 0 {
			t.Fatalf("cut(%d) = %d", room, n)
		}
		if room >= 4 && !utf8.Valid(buf[:n]) {
			t.Fatalf("cut(%d) splits a sequence", room)
		}
	}
	if b := budget(153600); (b+2)/3*4+receiveOverhead > 153600 {
		t.Errorf("budget %d overflows the envelope", b)
	}
}

func TestResponsesParse(t *testing.T) {
	for _, b := range [][]byte{
		createResponse("uuid:1", shellDescription{id: "S", environment: []EnvVar{{`a\b`, `<&>"`}}, idleTimeout: "PT1.000S"}),
		commandResponse("uuid:1", "C"), sendResponse("uuid:1"), signalResponse("uuid:1"), deleteResponse("uuid:1"),
		receiveResponse("uuid:1", "C", []chunk{{"stdout", []byte("x")}}, true, 3221225786),
		faultEnvelope("uuid:1", "m", faultTimedOut()),
	} {
		if _, err := parseTree(b); err != nil {
			t.Errorf("response does not parse: %v\n%s", err, b)
		}
		if !bytes.Contains(b, []byte("<a:RelatesTo>uuid:1</a:RelatesTo>")) {
			t.Errorf("no RelatesTo: %s", b)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.xml"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(msg(ActionSend, "PT60S", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1">aGk=</rsp:Stream></rsp:Send>`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequest(data)
		if err == nil && r.CommandLine != nil {
			_ = r.CommandLine.Composed()
		}
	})
}
