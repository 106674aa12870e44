package wsman

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/sim/costclock"
)

// Runner runs one command line (Command and its Arguments joined by spaces) to completion and
// returns its exit code. ctx is cancelled when the client terminates the command or deletes the
// shell; ShellFromContext(ctx) describes the shell.
type Runner func(ctx context.Context, commandLine string, stdin io.Reader, stdout, stderr io.Writer) int

// ErrFileNotFound, returned by Config.Validate, makes a Command fail the way CreateProcess does
// for a missing executable.
var ErrFileNotFound = errors.New("the system cannot find the file specified")

// ShellInfo describes the shell and command options a command runs with.
type ShellInfo struct {
	ID    string
	Owner string
	// Environment holds the variables the client set at Create, in its order.
	Environment      []EnvVar
	WorkingDirectory string
	// CodePage is WINRS_CODEPAGE (437 when the client sent none, the OEM code page of en-US).
	CodePage  int
	NoProfile bool
	// SkipCmdShell is the Command's WINRS_SKIP_CMD_SHELL.
	SkipCmdShell bool
	// Delegated is true when the shell was created by a logon that holds the account's
	// credentials (CredSSP): its commands can act as the account on a third machine.
	Delegated bool
}

type shellKey struct{}

// ShellFromContext returns the shell a Runner or Validate call serves.
func ShellFromContext(ctx context.Context) (ShellInfo, bool) {
	s, ok := ctx.Value(shellKey{}).(ShellInfo)
	return s, ok
}

// Config configures a Handler. Zero values take the Windows defaults noted per field.
type Config struct {
	// Runner executes commands; required.
	Runner Runner
	// Validate, when set, checks a command line before the Command is accepted; ErrFileNotFound
	// becomes the CreateProcess fault.
	Validate func(ctx context.Context, commandLine string) error
	// Username and Password are the Basic credentials accepted (the user name case-insensitively).
	Username, Password string
	// Machine is the WSManFault Machine attribute; default the host the client addressed.
	Machine string
	// Authenticate, when set, replaces the built-in Basic check: an authenticating middleware in
	// front of the handler (NTLM, message encryption) reports who the request runs as.
	Authenticate func(r *http.Request) (user string, ok bool)
	// Delegated, when set, tells whether the logon of an authenticated request holds delegated
	// credentials; a shell it creates keeps that (ShellInfo.Delegated), as a Windows shell process
	// keeps the logon session it started in.
	Delegated func(r *http.Request) bool
	// IdleTimeout expires shells nobody uses (default 7200 s, or the client's rsp:IdleTimeOut).
	IdleTimeout time.Duration
	// MaxShellsPerUser is the shell quota (default 30).
	MaxShellsPerUser int
	// MaxTimeout caps OperationTimeout (MaxTimeoutms, default 60 s).
	MaxTimeout time.Duration
	// TimeoutMargin is how much earlier than the client's deadline a Receive times out
	// (default 5 s; never below 1 s of wait), so the fault wins the race with the client's own timer.
	TimeoutMargin time.Duration
	// Latency is added to every request.
	Latency time.Duration
	// ShellCost is spent by each Create before it answers: Windows starts a shell host process
	// (winrshost.exe) for every WinRS shell.
	ShellCost time.Duration
	// LatencyNow, when set, is read at every request instead of Latency: latency set at run time.
	LatencyNow func() time.Duration
	// OnRequest, when set, is called once per request with its action ("" when unparsed).
	OnRequest func(action string)
}

