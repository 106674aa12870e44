package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/costclock"
	"github.com/ocsha/ocs-ha-operator/internal/sim/gateway"
	"github.com/ocsha/ocs-ha-operator/internal/sim/host"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ntlm"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
	"github.com/ocsha/ocs-ha-operator/internal/sim/wsman"
)

// DefaultPassword is the development password of the emulated administrator account.
const DefaultPassword = "OcsSim-Dev-2007R2!"

// DefaultUsername is the emulated administrator account (its %TEMP% is winfs.TempDir).
const DefaultUsername = "ocsadmin"

// Config is the emulator's configuration; the field set mirrors the ocs-sim flags.
type Config struct {
	// Servers are the emulated servers' short names; each FQDN is <name>.<Domain>.
	Servers []string
	// Users are spread evenly over the servers; each gets ContactsPerUser contacts.
	Users           int
	ContactsPerUser int
	// Listen is the address the endpoints bind (default 127.0.0.1).
	Listen string
	// BasePort is the first server's port, the next server's is BasePort+1…; 0 picks random ports.
	BasePort int
	// Admin is the admin API's listen address (default 127.0.0.1:18080; use port 0 in tests).
	Admin string
	// Username and Password are the administrator account of every endpoint. It exists both as a
	// local account of each server (which Basic logs on) and as an account of the domain
	// NetBIOSDomain (which only NTLM and CredSSP log on, as on Windows).
	Username, Password string
	// Auth lists the schemes the endpoints offer, "basic", "ntlm" and "credssp" (default all three).
	Auth []string
	// DoubleHop makes the directory commands (MSFT_SIPESUserSetting queries and Put(), Get-CsUser,
	// Move-CsUser, Update-CsUserData) fail with access denied unless their shell was created by a
	// CredSSP logon, which holds the account's credentials for the domain controller, as on a real
	// domain. The zero value keeps the permissive lab behaviour that Basic and NTLM tests rely on;
	// ocs-sim turns it on by default (--double-hop=on).
	DoubleHop bool
	// NetBIOSDomain is the NetBIOS name of the domain (default: the first label of Domain in upper
	// case, CORP for corp.example.com).
	NetBIOSDomain string
	// RequireEncryption makes the HTTP endpoints accept only NTLM- or CredSSP-encrypted bodies, as
	// Windows' default AllowUnencrypted=false does; Basic over plain HTTP then fails. HTTPS
	// endpoints need no encryption.
	// The zero value allows unencrypted bodies, so that Basic over plain HTTP works in labs.
	RequireEncryption bool
	// OnLogonFailure, when set, is told why a logon to a server failed (the client only sees a
	// 401); the error never holds a password.
	OnLogonFailure func(server string, err error)
	// TLS serves HTTPS with a self-signed CA; CertOut, when set, receives the CA as PEM.
	TLS     bool
	CertOut string
	// Latency is added to every WS-Management request.
	Latency time.Duration
	// MoveCost and ImportCost are per-user server-side costs.
	MoveCost, ImportCost time.Duration
	// ProcessCost (each program start), ModuleCost (the product's module, once per powershell
	// process), ShellCost (each WinRS shell created) and ExportCost (per user exported) are
	// Windows' own costs; zero spends nothing.
	ProcessCost, ModuleCost, ShellCost, ExportCost time.Duration
	Seed                                           int64

	// Domain is the DNS domain of the servers (default corp.example.com).
	Domain string
	// IdleTimeout expires idle shells (default 7200 s).
	IdleTimeout time.Duration
	// TimeoutMargin is how much earlier than OperationTimeout a Receive times out (default 5 s).
	TimeoutMargin time.Duration
	// NewWorld builds the emulated deployment (default: the OCS host emulation).
	NewWorld func(WorldConfig) (World, error)
	// Sleep is what emulated programs wait with, PowerShell's Start-Sleep (default: a real
	// timer). It returns early with ctx's error when the command is stopped. Tests set it to
	// decide when a sleep ends.
	Sleep func(ctx context.Context, d time.Duration) error

	// Product is what the servers run: "OCS2007R2" (default) or "SkypeForBusiness".
	Product string
	// MoveLag is how long directory reads still show a moved user's old home (0: none).
	MoveLag time.Duration
	// Profile is every server's software beyond the product (zero: the product's defaults);
	// ServerProfiles' set fields override it per server name.
	Profile        Profile
	ServerProfiles map[string]Profile
	// Gateways is how many PSTN gateways (gw1…) answer SIP OPTIONS (ocs-sim --gateways).
	Gateways int
	// Mediation and Edge are the role servers' short names (ocs-sim --mediation, --edge): each
	// has an endpoint like a front end's, after the front ends' (base-port + index), runs its
	// role's services, homes no users and is no pool (roles.go).
	Mediation, Edge []string
}

