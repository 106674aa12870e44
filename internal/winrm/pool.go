package winrm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mzwinrm "github.com/masterzen/winrm"
)

// Authentication schemes of a Target.
const (
	AuthBasic   = "Basic"
	AuthNTLM    = "NTLM"
	AuthCredSSP = "CredSSP"
)

// Target is how to reach one server.
type Target struct {
	// Server is the name callers use.
	Server string
	// Endpoint is the WS-Management URL, e.g. https://host:5986/wsman.
	Endpoint string
	// Auth is AuthBasic (default when empty), AuthNTLM or AuthCredSSP. Basic logs on local
	// accounts only; NTLM (NTLMv2) also domain accounts; CredSSP logs on like NTLM and delegates
	// the credentials, so that commands reach the domain controller (the second hop). NTLM and
	// CredSSP encrypt every message over http:// (MS-WSMV message encryption), so the Windows
	// default AllowUnencrypted=false can stay.
	Auth string
	// Username is user (a local account), DOMAIN\user or user@domain (NTLM and CredSSP only).
	Username string
	Password string
	// CACert is a PEM bundle that signs the server's certificate (HTTPS only).
	CACert             []byte
	InsecureSkipVerify bool
	// AllowUnencryptedBasic permits Basic over plain http, which sends the password readable on
	// the wire. Without it such a target is refused, whatever the case of the scheme.
	AllowUnencryptedBasic bool
}

// TargetError reports a Target that cannot be set up (endpoint, auth, CA). Only a change of the
// configuration fixes it. Its text names the server and never a credential.
type TargetError struct {
	Server string
	Err    error
}

func (e *TargetError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *TargetError) Unwrap() error { return e.Err }

// Options tune a Pool. Zero values take the defaults.
type Options struct {
	// MaxConcurrent is the number of commands run at once on one server (default
	// DefaultMaxConcurrent).
	MaxConcurrent int
	// Attempts is how many times a command is tried when the shell could not be created, i.e. when it
	// certainly did not run (default 3).
	Attempts int
	// Backoff is the wait before the second attempt; it doubles for each further one (default 500ms).
	Backoff time.Duration
	// OperationTimeout is the WS-Management OperationTimeout of each request, the length of a
	// Receive long poll (default 20s).
	OperationTimeout time.Duration
	// DialTimeout bounds a TCP connect (default 10s).
	DialTimeout time.Duration
	// CancelWait is how long Run waits, once its context is cancelled, for the server to confirm
	// that the command it signalled to terminate has ended (default 10s, below the 15 s lease of
	// the manager's leader election).
	CancelWait time.Duration
	// Metrics, when set, is called once per Run with the server, a Result* value and the duration.
	Metrics func(server, result string, d time.Duration)
	// ShellIdle is how long a shell stays open for the next command after its last one ended
	// (default 5s; negative: a new shell for every command, as winrs.exe does). At most
	// MaxConcurrent shells per server are open at once.
	ShellIdle time.Duration
	// PowerShellIdle is how long a persistent powershell.exe of the Skype for Business dialect
	// (StartProcess) stays running for the next request after its last one (default 2m;
	// negative: none is kept, every operation starts a powershell.exe of its own).
	PowerShellIdle time.Duration
}

// DefaultMaxConcurrent is Options.MaxConcurrent when it is not set.
const DefaultMaxConcurrent = 2

// maxSendChunk bounds the raw bytes of one Send. Its base64 (4/3) plus the SOAP envelope stays
// below the 153,600-byte envelope a WinRM 2.0 host accepts; masterzen would otherwise send up to
// 152,600 raw bytes per Send, which such a host refuses.
const maxSendChunk = 100 * 1024

// envelopeSize is the MaxEnvelopeSize announced to the server.
const envelopeSize = 153600

// Pool runs commands on a set of servers, one WinRM client per server. It implements the
// Executor of internal/ocs. It is safe for concurrent use.
type Pool struct {
	opts Options

	mu      sync.Mutex
	targets map[string]*target
	slots   map[string]chan struct{} // per server, kept across SetTargets
	// probeSlots: one more slot per server, only for health probes (AsProbe), so that a probe
	// never queues behind the operator's own long commands and reads a busy server as dead.
	probeSlots map[string]chan struct{}
	closed     bool
}

type target struct {
	server   string
	client   *mzwinrm.Client
	hash     [32]byte
	password string
	conns    *connSet
	shells   *shellCache
	procs    *processSet
}