// Handler serves POST /wsman.
type Handler struct {
	cfg Config

	mu     sync.Mutex
	shells map[string]*shell
	users  map[string]int // lower-case owner → open shells

	requests atomic.Int64
	receives atomic.Int64

	baseCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// shell is one open WinRS shell. mu guards every field below it and those of its commands; it is
// never held while a request waits.
type shell struct {
	id, owner string
	info      ShellInfo
	idle      time.Duration

	mu         sync.Mutex
	commands   map[string]*command
	lastActive time.Time
	inflight   int
	deleted    bool
}

type command struct {
	id     string
	cancel context.CancelFunc

	stdin     []byte
	stdinEOF  bool
	stdout    []byte
	stderr    []byte
	exited    bool
	exitCode  uint32
	doneSent  bool
	killed    bool // terminated by a signal or the shell's deletion
	interrupt bool // ctrl_c or ctrl_break arrived while it ran
	changed   chan struct{}
	receives  int
}

// notify wakes every waiter of c; the shell's mutex must be held.
func (c *command) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// exitInterrupted is STATUS_CONTROL_C_EXIT, the code of a process ended by ctrl_c or terminate
// [inferred for terminate].
const exitInterrupted = 0xC000013A

// NewHandler returns a handler with no shells. Close releases its commands.
func NewHandler(cfg Config) *Handler {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 7200 * time.Second
	}
	if cfg.MaxShellsPerUser <= 0 {
		cfg.MaxShellsPerUser = 30
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 60 * time.Second
	}
	if cfg.TimeoutMargin <= 0 {
		cfg.TimeoutMargin = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{cfg: cfg, shells: map[string]*shell{}, users: map[string]int{}, baseCtx: ctx, stop: cancel}
	h.wg.Add(1)
	go h.janitor()
	return h
}

// Close kills all commands, drops all shells and stops the idle janitor.
func (h *Handler) Close() {
	h.Reset()
	h.stop()
	h.wg.Wait()
}

// Reset drops every shell and kills its commands, as a reboot of the host would.
func (h *Handler) Reset() {
	h.mu.Lock()
	shells := h.shells
	h.shells = map[string]*shell{}
	h.users = map[string]int{}
	h.mu.Unlock()
	for _, s := range shells {
		s.kill()
	}
}

// ShellCount returns the number of open shells.
func (h *Handler) ShellCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.shells)
}

// Requests returns the number of requests served so far.
func (h *Handler) Requests() int64 { return h.requests.Load() }

// Receives returns the number of Receive requests addressed to an open shell so far.
func (h *Handler) Receives() int64 { return h.receives.Load() }

// janitor expires idle shells so crashed callers cannot exhaust the quota.
func (h *Handler) janitor() {
	defer h.wg.Done()
	tick := h.cfg.IdleTimeout / 4
	tick = min(max(tick, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-h.baseCtx.Done():
			return
		case now := <-t.C:
			h.expire(now)
		}
	}
}

func (h *Handler) expire(now time.Time) {
	h.mu.Lock()
	var dead []*shell
	for id, s := range h.shells {
		s.mu.Lock()
		idle := s.inflight == 0 && now.Sub(s.lastActive) > s.idle
		s.mu.Unlock()
		if idle {
			delete(h.shells, id)
			h.users[strings.ToLower(s.owner)]--
			dead = append(dead, s)
		}
	}
	h.mu.Unlock()
	for _, s := range dead {
		s.kill()
	}
}