// Profile is an emulated server's software beyond its product, for tests of what the operator
// finds on real servers (ocs-sim --console-width, --powershell-version, --missing-tools,
// --missing-module).
type Profile struct {
	// PowerShell is "1.0", "2.0" or "5.1" ("": 2.0 on OCS 2007 R2, 5.1 on Skype for Business).
	PowerShell string
	// ConsoleWidth wraps powershell.exe's stdout and stderr at this many columns, as a
	// PowerShell 2.0 host over WinRM does (0: 80 on OCS 2007 R2, none on Skype for Business;
	// negative: none).
	ConsoleWidth int
	// MissingTools are OCS 2007 R2 tools absent from their install paths: "lcscmd", "dbimpexp".
	MissingTools []string
	// MissingModule removes the MSFT_SIP* WMI classes (OCS 2007 R2) or the SkypeForBusiness
	// module (Skype for Business).
	MissingModule bool
}

// Emulator is a running emulator.
type Emulator struct {
	cfg     Config
	world   World
	tlsCert *tls.Certificate
	caPEM   []byte
	servers []*server
	byName  map[string]*server

	admin   *http.Server
	adminLn net.Listener

	// latency is the latency added to every WS-Management request, settable at run time
	// (PUT /latency); it starts at Config.Latency.
	latency atomic.Int64

	cmdMu    sync.Mutex
	commands map[string][]string

	gateways []*gateway.Gateway

	closeOnce sync.Once
	closed    chan struct{}
}

// server is one emulated Windows server's endpoint.
type server struct {
	name, fqdn string
	addr       string // host:port, fixed for restarts
	handler    *wsman.Handler
	auth       serverAuth
	fs         *winfs.FS

	mu   sync.Mutex
	http *http.Server // nil while crashed
}

// Start builds the world and starts every endpoint and the admin API. Close stops them.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	cfg.applyDefaults()
	schemes, err := authSchemes(cfg.Auth)
	if err != nil {
		return nil, err
	}
	if cfg.NewWorld == nil {
		cfg.NewWorld = newHostWorld
	}
	wc := WorldConfig{Domain: cfg.Domain, Users: cfg.Users, ContactsPerUser: cfg.ContactsPerUser, Seed: cfg.Seed,
		MoveCost: cfg.MoveCost, ImportCost: cfg.ImportCost, ProcessCost: cfg.ProcessCost, ModuleCost: cfg.ModuleCost,
		ExportCost: cfg.ExportCost, Sleep: cfg.Sleep, Product: cfg.Product, Profile: cfg.Profile, MoveLag: cfg.MoveLag,
		DoubleHop: cfg.DoubleHop}
	if wc.Servers, err = cfg.serverSpecs(); err != nil {
		return nil, err
	}
	world, err := cfg.NewWorld(wc)
	if err != nil {
		return nil, fmt.Errorf("building the emulated deployment: %w", err)
	}
	e := &Emulator{cfg: cfg, world: world, byName: map[string]*server{}, commands: map[string][]string{}, closed: make(chan struct{})}
	e.latency.Store(int64(cfg.Latency))
	if cfg.TLS {
		if err := e.makeCertificate(wc.Servers); err != nil {
			return nil, err
		}
	}
	for i, spec := range wc.Servers {
		if err := e.startServer(i, spec, schemes); err != nil {
			e.Close()
			return nil, err
		}
	}
	if err := e.startGateways(); err != nil {
		e.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Admin)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("listening for the admin API: %w", err)
	}
	e.adminLn = ln
	e.admin = &http.Server{Handler: e.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.admin.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-e.closed:
		}
	}()
	return e, nil
}

// applyDefaults fills the settings left empty.
func (cfg *Config) applyDefaults() {
	if len(cfg.Servers) == 0 {
		cfg.Servers = []string{"ocs1", "ocs2"}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:18080"
	}
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.Domain == "" {
		cfg.Domain = "corp.example.com"
	}
	if cfg.NetBIOSDomain == "" {
		cfg.NetBIOSDomain = strings.ToUpper(strings.SplitN(cfg.Domain, ".", 2)[0])
	}
}

// makeCertificate makes the self-signed certificate every endpoint serves, for the servers'
// names and the local addresses, and writes its CA to cfg.CertOut when set.
func (e *Emulator) makeCertificate(servers []ServerSpec) error {
	hosts := []string{"127.0.0.1", "localhost", "::1", e.cfg.Listen}
	for _, s := range servers {
		hosts = append(hosts, s.FQDN, s.Name)
	}
	cert, ca, err := selfSigned(hosts)
	if err != nil {
		return err
	}
	e.tlsCert, e.caPEM = &cert, ca
	if e.cfg.CertOut != "" {
		if err := os.WriteFile(e.cfg.CertOut, ca, 0o644); err != nil {
			return fmt.Errorf("writing the CA certificate: %w", err)
		}
	}
	return nil
}