// NewPool returns an empty Pool; call SetTargets before Run.
func NewPool(opts Options) *Pool {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.OperationTimeout <= 0 {
		opts.OperationTimeout = 20 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.CancelWait <= 0 {
		opts.CancelWait = 10 * time.Second
	}
	if opts.ShellIdle == 0 {
		opts.ShellIdle = 5 * time.Second
	}
	if opts.PowerShellIdle == 0 {
		opts.PowerShellIdle = 2 * time.Minute
	}
	return &Pool{opts: opts, targets: map[string]*target{}, slots: map[string]chan struct{}{}, probeSlots: map[string]chan struct{}{}}
}

type probeKey struct{}

// AsProbe marks ctx as a health probe's: its command takes the server's probe slot, reserved for
// probes, instead of waiting for one of the MaxConcurrent slots that moves and imports hold.
func AsProbe(ctx context.Context) context.Context { return context.WithValue(ctx, probeKey{}, true) }

func isProbe(ctx context.Context) bool { v, _ := ctx.Value(probeKey{}).(bool); return v }

// SetTargets replaces the set of servers. A server whose endpoint, credentials or TLS settings
// changed gets a new client; an unchanged one keeps its client and connections. Credentials are
// compared by hash and never appear in errors.
func (p *Pool) SetTargets(targets []Target) error {
	next := map[string]*target{}
	for _, t := range targets {
		if t.Server == "" {
			return errors.New("winrm target without a server name")
		}
		if _, dup := next[t.Server]; dup {
			return fmt.Errorf("winrm target %s: duplicate server name", t.Server)
		}
		h := hashTarget(t)
		p.mu.Lock()
		old := p.targets[t.Server]
		p.mu.Unlock()
		if old != nil && old.hash == h {
			next[t.Server] = old
			continue
		}
		nt, err := p.newTarget(t, h)
		if err != nil {
			return &TargetError{Server: t.Server, Err: err}
		}
		next[t.Server] = nt
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range next {
		if p.slots[name] == nil {
			p.slots[name] = make(chan struct{}, p.opts.MaxConcurrent)
			p.probeSlots[name] = make(chan struct{}, 1)
		}
	}
	for name, old := range p.targets {
		if next[name] != old {
			// Its shells belong to the old endpoint or logon.
			go old.shells.closeAll(shellCloseWait)
		}
	}
	p.targets = next
	return nil
}

// Servers returns the configured server names, sorted.
func (p *Pool) Servers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.targets))
	for name := range p.targets {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// shellCloseWait bounds how long Close waits for servers to confirm the deletion of idle shells:
// a hung server delays Close by this much at most, and its shells expire on their own.
const shellCloseWait = time.Second

// Close deletes the idle shells (waiting briefly for the servers), then closes the connections
// of every client. In-flight commands fail.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	targets := make([]*target, 0, len(p.targets))
	for _, t := range p.targets {
		targets = append(targets, t)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() { t.shells.closeAll(shellCloseWait) })
		wg.Go(func() { t.procs.closeAll(shellCloseWait) })
	}
	wg.Wait()
	for _, t := range targets {
		t.conns.closeAll()
	}
}