// kill marks the shell deleted and ends its commands, waking their waiters.
func (s *shell) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = true
	for _, c := range s.commands {
		if !c.exited {
			c.interrupt = true
		}
		c.killed = true
		c.cancel()
		c.notify()
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.URL.Path != "/wsman" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	user, ok := h.authenticate(r)
	if !ok {
		// Read the body so the connection survives for the client's next attempt.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBytes))
		// Windows' shape: both schemes offered, empty body, no SOAP content type, so masterzen
		// reports "401 - invalid content type" rather than a bare EOF.
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !strings.Contains(strings.ToLower(r.Header.Get("Content-Type")), "application/soap+xml") {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	latency := h.cfg.Latency
	if h.cfg.LatencyNow != nil {
		latency = h.cfg.LatencyNow()
	}
	// Charged to the connection's ledger (Config.ConnContext in the emulator), so that many
	// round trips on one connection add up to the modelled latency, not to the timers' overruns.
	if latency > 0 && costclock.Spend(r.Context(), latency) != nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	machine := h.machine(r)
	if err != nil {
		return
	}
	if len(body) > maxRequestBytes {
		h.writeFault(w, "", machine, faultSchema(errors.New("the request is too large")))
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		if h.cfg.OnRequest != nil {
			h.cfg.OnRequest("")
		}
		h.writeFault(w, "", machine, faultSchema(err))
		return
	}
	if h.cfg.OnRequest != nil {
		h.cfg.OnRequest(req.Action)
	}
	resp, f := h.dispatch(r, user, req)
	if f != nil {
		h.writeFault(w, req.MessageID, machine, f)
		return
	}
	if resp == nil {
		return // the client went away; nothing was dequeued for it
	}
	writeSOAP(w, http.StatusOK, resp)
}

// maxRequestBytes bounds a request body: masterzen's largest Send is ~204 KB of base64.
const maxRequestBytes = 32 << 20

func writeSOAP(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Server", "Microsoft-HTTPAPI/2.0")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (h *Handler) writeFault(w http.ResponseWriter, relatesTo, machine string, f *Fault) {
	writeSOAP(w, http.StatusInternalServerError, faultEnvelope(relatesTo, machine, f))
}

func (h *Handler) machine(r *http.Request) string {
	if h.cfg.Machine != "" {
		return h.cfg.Machine
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		return r.Host
	}
	return host
}

func (h *Handler) authenticate(r *http.Request) (string, bool) {
	if h.cfg.Authenticate != nil {
		return h.cfg.Authenticate(r)
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	userOK := strings.EqualFold(u, h.cfg.Username)
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(h.cfg.Password)) == 1
	return u, userOK && passOK
}

func (h *Handler) dispatch(r *http.Request, user string, req *Request) ([]byte, *Fault) {
	switch req.Action {
	case ActionCreate, ActionDelete, ActionCommand, ActionSend, ActionReceive, ActionSignal:
	default:
		return nil, faultActionNotSupported(req.Action)
	}
	if !strings.EqualFold(req.ResourceURI, ResourceCmd) {
		return nil, faultDestinationUnreachable()
	}
	if req.Action == ActionCreate {
		return h.create(r, user, req)
	}
	s := h.lookup(req.Selectors["shellid"])
	if s == nil {
		return nil, faultUnknownShell()
	}
	s.mu.Lock()
	s.inflight++
	s.lastActive = time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.lastActive = time.Now()
		s.mu.Unlock()
	}()
	switch req.Action {
	case ActionDelete:
		return h.delete(s, req)
	case ActionCommand:
		return h.command(s, req)
	case ActionSend:
		return h.send(s, req)
	case ActionReceive:
		return h.receive(r.Context(), s, req)
	default:
		return h.signal(s, req)
	}
}

func (h *Handler) lookup(id string) *shell {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shells[strings.ToUpper(id)]
}

func (h *Handler) create(r *http.Request, user string, req *Request) ([]byte, *Fault) {
	info := ShellInfo{ID: newGUID(), Owner: user, CodePage: 437}
	if h.cfg.Delegated != nil {
		info.Delegated = h.cfg.Delegated(r)
	}
	if cp, ok := req.Options["WINRS_CODEPAGE"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(cp))
		if err != nil {
			return nil, faultInvalidParameter()
		}
		info.CodePage = n
	}
	info.NoProfile = parseBool(req.Options["WINRS_NOPROFILE"])
	idle := h.cfg.IdleTimeout
	echoIdle := 7200 * time.Second
	if req.Shell != nil {
		info.Environment = req.Shell.Environment
		info.WorkingDirectory = req.Shell.WorkingDirectory
		if req.Shell.IdleTimeOut != "" {
			d, err := ParseDuration(req.Shell.IdleTimeOut)
			if err != nil {
				return nil, faultInvalidParameter()
			}
			idle, echoIdle = d, d
		}
	}
	if h.cfg.ShellCost > 0 && costclock.Spend(r.Context(), h.cfg.ShellCost) != nil {
		return nil, nil // the client went away before a shell existed
	}
	s := &shell{id: info.ID, owner: user, info: info, idle: idle, commands: map[string]*command{}, lastActive: time.Now()}
	key := strings.ToLower(user)
	h.mu.Lock()
	if h.users[key] >= h.cfg.MaxShellsPerUser {
		h.mu.Unlock()
		return nil, faultQuota(h.cfg.MaxShellsPerUser)
	}
	h.users[key]++
	h.shells[s.id] = s
	h.mu.Unlock()

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	clientIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		clientIP = r.RemoteAddr
	}
	return createResponse(req.MessageID, shellDescription{
		id: s.id, address: scheme + "://" + r.Host + "/wsman", owner: user, clientIP: clientIP,
		workingDirectory: info.WorkingDirectory, environment: info.Environment, idleTimeout: FormatDuration(echoIdle),
	}), nil
}

func (h *Handler) delete(s *shell, req *Request) ([]byte, *Fault) {
	h.mu.Lock()
	if h.shells[s.id] == s {
		delete(h.shells, s.id)
		h.users[strings.ToLower(s.owner)]--
	}
	h.mu.Unlock()
	s.kill()
	return deleteResponse(req.MessageID), nil
}