// startServer builds the i-th server's WS-Management handler behind its authentication and
// starts listening.
func (e *Emulator) startServer(i int, spec ServerSpec, schemes authConfig) error {
	cfg := e.cfg
	port := 0
	if cfg.BasePort != 0 {
		port = cfg.BasePort + i
	}
	fs := winfs.New()
	if p, ok := e.world.(fsProvider); ok && p.FS(spec.Name) != nil {
		fs = p.FS(spec.Name) // the world's programs keep their files there too
	}
	s := &server{name: spec.Name, fqdn: spec.FQDN, fs: fs, addr: net.JoinHostPort(cfg.Listen, strconv.Itoa(port))}
	s.handler = wsman.NewHandler(wsman.Config{
		Runner:   e.runner(s),
		Validate: e.validate(s),
		Authenticate: func(r *http.Request) (string, bool) {
			id, ok := ntlm.IdentityFromContext(r.Context())
			return id.Name(), ok
		},
		Delegated: func(r *http.Request) bool {
			id, _ := ntlm.IdentityFromContext(r.Context())
			return id.Delegated
		},
		IdleTimeout:   cfg.IdleTimeout,
		TimeoutMargin: cfg.TimeoutMargin,
		Latency:       cfg.Latency,
		ShellCost:     cfg.ShellCost,
		LatencyNow:    e.currentLatency,
	})
	s.auth = e.newAuth(spec, schemes, s.handler)
	e.servers = append(e.servers, s)
	e.byName[strings.ToLower(s.name)] = s
	return e.listen(s)
}

// listen (re)opens a server's endpoint on its address; the first call fixes a random port.
func (e *Emulator) listen(s *server) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listening for %s: %w", s.name, err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: s.auth.handler, ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			// Each connection keeps its own account of latency and shell costs (costclock).
			return costclock.WithLedger(s.auth.connContext(ctx, c))
		}}
	if e.tlsCert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*e.tlsCert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.http = srv
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// crash closes the endpoint and every open connection, so clients see refused connections, and
// drops the shells, as a power cut would.
func (e *Emulator) crash(s *server) {
	s.mu.Lock()
	srv := s.http
	s.http = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	s.handler.Reset()
}

// Close stops every endpoint and the admin API.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		close(e.closed)
		if e.admin != nil {
			_ = e.admin.Close()
		}
		for _, s := range e.servers {
			e.crash(s)
			s.handler.Close()
		}
		for _, g := range e.gateways {
			g.Close()
		}
	})
}

