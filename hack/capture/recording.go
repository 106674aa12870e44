package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	mzwinrm "github.com/masterzen/winrm"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
)

// A recording holds one command the agent ran, in the format of the shared WinRS recordings
// (messages: request/response envelopes, pypsrp's layout): Create, Command, Send (stdin, when
// the agent sent any), Receive (the whole output, Done with the exit code), Signal, Delete. The
// operator's transport does not hand out the bytes on the wire, so the envelopes are rebuilt
// from the exchange it saw (masterzen's own request builders, the shape of Windows' answers);
// the command line, stdin, stdout, stderr and exit code are the server's, redacted.
type recording struct {
	Messages []message `yaml:"messages"`
	// Capture says what produced the recording; readers of the shared format ignore it.
	Capture captureInfo `yaml:"capture"`
}

type message struct {
	Request  string `yaml:"request"`
	Response string `yaml:"response"`
}

type captureInfo struct {
	Operation string `yaml:"operation"`
	Product   string `yaml:"product"`
	Server    string `yaml:"server"`
}

// exchange is one command as the transport saw it.
type exchange struct {
	op      string
	command string
	stdin   []byte
	result  ocs.Result
	err     error
}

// recorder is an ocs.Executor that runs commands through the operator's transport and keeps
// each exchange; op names the agent operation in progress.
type recorder struct {
	next ocs.Executor

	mu        sync.Mutex
	op        string
	exchanges []exchange
}

func (r *recorder) setOp(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.op = op
}

func (r *recorder) Run(ctx context.Context, server, command string, stdin []byte) (ocs.Result, error) {
	res, err := r.next.Run(ctx, server, command, stdin)
	r.mu.Lock()
	defer r.mu.Unlock()
	ex := exchange{op: r.op, command: command, result: res, err: err}
	if stdin != nil {
		// An empty, non-nil stdin means the transport closed it: the recording keeps that.
		ex.stdin = append([]byte{}, stdin...)
	}
	r.exchanges = append(r.exchanges, ex)
	return res, err
}

// Identifiers of the rebuilt envelopes; they mean nothing and replays substitute their own.
const (
	recShellID   = "11111111-2222-3333-4444-555555555555"
	recCommandID = "66666666-7777-8888-9999-AAAAAAAAAAAA"
	recEndpoint  = "https://server.invalid:5986/wsman"
	shellURI     = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
)

// envelopes rebuilds the messages of an exchange.
func envelopes(ex exchange) []message {
	params := mzwinrm.NewParameters("PT60S", "en-US", 153600)
	msgs := []message{
		{Request: mzwinrm.NewOpenShellRequest(recEndpoint, params).String(), Response: createResponse()},
		{Request: mzwinrm.NewExecuteCommandRequest(recEndpoint, recShellID, ex.command, nil, params).String(), Response: commandResponse()},
	}
	if ex.stdin != nil {
		msgs = append(msgs, message{Request: mzwinrm.NewSendInputRequest(recEndpoint, recShellID, recCommandID, ex.stdin, true, params).String(),
			Response: simpleResponse("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse", "<rsp:SendResponse/>")})
	}
	msgs = append(msgs,
		message{Request: mzwinrm.NewGetOutputRequest(recEndpoint, recShellID, recCommandID, "stdout stderr", params).String(),
			Response: receiveResponse(ex.result.Stdout, ex.result.Stderr, ex.result.ExitCode)},
		message{Request: mzwinrm.NewSignalRequest(recEndpoint, recShellID, recCommandID, params).String(),
			Response: simpleResponse("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse", "<rsp:SignalResponse/>")},
		message{Request: mzwinrm.NewDeleteShellRequest(recEndpoint, recShellID, params).String(),
			Response: simpleResponse("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", "")},
	)
	return msgs
}

const envelopeHead = `<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
	`xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" ` +
	`xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header><a:Action>%s</a:Action>` +
	`<a:MessageID>uuid:00000000-0000-0000-0000-000000000000</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To></s:Header><s:Body>%s</s:Body></s:Envelope>`

func simpleResponse(action, body string) string { return fmt.Sprintf(envelopeHead, action, body) }

func createResponse() string {
	return simpleResponse("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
		`<x:ResourceCreated><a:Address>`+recEndpoint+`</a:Address><a:ReferenceParameters><w:ResourceURI>`+shellURI+
			`</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">`+recShellID+`</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`+
			`<rsp:Shell><rsp:ShellId>`+recShellID+`</rsp:ShellId><rsp:ResourceUri>`+shellURI+`</rsp:ResourceUri><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`)
}

func commandResponse() string {
	return simpleResponse("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse",
		`<rsp:CommandResponse><rsp:CommandId>`+recCommandID+`</rsp:CommandId></rsp:CommandResponse>`)
}

// receiveResponse holds all the output in one Receive, ended by the Done state.
func receiveResponse(stdout, stderr []byte, code int) string {
	var b strings.Builder
	b.WriteString(`<rsp:ReceiveResponse>`)
	for _, s := range []struct {
		name string
		data []byte
	}{{"stdout", stdout}, {"stderr", stderr}} {
		if len(s.data) > 0 {
			b.WriteString(`<rsp:Stream Name="` + s.name + `" CommandId="` + recCommandID + `">` + base64.StdEncoding.EncodeToString(s.data) + `</rsp:Stream>`)
		}
		b.WriteString(`<rsp:Stream Name="` + s.name + `" CommandId="` + recCommandID + `" End="true"></rsp:Stream>`)
	}
	b.WriteString(fmt.Sprintf(`<rsp:CommandState CommandId="%s" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`, recCommandID, code))
	return simpleResponse("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", b.String())
}