// maxCreateProcessLine is CreateProcess's limit on a command line; cmd.exe's own 8191 limit is
// the runner's business.
const maxCreateProcessLine = 32767

func (h *Handler) command(s *shell, req *Request) ([]byte, *Fault) {
	if req.CommandLine == nil {
		return nil, faultInvalidParameter()
	}
	line := req.CommandLine.Composed()
	if len(utf16.Encode([]rune(line))) > maxCreateProcessLine {
		return nil, faultTooLong()
	}
	info := s.info
	info.SkipCmdShell = parseBool(req.Options["WINRS_SKIP_CMD_SHELL"])
	ctx, cancel := context.WithCancel(context.WithValue(h.baseCtx, shellKey{}, info))
	if h.cfg.Validate != nil {
		if err := h.cfg.Validate(ctx, line); err != nil {
			cancel()
			if errors.Is(err, ErrFileNotFound) {
				return nil, faultFileNotFound()
			}
			return nil, &Fault{Code: "s:Receiver", Subcode: "w:InternalError", WSManCode: 2147500037, Provider: true,
				Reason: fmt.Sprintf("%v ", err)}
		}
	}
	id := strings.ToUpper(req.CommandLine.CommandID)
	if id == "" {
		id = newGUID()
	}
	c := &command{id: id, cancel: cancel, changed: make(chan struct{})}
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		cancel()
		return nil, faultUnknownShell()
	}
	for _, other := range s.commands {
		// Windows refuses a second command before the first one's Done was delivered.
		if !other.doneSent && !other.killed {
			s.mu.Unlock()
			cancel()
			return nil, faultTooManyCommands()
		}
	}
	if _, dup := s.commands[id]; dup {
		id = newGUID()
		c.id = id
	}
	s.commands[id] = c
	s.mu.Unlock()

	h.wg.Add(1)
	go h.run(ctx, s, c, line)
	return commandResponse(req.MessageID, id), nil
}

func (h *Handler) run(ctx context.Context, s *shell, c *command, line string) {
	defer h.wg.Done()
	code := h.runSafely(ctx, s, c, line)
	s.mu.Lock()
	c.exited = true
	c.exitCode = uint32(code)
	if c.interrupt {
		c.exitCode = exitInterrupted
	}
	c.notify()
	s.mu.Unlock()
	c.cancel()
}

// runSafely keeps a panicking program from taking the server down; Windows reports a crashed
// process as STATUS_ACCESS_VIOLATION.
func (h *Handler) runSafely(ctx context.Context, s *shell, c *command, line string) (code int) {
	defer func() {
		if p := recover(); p != nil {
			code = 0xC0000005
		}
	}()
	return h.cfg.Runner(ctx, line, &stdinReader{ctx: ctx, s: s, c: c},
		&outputWriter{s: s, c: c, stderr: false}, &outputWriter{s: s, c: c, stderr: true})
}

// stdinReader hands a program the bytes Sent so far, blocking until more arrive, End, or the
// command ends.
type stdinReader struct {
	ctx context.Context
	s   *shell
	c   *command
}