// Endpoint returns the WS-Management URL of a server ("" if unknown).
func (e *Emulator) Endpoint(name string) string {
	s := e.byName[strings.ToLower(name)]
	if s == nil {
		return ""
	}
	scheme := "http"
	if e.tlsCert != nil {
		scheme = "https"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return scheme + "://" + s.addr + "/wsman"
}

// AdminURL returns the admin API's base URL.
func (e *Emulator) AdminURL() string { return "http://" + e.adminLn.Addr().String() }

// CACertPEM returns the CA that signed the endpoints' certificate (nil without TLS).
func (e *Emulator) CACertPEM() []byte { return e.caPEM }

// RequestCount returns the WS-Management requests a server received.
func (e *Emulator) RequestCount(name string) int64 {
	s := e.byName[strings.ToLower(name)]
	if s == nil {
		return 0
	}
	return s.handler.Requests()
}

// World returns the emulated deployment.
func (e *Emulator) World() World { return e.world }

// Commands returns the command lines a server executed, in order.
func (e *Emulator) Commands(name string) []string {
	e.cmdMu.Lock()
	defer e.cmdMu.Unlock()
	s := e.byName[strings.ToLower(name)]
	if s == nil {
		return nil
	}
	return append([]string(nil), e.commands[s.name]...)
}

func (e *Emulator) record(s *server, line string) {
	e.cmdMu.Lock()
	defer e.cmdMu.Unlock()
	e.commands[s.name] = append(e.commands[s.name], line)
}

// runner runs a server's commands through cmd.exe (or directly with WINRS_SKIP_CMD_SHELL).
func (e *Emulator) runner(s *server) wsman.Runner {
	return func(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) int {
		e.record(s, line)
		// Each command keeps its own account of program, module, move, import and export costs.
		ctx = costclock.WithLedger(ctx)
		opts := e.options(ctx, s)
		info, _ := wsman.ShellFromContext(ctx)
		ctx = host.WithDelegatedCredentials(ctx, info.Delegated)
		if info.SkipCmdShell {
			return cmdexe.RunDirect(ctx, opts, line, stdin, stdout, stderr)
		}
		return cmdexe.Run(ctx, opts, line, stdin, stdout, stderr)
	}
}

func (e *Emulator) validate(s *server) func(context.Context, string) error {
	return func(ctx context.Context, line string) error {
		info, _ := wsman.ShellFromContext(ctx)
		if !info.SkipCmdShell {
			return nil
		}
		if err := cmdexe.Resolve(e.options(ctx, s), line); err != nil {
			return fmt.Errorf("%s: %w", line, wsman.ErrFileNotFound)
		}
		return nil
	}
}

func (e *Emulator) options(ctx context.Context, s *server) cmdexe.Options {
	info, _ := wsman.ShellFromContext(ctx)
	env := windowsEnvironment(s.name, e.cfg.NetBIOSDomain, info.NoProfile)
	for _, v := range info.Environment {
		env.Set(v.Name, v.Value)
	}
	dir := info.WorkingDirectory
	if dir == "" {
		dir, _ = env.Get("USERPROFILE")
	}
	return cmdexe.Options{Programs: e.world.Programs(s.name), FS: s.fs, Env: env, Dir: dir, CodePage: info.CodePage}
}

// profileDir is the operator account's profile, the parent of winfs.TempDir.
var profileDir = strings.TrimSuffix(winfs.TempDir, `\AppData\Local\Temp`)

// windowsEnvironment is the environment a WinRS command sees on Windows Server 2008 R2 (the
// OCS 2007 R2 platform). Without a profile (WINRS_NOPROFILE) the per-user variables fall back to
// the Default profile and the system TEMP, as a recording shows.
func windowsEnvironment(server, netbios string, noProfile bool) *cmdexe.Environment {
	user := profileDir[strings.LastIndexByte(profileDir, '\\')+1:]
	env := cmdexe.NewEnvironment(
		"ALLUSERSPROFILE", `C:\ProgramData`,
		"CommonProgramFiles", `C:\Program Files\Common Files`,
		"CommonProgramFiles(x86)", `C:\Program Files (x86)\Common Files`,
		"CommonProgramW6432", `C:\Program Files\Common Files`,
		"COMPUTERNAME", strings.ToUpper(server),
		"ComSpec", `C:\Windows\system32\cmd.exe`,
		"NUMBER_OF_PROCESSORS", "2",
		"OS", "Windows_NT",
		"Path", `C:\Windows\system32;C:\Windows;C:\Windows\System32\Wbem;C:\Windows\System32\WindowsPowerShell\v1.0\`,
		"PATHEXT", ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
		"PROCESSOR_ARCHITECTURE", "AMD64",
		"PROCESSOR_IDENTIFIER", "Intel64 Family 6 Model 70 Stepping 1, GenuineIntel",
		"PROCESSOR_LEVEL", "6",
		"PROCESSOR_REVISION", "4601",
		"ProgramData", `C:\ProgramData`,
		"ProgramFiles", `C:\Program Files`,
		"ProgramFiles(x86)", `C:\Program Files (x86)`,
		"ProgramW6432", `C:\Program Files`,
		"PROMPT", "$P$G",
		"PSModulePath", `C:\Windows\system32\WindowsPowerShell\v1.0\Modules\`,
		"PUBLIC", `C:\Users\Public`,
		"SystemDrive", "C:",
		"SystemRoot", `C:\Windows`,
		"USERDOMAIN", netbios,
		"USERNAME", user,
		"windir", `C:\Windows`,
	)
	if noProfile {
		env.Set("TEMP", `C:\Windows\TEMP`)
		env.Set("TMP", `C:\Windows\TEMP`)
		env.Set("USERPROFILE", `C:\Users\Default`)
		return env
	}
	env.Set("APPDATA", profileDir+`\AppData\Roaming`)
	env.Set("LOCALAPPDATA", profileDir+`\AppData\Local`)
	env.Set("TEMP", winfs.TempDir)
	env.Set("TMP", winfs.TempDir)
	env.Set("USERPROFILE", profileDir)
	return env
}

// errUnknownServer is returned for a server name the emulator does not run.
var errUnknownServer = errors.New("unknown server")

func (e *Emulator) server(name string) (*server, error) {
	s := e.byName[strings.ToLower(name)]
	if s == nil {
		return nil, fmt.Errorf("%q: %w", name, errUnknownServer)
	}
	return s, nil
}
