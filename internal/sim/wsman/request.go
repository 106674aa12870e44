package wsman

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Namespaces of the WS-Management vocabulary, as Windows writes them.
const (
	nsSOAP   = "http://www.w3.org/2003/05/soap-envelope"
	nsAddr   = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsXfer   = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	nsWSMan  = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	nsMSWS   = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
	nsShell  = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsFault  = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
	nsEvent  = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
	nsEnum   = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
	nsXMLDoc = "http://www.w3.org/XML/1998/namespace"
)

// Actions of the cmd shell resource.
const (
	ActionCreate  = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
	ActionDelete  = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
	ActionCommand = nsShell + "/Command"
	ActionSend    = nsShell + "/Send"
	ActionReceive = nsShell + "/Receive"
	ActionSignal  = nsShell + "/Signal"
	ActionFault   = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

	// ResourceCmd is the only resource this server knows.
	ResourceCmd = nsShell + "/cmd"

	stateRunning = nsShell + "/CommandState/Running"
	stateDone    = nsShell + "/CommandState/Done"

	signalTerminate = nsShell + "/signal/terminate"
	signalCtrlC     = nsShell + "/signal/ctrl_c"
	signalCtrlBreak = nsShell + "/signal/ctrl_break"
)

// maxDepth bounds element nesting so hostile input cannot grow the tree without limit.
const maxDepth = 64

// Request is a parsed WS-Management request: the header fields the server uses and the body of
// whichever shell verb it carries.
type Request struct {
	Action      string
	MessageID   string
	To          string
	ResourceURI string
	// OperationTimeout is zero when the header is absent.
	OperationTimeout time.Duration
	// MaxEnvelopeSize is zero when the header is absent.
	MaxEnvelopeSize int
	// Selectors are keyed by lower-case name (clients differ in case).
	Selectors map[string]string
	// Options are keyed by upper-case name.
	Options map[string]string

	Shell       *ShellBody
	CommandLine *CommandLine
	Send        []SendStream
	Receive     *ReceiveBody
	Signal      *SignalBody
}

// ShellBody is the rsp:Shell of a Create.
type ShellBody struct {
	Name             string
	InputStreams     string
	OutputStreams    string
	WorkingDirectory string
	IdleTimeOut      string
	Lifetime         string
	Environment      []EnvVar
}

// EnvVar is one rsp:Environment/rsp:Variable.
type EnvVar struct{ Name, Value string }

// CommandLine is the rsp:CommandLine of a Command.
type CommandLine struct {
	// CommandID is the id a client proposes (the Ruby gem does); empty otherwise.
	CommandID string
	Command   string
	Arguments []string
}

// Composed returns the line WinRS hands to cmd.exe /C: Command and each Arguments joined by
// single spaces, without extra quoting.
func (c *CommandLine) Composed() string {
	parts := append([]string{c.Command}, c.Arguments...)
	return strings.Join(parts, " ")
}

// SendStream is one rsp:Stream of a Send.
type SendStream struct {
	Name      string
	CommandID string
	End       bool
	Data      []byte
}

// ReceiveBody is the rsp:Receive of a Receive.
type ReceiveBody struct {
	CommandID string
	Streams   string
}

// SignalBody is the rsp:Signal of a Signal.
type SignalBody struct {
	CommandID string
	Code      string
}

// node is an element of the parsed document; text is the concatenated character data.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	text     strings.Builder
	children []*node
}

func (n *node) child(space, local string) *node {
	for _, c := range n.children {
		if c.name.Space == space && c.name.Local == local {
			return c
		}
	}
	return nil
}

func (n *node) all(space, local string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name.Space == space && c.name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// attr returns an unprefixed attribute by case-insensitive name.
func (n *node) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if (a.Name.Space == "" || a.Name.Space == n.name.Space) && strings.EqualFold(a.Name.Local, local) {
			return a.Value, true
		}
	}
	return "", false
}

func (n *node) str() string { return strings.TrimSpace(n.text.String()) }

// parseTree builds the element tree with a namespace-aware decoder; prefixes, CDATA and escaping
// are resolved by encoding/xml, so every client style reads the same.
func parseTree(data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, errors.New("document nested too deeply")
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// ParseRequest parses a SOAP 1.2 WS-Management request.
func ParseRequest(data []byte) (*Request, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("parsing request XML: %w", err)
	}
	if root.name.Space != nsSOAP || root.name.Local != "Envelope" {
		return nil, fmt.Errorf("root element is %s:%s, not a SOAP 1.2 Envelope", root.name.Space, root.name.Local)
	}
	hdr := root.child(nsSOAP, "Header")
	if hdr == nil {
		return nil, errors.New("SOAP Header missing")
	}
	req := &Request{Selectors: map[string]string{}, Options: map[string]string{}}
	for _, h := range hdr.children {
		switch h.name {
		case xml.Name{Space: nsAddr, Local: "Action"}:
			req.Action = h.str()
		case xml.Name{Space: nsAddr, Local: "MessageID"}:
			req.MessageID = h.str()
		case xml.Name{Space: nsAddr, Local: "To"}:
			req.To = h.str()
		case xml.Name{Space: nsWSMan, Local: "ResourceURI"}:
			req.ResourceURI = h.str()
		case xml.Name{Space: nsWSMan, Local: "OperationTimeout"}:
			d, err := ParseDuration(h.str())
			if err != nil {
				return nil, fmt.Errorf("OperationTimeout: %w", err)
			}
			req.OperationTimeout = d
		case xml.Name{Space: nsWSMan, Local: "MaxEnvelopeSize"}:
			n, err := strconv.Atoi(h.str())
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("MaxEnvelopeSize %q is not a positive integer", h.str())
			}
			req.MaxEnvelopeSize = n
		case xml.Name{Space: nsWSMan, Local: "SelectorSet"}:
			for _, s := range h.all(nsWSMan, "Selector") {
				name, _ := s.attr("Name")
				req.Selectors[strings.ToLower(name)] = s.str()
			}
		case xml.Name{Space: nsWSMan, Local: "OptionSet"}:
			for _, o := range h.all(nsWSMan, "Option") {
				name, _ := o.attr("Name")
				req.Options[strings.ToUpper(name)] = o.str()
			}
		}
	}
	body := root.child(nsSOAP, "Body")
	if body == nil {
		return nil, errors.New("SOAP Body missing")
	}
	if err := req.parseBody(body); err != nil {
		return nil, err
	}
	return req, nil
}