func (r *stdinReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r.s.mu.Lock()
		c := r.c
		if len(c.stdin) > 0 {
			n := copy(p, c.stdin)
			c.stdin = c.stdin[n:]
			r.s.mu.Unlock()
			return n, nil
		}
		if c.stdinEOF || c.killed {
			r.s.mu.Unlock()
			return 0, io.EOF
		}
		ch := c.changed
		r.s.mu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

type outputWriter struct {
	s      *shell
	c      *command
	stderr bool
}

func (w *outputWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.c.killed {
		return len(p), nil // nobody will read it; the program is being stopped anyway
	}
	if w.stderr {
		w.c.stderr = append(w.c.stderr, p...)
	} else {
		w.c.stdout = append(w.c.stdout, p...)
	}
	w.c.notify()
	return len(p), nil
}

func (h *Handler) send(s *shell, req *Request) ([]byte, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range req.Send {
		if !strings.EqualFold(st.Name, "stdin") {
			return nil, faultInvalidParameter()
		}
		c := s.commands[strings.ToUpper(st.CommandID)]
		if c == nil {
			return nil, faultUnknownCommand()
		}
		if c.exited || c.killed || c.stdinEOF {
			continue // input left over at exit is discarded, as by a closed pipe
		}
		c.stdin = append(c.stdin, st.Data...)
		if st.End {
			c.stdinEOF = true
		}
		c.notify()
	}
	return sendResponse(req.MessageID), nil
}

func (h *Handler) signal(s *shell, req *Request) ([]byte, *Fault) {
	if req.Signal == nil {
		return nil, faultInvalidParameter()
	}
	code := strings.ToLower(req.Signal.Code)
	id := strings.ToUpper(req.Signal.CommandID)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commands[id]
	if c == nil {
		// Clients send terminate twice on cancel; the second must not fail.
		return signalResponse(req.MessageID), nil
	}
	switch code {
	case signalTerminate:
		delete(s.commands, id)
		if !c.exited {
			c.interrupt = true
		}
		c.killed = true
		c.cancel()
		c.notify()
	case signalCtrlC, signalCtrlBreak:
		if !c.exited {
			c.interrupt = true
			c.cancel()
		}
	default:
		return nil, faultInvalidParameter()
	}
	return signalResponse(req.MessageID), nil
}

// receiveWait is how long a Receive may block: min(OperationTimeout, MaxTimeout) less the
// margin, never below a second.
func (h *Handler) receiveWait(req *Request) time.Duration {
	d := req.OperationTimeout
	if d <= 0 || d > h.cfg.MaxTimeout {
		d = h.cfg.MaxTimeout
	}
	d -= h.cfg.TimeoutMargin
	return max(d, time.Second)
}

// budget is the raw output a ReceiveResponse may carry within the client's MaxEnvelopeSize.
func budget(maxEnvelope int) int {
	if maxEnvelope <= 0 {
		maxEnvelope = 153600
	}
	return max((maxEnvelope-receiveOverhead)/4*3-6, 512)
}

func (h *Handler) receive(ctx context.Context, s *shell, req *Request) ([]byte, *Fault) {
	if req.Receive == nil || req.Receive.CommandID == "" {
		h.receives.Add(1)
		return nil, faultInvalidParameter()
	}
	id := strings.ToUpper(req.Receive.CommandID)
	s.mu.Lock()
	// Counted after the lookup, so a test that sees the count knows the command was found.
	h.receives.Add(1)
	c := s.commands[id]
	if c == nil {
		s.mu.Unlock()
		return nil, faultUnknownCommand()
	}
	c.receives++
	s.mu.Unlock()

	timer := time.NewTimer(h.receiveWait(req))
	defer timer.Stop()
	room := budget(req.MaxEnvelopeSize)
	for {
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			return nil, nil // leave the output for the next Receive
		}
		if c.killed && !c.exited {
			// Terminated or its shell deleted while this Receive waited: report the end, not
			// a fault, so a client still polling stops.
			s.mu.Unlock()
			return receiveResponse(req.MessageID, c.id, nil, true, exitInterrupted), nil
		}
		if c.doneSent {
			s.mu.Unlock()
			// Windows answers Receives after Done with Done and exit code 0.
			return receiveResponse(req.MessageID, c.id, nil, true, 0), nil
		}
		if len(c.stdout) > 0 || len(c.stderr) > 0 || c.exited {
			var chunks []chunk
			left := room
			if len(c.stdout) > 0 {
				n := cut(c.stdout, left)
				chunks = append(chunks, chunk{"stdout", c.stdout[:n]})
				c.stdout = c.stdout[n:]
				left -= n
			}
			if len(c.stderr) > 0 && left > 0 {
				n := cut(c.stderr, left)
				if n > 0 {
					chunks = append(chunks, chunk{"stderr", c.stderr[:n]})
					c.stderr = c.stderr[n:]
				}
			}
			done := c.exited && len(c.stdout) == 0 && len(c.stderr) == 0
			if done {
				c.doneSent = true
			}
			code := c.exitCode
			s.mu.Unlock()
			return receiveResponse(req.MessageID, c.id, chunks, done, code), nil
		}
		ch := c.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return nil, faultTimedOut()
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// cut returns how many bytes of buf fit in room without splitting a UTF-8 sequence, so each
// Stream decodes on its own (the Ruby client scrubs every Stream separately).
func cut(buf []byte, room int) int {
	if len(buf) <= room {
		return len(buf)
	}
	n := room
	for back := 0; back < 3 && n > 0 && buf[n]&0xC0 == 0x80; back++ {
		n--
	}
	if n == 0 {
		return room
	}
	return n
}
