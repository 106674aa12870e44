package winrm

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// testServer is a minimal WS-Management cmd-shell endpoint for transport tests: enough of
// Create, Command, Send, Receive, Signal and Delete for masterzen, with hooks to fail or block.
type testServer struct {
	username, password string

	mu     sync.Mutex
	counts map[string]int    // by action suffix
	stdin  map[string][]byte // by command id
	ended  map[string]bool
	// running holds the commands started and not yet signalled: the pool signals every command
	// once it ends, and keeps its shell for the next one.
	running  map[string]bool
	sends    []int // raw bytes per Send
	commands []string
	active   int
	maxSeen  int
	nextID   int
	changed  *sync.Cond

	// failCreate answers the first n Creates with 503 and no SOAP body.
	failCreate int
	// failCommand answers Command with 503.
	failCommand bool
	// generation names the shells; restart() makes the server forget every shell it created.
	generation int
	// gate, when set, blocks each Receive until a token arrives or the request ends.
	gate chan struct{}
	// program computes a command's output once its stdin is closed (or at once without stdin).
	program func(cmd string, stdin []byte) (stdout, stderr string, exit int)
}

var (
	actionRe   = regexp.MustCompile(`<a:Action[^>]*>([^<]+)</a:Action>`)
	cmdRe      = regexp.MustCompile(`(?s)<rsp:Command>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</rsp:Command>`)
	cmdIDRe    = regexp.MustCompile(`CommandId="([^"]+)"`)
	streamRe   = regexp.MustCompile(`(?s)<rsp:Stream([^>]*?)(?:/>|>(.*?)</rsp:Stream>)`)
	endRe      = regexp.MustCompile(`End="(?i:true)"`)
	msgIDRe    = regexp.MustCompile(`<a:MessageID>([^<]+)</a:MessageID>`)
	stdinWaits = "waitstdin"
)

func newTestServer(username, password string) *testServer {
	s := &testServer{username: username, password: password, counts: map[string]int{}, stdin: map[string][]byte{}, ended: map[string]bool{}, running: map[string]bool{}}
	s.changed = sync.NewCond(&s.mu)
	s.program = func(cmd string, stdin []byte) (string, string, int) {
		switch {
		case strings.HasPrefix(cmd, "echo "):
			return strings.TrimPrefix(cmd, "echo ") + "\r\n", "", 0
		case strings.HasPrefix(cmd, stdinWaits):
			return fmt.Sprintf("%d", len(stdin)), "", 0
		case cmd == "fail":
			return "", "boom\r\n", 3
		}
		return "", "'" + cmd + "' is not recognized\r\n", 9009
	}
	return s
}

// restart forgets every shell, as a rebooted server or an expired shell does.
func (s *testServer) restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
}

func (s *testServer) count(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[action]
}

func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != s.username || p != s.password {
		w.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	m := actionRe.FindSubmatch(body)
	if m == nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	action := string(m[1])
	action = action[strings.LastIndex(action, "/")+1:]
	msgID := ""
	if mm := msgIDRe.FindSubmatch(body); mm != nil {
		msgID = string(mm[1])
	}
	s.mu.Lock()
	s.counts[action]++
	n := s.counts[action]
	s.mu.Unlock()
	reply := func(respAction, inner string) {
		w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		fmt.Fprintf(w, `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header><a:Action>%s</a:Action><a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body>%s</s:Body></s:Envelope>`, respAction, msgID, inner)
	}
	const shellNS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
	switch action {
	case "Create":
		if n <= s.failCreate {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		shellID := fmt.Sprintf("SHELL-%d", s.generation+1)
		s.mu.Unlock()
		reply("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", `<w:SelectorSet><w:Selector Name="ShellId">`+shellID+`</w:Selector></w:SelectorSet>`)
	case "Command":
		if s.failCommand {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		current := fmt.Sprintf(`<w:Selector Name="ShellId">SHELL-%d</w:Selector>`, s.generation+1)
		s.mu.Unlock()
		if !bytes.Contains(body, []byte(current)) {
			w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:InvalidSelectors</s:Value></s:Subcode></s:Code><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858843"><f:Message>The request for the Windows Remote Shell with ShellId was not found on the server.</f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`)
			return
		}
		cm := cmdRe.FindSubmatch(body)
		s.mu.Lock()
		s.nextID++
		id := fmt.Sprintf("CMD-%d", s.nextID)
		s.commands = append(s.commands, string(cm[1]))
		s.stdin[id+"/cmd"] = cm[1]
		s.running[id] = true
		s.active = len(s.running)
		s.maxSeen = max(s.maxSeen, s.active)
		s.changed.Broadcast()
		s.mu.Unlock()
		reply(shellNS+"CommandResponse", `<rsp:CommandResponse><rsp:CommandId>`+id+`</rsp:CommandId></rsp:CommandResponse>`)
	case "Send":
		id := string(cmdIDRe.FindSubmatch(body)[1])
		s.mu.Lock()
		for _, sm := range streamRe.FindAllSubmatch(body, -1) {
			data, _ := base64.StdEncoding.DecodeString(string(sm[2]))
			if len(data) > 0 {
				s.sends = append(s.sends, len(data))
				s.stdin[id] = append(s.stdin[id], data...)
			}
			if endRe.Match(sm[1]) {
				s.ended[id] = true
			}
		}
		s.changed.Broadcast()
		s.mu.Unlock()
		reply(shellNS+"SendResponse", `<rsp:SendResponse/>`)
	case "Receive":
		id := string(cmdIDRe.FindSubmatch(body)[1])
		if s.gate != nil {
			select {
			case <-s.gate:
			case <-r.Context().Done():
				return
			}
		}
		s.mu.Lock()
		cmd := string(s.stdin[id+"/cmd"])
		if strings.HasPrefix(cmd, stdinWaits) && !s.ended[id] {
			s.mu.Unlock()
			// Still waiting for stdin: answer the long poll with the timeout fault.
			w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code></s:Fault></s:Body></s:Envelope>`)
			return
		}
		stdin := s.stdin[id]
		s.mu.Unlock()
		out, errOut, code := s.program(cmd, stdin)
		enc := base64.StdEncoding.EncodeToString
		reply(shellNS+"ReceiveResponse", fmt.Sprintf(`<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="%[1]s">%[2]s</rsp:Stream><rsp:Stream Name="stderr" CommandId="%[1]s">%[3]s</rsp:Stream><rsp:CommandState CommandId="%[1]s" State="%[4]sCommandState/Done"><rsp:ExitCode>%[5]d</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`, id, enc([]byte(out)), enc([]byte(errOut)), shellNS, code))
	case "Signal":
		if m := cmdIDRe.FindSubmatch(body); m != nil {
			s.mu.Lock()
			delete(s.running, string(m[1]))
			s.active = len(s.running)
			s.changed.Broadcast()
			s.mu.Unlock()
		}
		reply(shellNS+"SignalResponse", `<rsp:SignalResponse/>`)
	case "Delete":
		reply("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", ``)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}