func (req *Request) parseBody(body *node) error {
	if sh := body.child(nsShell, "Shell"); sh != nil {
		b := &ShellBody{}
		for _, c := range sh.children {
			if c.name.Space != nsShell {
				continue
			}
			switch c.name.Local {
			case "Name":
				b.Name = c.str()
			case "InputStreams":
				b.InputStreams = c.str()
			case "OutputStreams":
				b.OutputStreams = c.str()
			case "WorkingDirectory":
				b.WorkingDirectory = c.str()
			case "IdleTimeOut":
				b.IdleTimeOut = c.str()
			case "Lifetime":
				b.Lifetime = c.str()
			case "Environment":
				for _, v := range c.all(nsShell, "Variable") {
					name, _ := v.attr("Name")
					// Values are taken verbatim: spaces may be significant.
					b.Environment = append(b.Environment, EnvVar{Name: name, Value: v.text.String()})
				}
			}
		}
		req.Shell = b
	}
	if cl := body.child(nsShell, "CommandLine"); cl != nil {
		c := &CommandLine{}
		c.CommandID, _ = cl.attr("CommandId")
		if cmd := cl.child(nsShell, "Command"); cmd != nil {
			c.Command = cmd.str()
		}
		for _, a := range cl.all(nsShell, "Arguments") {
			c.Arguments = append(c.Arguments, a.text.String())
		}
		req.CommandLine = c
	}
	if s := body.child(nsShell, "Send"); s != nil {
		for _, st := range s.all(nsShell, "Stream") {
			ss := SendStream{}
			ss.Name, _ = st.attr("Name")
			ss.CommandID, _ = st.attr("CommandId")
			end, _ := st.attr("End")
			ss.End = parseBool(end)
			data, err := decodeBase64(st.text.String())
			if err != nil {
				return fmt.Errorf("Send stream: %w", err)
			}
			ss.Data = data
			req.Send = append(req.Send, ss)
		}
	}
	if r := body.child(nsShell, "Receive"); r != nil {
		rb := &ReceiveBody{}
		if ds := r.child(nsShell, "DesiredStream"); ds != nil {
			rb.CommandID, _ = ds.attr("CommandId")
			rb.Streams = ds.str()
		}
		req.Receive = rb
	}
	if s := body.child(nsShell, "Signal"); s != nil {
		sb := &SignalBody{}
		sb.CommandID, _ = s.attr("CommandId")
		if c := s.child(nsShell, "Code"); c != nil {
			sb.Code = c.str()
		}
		req.Signal = sb
	}
	return nil
}

// decodeBase64 accepts base64 with embedded line breaks (the Ruby gem wraps at 60 characters).
func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	if clean == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	return b, nil
}

// parseBool reads the spellings clients use: TRUE, true, True (anything else is false).
func parseBool(s string) bool {
	return strings.EqualFold(strings.TrimSpace(s), "true")
}

// ParseDuration parses the xs:duration forms clients send for OperationTimeout: PT60S,
// PT60.000S, PT1M0S, P0DT0H1M0S. Years and months are refused (their length is not fixed).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	orig := s
	if !strings.HasPrefix(s, "P") {
		return 0, fmt.Errorf("duration %q does not start with P", orig)
	}
	s = s[1:]
	var total float64
	inTime := false
	seen := false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, fmt.Errorf("duration %q has two T", orig)
			}
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("duration %q is malformed", orig)
		}
		v, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", orig, err)
		}
		var unit float64
		switch {
		case s[i] == 'D' && !inTime:
			unit = 86400
		case s[i] == 'H' && inTime:
			unit = 3600
		case s[i] == 'M' && inTime:
			unit = 60
		case s[i] == 'S' && inTime:
			unit = 1
		default:
			return 0, fmt.Errorf("duration %q has an unsupported unit %q", orig, s[i])
		}
		total += v * unit
		if total > 1e9 {
			return 0, fmt.Errorf("duration %q is too long", orig)
		}
		seen = true
		s = s[i+1:]
	}
	if !seen {
		return 0, fmt.Errorf("duration %q is empty", orig)
	}
	return time.Duration(total * float64(time.Second)), nil
}

// FormatDuration writes a duration the way Windows does in a CreateResponse (PT7200.000S).
func FormatDuration(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("PT%d.%03dS", ms/1000, ms%1000)
}