func hashTarget(t Target) [32]byte {
	h := sha256.New()
	for _, s := range []string{t.Endpoint, t.Auth, t.Username, t.Password, string(t.CACert), strconv.FormatBool(t.InsecureSkipVerify),
		strconv.FormatBool(t.AllowUnencryptedBasic)} {
		// Length prefixes keep field boundaries unambiguous.
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (p *Pool) newTarget(t Target, h [32]byte) (*target, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil || u.Host == "" {
		// url.Parse errors quote the URL, which might carry user info; keep them out.
		return nil, fmt.Errorf("winrm target %s: endpoint is not a valid URL", t.Server)
	}
	if u.User != nil {
		return nil, fmt.Errorf("winrm target %s: endpoint must not carry credentials", t.Server)
	}
	// Schemes are case-insensitive (RFC 3986 3.1): HTTP:// is plain http and must meet the same
	// rule as http://.
	var https bool
	switch strings.ToLower(u.Scheme) {
	case "https":
		https = true
	case "http":
		if (t.Auth == "" || t.Auth == AuthBasic) && !t.AllowUnencryptedBasic {
			return nil, fmt.Errorf("winrm target %s: Basic authentication over plain http sends the password readable on the wire: use https or allow unencrypted Basic explicitly", t.Server)
		}
	default:
		return nil, fmt.Errorf("winrm target %s: endpoint scheme must be http or https", t.Server)
	}
	if u.Path != "" && u.Path != "/wsman" {
		return nil, fmt.Errorf("winrm target %s: endpoint path must be /wsman", t.Server)
	}
	port := 5985
	if https {
		port = 5986
	}
	if ps := u.Port(); ps != "" {
		port, err = strconv.Atoi(ps)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("winrm target %s: invalid endpoint port", t.Server)
		}
	}
	ep := &mzwinrm.Endpoint{
		Host:     u.Hostname(),
		Port:     port,
		HTTPS:    https,
		Insecure: t.InsecureSkipVerify,
		CACert:   t.CACert,
		// The response-header timeout must outlast a Receive long poll.
		Timeout: p.opts.OperationTimeout + 10*time.Second,
	}
	conns := &connSet{conns: map[net.Conn]struct{}{}}
	dialer := &net.Dialer{Timeout: p.opts.DialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return conns.add(c), nil
	}
	params := mzwinrm.NewParameters(isoSeconds(p.opts.OperationTimeout), "en-US", envelopeSize)
	switch t.Auth {
	case "", AuthBasic:
		params.Dial = func(network, addr string) (net.Conn, error) { return dial(context.Background(), network, addr) }
	case AuthNTLM:
		// Over plain HTTP the bodies are sealed (MS-WSMV message encryption), as a Windows
		// listener with its default AllowUnencrypted=false requires.
		params.TransportDecorator = func() mzwinrm.Transporter { return newNTLMTransport(t.Username, t.Password, !https, dial) }
	case AuthCredSSP:
		params.TransportDecorator = func() mzwinrm.Transporter { return newCredSSPTransport(t.Username, t.Password, !https, dial) }
	default:
		return nil, fmt.Errorf("winrm target %s: auth must be %s, %s or %s", t.Server, AuthBasic, AuthNTLM, AuthCredSSP)
	}
	client, err := mzwinrm.NewClientWithParameters(ep, t.Username, t.Password, params)
	if err != nil {
		// The only failure is an unreadable CA bundle; the message holds no secret.
		return nil, fmt.Errorf("winrm target %s: %w: CA certificate: %s", t.Server, ErrTLS, scrub(err.Error(), t.Password))
	}
	return &target{server: t.Server, client: client, hash: h, password: t.Password, conns: conns,
		shells: &shellCache{idle: p.opts.ShellIdle}, procs: &processSet{live: map[*Process]struct{}{}}}, nil
}

func isoSeconds(d time.Duration) string {
	s := int(d / time.Second)
	if s < 1 {
		s = 1
	}
	return "PT" + strconv.Itoa(s) + "S"
}

// Run runs command on server and returns its output and exit code. A non-zero exit code is not
// an error. stdin, when not nil (even empty), is sent in pieces and then closed; when nil, stdin
// stays open and the command must not read it. When ctx ends, a command already started is
// signalled to terminate at once. A deadline (the caller wants an answer in time) returns at
// once; a cancellation (the caller, often a stopping manager, goes away) waits up to
// Options.CancelWait for the server to confirm that the command ended, so that no command
// outlives its caller unannounced: the error then says whether it was terminated or may still
// be running.
func (p *Pool) Run(ctx context.Context, server, command string, stdin []byte) (Result, error) {
	start := time.Now()
	res, err := p.run(ctx, server, command, stdin)
	if p.opts.Metrics != nil {
		p.opts.Metrics(server, resultOf(err), time.Since(start))
	}
	return res, err
}

func (p *Pool) run(ctx context.Context, server, command string, stdin []byte) (Result, error) {
	p.mu.Lock()
	t, slot, closed := p.targets[server], p.slots[server], p.closed
	if isProbe(ctx) {
		slot = p.probeSlots[server]
	}
	p.mu.Unlock()
	if closed {
		return Result{}, &Error{Server: server, Kind: ErrUnreachable, Detail: "pool closed"}
	}
	if t == nil {
		return Result{}, &Error{Server: server, Kind: ErrUnknownServer}
	}
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return Result{}, classify(server, ctx.Err(), "")
	}
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	var started atomic.Bool
	go func() {
		// The slot is held until masterzen is finished with the server, even when the caller has
		// gone, so a hung server cannot collect more than MaxConcurrent shells.
		defer func() { <-slot }()
		res, err := p.attempts(ctx, t, command, stdin, &started)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-ctx.Done():
	}
	if !started.Load() || !errors.Is(ctx.Err(), context.Canceled) {
		return Result{}, classify(server, ctx.Err(), "")
	}
	timer := time.NewTimer(p.opts.CancelWait)
	defer timer.Stop()
	select {
	case o := <-done:
		return o.res, o.err
	case <-timer.C:
		return Result{}, contextError(server, ctx.Err(),
			"the command was signalled to terminate but the server did not confirm that it ended: it may still be running")
	}
}

