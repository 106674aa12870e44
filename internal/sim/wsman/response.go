package wsman

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// addrAnonymous is the a:To of every response.
const addrAnonymous = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

// newGUID returns a random version 4 GUID in upper case, as Windows writes ids.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// esc escapes text for element content and attribute values.
func esc(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			sb.WriteString("&amp;")
		case '<':
			sb.WriteString("&lt;")
		case '>':
			sb.WriteString("&gt;")
		case '"':
			sb.WriteString("&quot;")
		case '\r':
			sb.WriteString("&#xD;")
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// envelope writes a response the way Windows does: one line, no XML declaration, the namespace
// set of the operation (extra declares eventing and enumeration, as faults carry them).
func envelope(action, relatesTo, body string, withXfer, withRsp, withEnum bool) []byte {
	var sb strings.Builder
	sb.WriteString(`<s:Envelope xml:lang="en-US" xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddr + `"`)
	if withXfer {
		sb.WriteString(` xmlns:x="` + nsXfer + `"`)
	}
	if withEnum {
		sb.WriteString(` xmlns:e="` + nsEvent + `" xmlns:n="` + nsEnum + `"`)
	}
	sb.WriteString(` xmlns:w="` + nsWSMan + `"`)
	if withRsp {
		sb.WriteString(` xmlns:rsp="` + nsShell + `"`)
	}
	sb.WriteString(` xmlns:p="` + nsMSWS + `"><s:Header>`)
	sb.WriteString(`<a:Action>` + esc(action) + `</a:Action>`)
	sb.WriteString(`<a:MessageID>uuid:` + newGUID() + `</a:MessageID>`)
	sb.WriteString(`<a:To>` + addrAnonymous + `</a:To>`)
	if relatesTo != "" {
		sb.WriteString(`<a:RelatesTo>` + esc(relatesTo) + `</a:RelatesTo>`)
	}
	sb.WriteString(`</s:Header>`)
	if body == "" {
		sb.WriteString(`<s:Body></s:Body>`)
	} else {
		sb.WriteString(`<s:Body>` + body + `</s:Body>`)
	}
	sb.WriteString(`</s:Envelope>`)
	return []byte(sb.String())
}

// shellDescription is what a CreateResponse reports about a new shell.
type shellDescription struct {
	id, address, owner, clientIP string
	workingDirectory             string
	environment                  []EnvVar
	idleTimeout                  string
}

func createResponse(relatesTo string, d shellDescription) []byte {
	var sb strings.Builder
	sb.WriteString(`<x:ResourceCreated><a:Address>` + esc(d.address) + `</a:Address><a:ReferenceParameters>`)
	sb.WriteString(`<w:ResourceURI>` + ResourceCmd + `</w:ResourceURI>`)
	sb.WriteString(`<w:SelectorSet><w:Selector Name="ShellId">` + d.id + `</w:Selector></w:SelectorSet>`)
	sb.WriteString(`</a:ReferenceParameters></x:ResourceCreated>`)
	sb.WriteString(`<rsp:Shell xmlns:rsp="` + nsShell + `"><rsp:ShellId>` + d.id + `</rsp:ShellId>`)
	sb.WriteString(`<rsp:ResourceUri>` + ResourceCmd + `</rsp:ResourceUri>`)
	sb.WriteString(`<rsp:Owner>` + esc(d.owner) + `</rsp:Owner><rsp:ClientIP>` + esc(d.clientIP) + `</rsp:ClientIP>`)
	if len(d.environment) > 0 {
		sb.WriteString(`<rsp:Environment>`)
		for _, v := range d.environment {
			// Windows drops backslashes from echoed variable names (seen in a recording).
			name := strings.ReplaceAll(v.Name, `\`, "")
			sb.WriteString(`<rsp:Variable Name="` + esc(name) + `">` + esc(v.Value) + `</rsp:Variable>`)
		}
		sb.WriteString(`</rsp:Environment>`)
	}
	if d.workingDirectory != "" {
		sb.WriteString(`<rsp:WorkingDirectory>` + esc(d.workingDirectory) + `</rsp:WorkingDirectory>`)
	}
	sb.WriteString(`<rsp:IdleTimeOut>` + d.idleTimeout + `</rsp:IdleTimeOut>`)
	sb.WriteString(`<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>`)
	sb.WriteString(`<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>`)
	sb.WriteString(`</rsp:Shell>`)
	return envelope(ActionCreate+"Response", relatesTo, sb.String(), true, true, false)
}

func commandResponse(relatesTo, commandID string) []byte {
	return envelope(ActionCommand+"Response", relatesTo,
		`<rsp:CommandResponse><rsp:CommandId>`+commandID+`</rsp:CommandId></rsp:CommandResponse>`, true, true, false)
}

func sendResponse(relatesTo string) []byte {
	return envelope(ActionSend+"Response", relatesTo, `<rsp:SendResponse/>`, true, true, false)
}

func signalResponse(relatesTo string) []byte {
	return envelope(ActionSignal+"Response", relatesTo, `<rsp:SignalResponse/>`, true, true, false)
}

func deleteResponse(relatesTo string) []byte {
	return envelope(ActionDelete+"Response", relatesTo, "", false, false, false)
}

// chunk is a piece of one output stream in a ReceiveResponse.
type chunk struct {
	stream string
	data   []byte
}

// receiveResponse builds a ReceiveResponse. done adds the End streams and the Done state with
// the exit code (sent unsigned, as Windows reports NTSTATUS codes).
func receiveResponse(relatesTo, commandID string, chunks []chunk, done bool, exitCode uint32) []byte {
	var sb strings.Builder
	sb.WriteString(`<rsp:ReceiveResponse>`)
	for _, c := range chunks {
		sb.WriteString(`<rsp:Stream Name="` + c.stream + `" CommandId="` + commandID + `">`)
		sb.WriteString(base64.StdEncoding.EncodeToString(c.data))
		sb.WriteString(`</rsp:Stream>`)
	}
	if done {
		sb.WriteString(`<rsp:Stream Name="stdout" CommandId="` + commandID + `" End="true"></rsp:Stream>`)
		sb.WriteString(`<rsp:Stream Name="stderr" CommandId="` + commandID + `" End="true"></rsp:Stream>`)
		sb.WriteString(`<rsp:CommandState CommandId="` + commandID + `" State="` + stateDone + `">`)
		sb.WriteString(fmt.Sprintf(`<rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState>`, exitCode))
	} else {
		sb.WriteString(`<rsp:CommandState CommandId="` + commandID + `" State="` + stateRunning + `"/>`)
	}
	sb.WriteString(`</rsp:ReceiveResponse>`)
	return envelope(ActionReceive+"Response", relatesTo, sb.String(), false, true, false)
}

// receiveOverhead is a generous bound on a ReceiveResponse's bytes besides the base64 payload:
// envelope, header and up to four Stream elements plus the CommandState.
const receiveOverhead = 2048