// attempts runs the command in a kept shell, or in a new one when none is kept or the kept one
// was lost before the command started (shellLost); it retries only failures to create the shell:
// before Create succeeds no command ran.
func (p *Pool) attempts(ctx context.Context, t *target, command string, stdin []byte, started *atomic.Bool) (Result, error) {
	for shell := t.shells.get(); shell != nil; shell = t.shells.get() {
		res, err, lost := p.execute(ctx, t, shell, true, command, stdin, started)
		if !lost {
			return res, err
		}
	}
	backoff := p.opts.Backoff
	for attempt := 1; ; attempt++ {
		shell, err := t.client.CreateShell()
		if err == nil {
			res, err, _ := p.execute(ctx, t, shell, false, command, stdin, started)
			return res, err
		}
		cerr := classify(t.server, err, t.password)
		if attempt >= p.opts.Attempts || IsTerminal(cerr) || !errors.Is(cerr, ErrUnreachable) {
			return Result{}, cerr
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return Result{}, classify(t.server, ctx.Err(), "")
		}
		backoff *= 2
	}
}

// execute runs the command in shell. The shell is kept for the next command when this one ended
// normally, and deleted otherwise. lost reports a kept shell the server no longer had, in which
// the command did not start: the caller opens another.
func (p *Pool) execute(ctx context.Context, t *target, shell *mzwinrm.Shell, kept bool, command string, stdin []byte,
	started *atomic.Bool) (res Result, err error, lost bool) {
	reuse := false
	defer func() {
		if !reuse || !t.shells.put(shell) {
			_ = shell.Close()
		}
	}()
	// Marked before the context is checked: a caller that saw no command start returns at once,
	// and then this check keeps one from starting.
	started.Store(true)
	if ctx.Err() != nil {
		// The shell is untouched: keep it.
		reuse = true
		return Result{}, classify(t.server, ctx.Err(), ""), false
	}
	// masterzen signals a cancelled command only once its current Receive long poll returns, up
	// to OperationTimeout later; the command is signalled here the moment ctx ends instead.
	cmd, err := shell.ExecuteWithContext(context.WithoutCancel(ctx), command)
	if err != nil {
		if kept && shellLost(err) {
			return Result{}, nil, true
		}
		return Result{}, classify(t.server, err, t.password), false
	}
	res, err, reuse = p.collect(ctx, t, cmd, stdin)
	return res, err, false
}

// collect streams a started command's input and output until it ends; reusable tells whether its
// shell may take the next command (the command ended by itself and every stream completed).
func (p *Pool) collect(ctx context.Context, t *target, cmd *mzwinrm.Command, stdin []byte) (Result, error, bool) {
	var closeOnce sync.Once
	terminate := func() { closeOnce.Do(func() { _ = cmd.Close() }) }
	stopWatch := context.AfterFunc(ctx, terminate)
	var (
		wg                 sync.WaitGroup
		stdout, stderr     bytes.Buffer
		outErr, errErr, in error
	)
	if stdin != nil {
		wg.Go(func() { in = sendStdin(cmd, stdin) })
	}
	var out io.Writer = &stdout
	if w := stdoutWriter(ctx); w != nil {
		out = w
	}
	wg.Go(func() { _, outErr = io.Copy(out, cmd.Stdout) })
	wg.Go(func() { _, errErr = io.Copy(&stderr, cmd.Stderr) })
	cmd.Wait()
	wg.Wait()
	signalled := !stopWatch()
	terminate()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: cmd.ExitCode()}
	if signalled {
		// The output may stop part way: the result is not the command's.
		return Result{}, contextError(t.server, ctx.Err(), "the command was signalled to terminate and ended"), false
	}
	for _, e := range []error{outErr, errErr} {
		if e != nil {
			return res, classify(t.server, e, t.password), false
		}
	}
	if in != nil {
		return res, classify(t.server, fmt.Errorf("sending stdin: %w", in), t.password), false
	}
	return res, nil, true
}

// contextError is the error of a command whose context ended, with what became of it.
func contextError(server string, ctxErr error, detail string) error {
	kind := error(context.Canceled)
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		kind = ErrTimeout
	}
	return &Error{Server: server, Kind: kind, Detail: detail}
}

// sendStdin writes data in pieces no larger than maxSendChunk, then closes stdin (End="true").
func sendStdin(cmd *mzwinrm.Command, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), maxSendChunk)
		if _, err := cmd.Stdin.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return cmd.Stdin.Close()
}

// connSet tracks a client's connections so Close can release them.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

// Close forgets the connection and closes it.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}

func (s *connSet) add(c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c, set: s}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
