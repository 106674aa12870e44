// Command ocs-sim emulates OCS 2007 R2 / Skype for Business servers behind WS-Management
// endpoints, plus an admin HTTP API, for developing and testing the operator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "ocs-sim:", err)
		stop()
		os.Exit(1)
	}
}

// run starts the emulator, prints "ocs-sim ready" once everything listens and serves until ctx
// ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := servePprof(cfg.Pprof, stderr); err != nil {
		return err
	}
	e, err := sim.Start(ctx, cfg.Config)
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Fprintln(stdout, "ocs-sim ready")
	<-ctx.Done()
	return nil
}

// options are the emulator's configuration and what the command itself serves.
type options struct {
	sim.Config
	// Pprof is the address Go's profiles are served on; empty: none.
	Pprof string
}

// parseFlags turns the command line into the emulator's configuration; usage and flag errors go
// to stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var cfg options
	fs := flag.NewFlagSet("ocs-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Pprof, "pprof", "", "address to serve Go's pprof profiles of the emulator on, to see where its own CPU goes (empty: off)")
	servers := fs.String("servers", "ocs1,ocs2", "comma-separated names of the emulated front-end servers (FQDN <name>.corp.example.com)")
	mediation := fs.String("mediation", "", "comma-separated names of emulated Mediation servers (FQDN <name>.corp.example.com): "+
		"endpoints after the front ends' (base-port + index), the role's services, no users; the admin API's crash, stop-service[?service=NAME] and start work on them")
	edge := fs.String("edge", "", "comma-separated names of emulated Edge servers (Access, A/V and Web Conferencing Edge services), as --mediation")
	fs.IntVar(&cfg.Users, "users", 100, "number of users, spread evenly over the servers (user0001@corp.example.com, …)")
	fs.IntVar(&cfg.ContactsPerUser, "contacts-per-user", 10, "contacts in each user's list")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1", "address the WS-Management endpoints listen on")
	fs.IntVar(&cfg.BasePort, "base-port", 15985, "port of the first server's endpoint; the next server gets base-port+1, and so on, front ends first, then --mediation, then --edge (0: random ports)")
	fs.StringVar(&cfg.Admin, "admin", "127.0.0.1:18080", "listen address of the admin HTTP API")
	fs.StringVar(&cfg.Username, "username", sim.DefaultUsername,
		"administrator account of the endpoints: a local account of each server (Basic: user) and a domain account (NTLM, CredSSP: DOMAIN\\user or user@corp.example.com)")
	fs.StringVar(&cfg.Password, "password", sim.DefaultPassword, "password of that account (the default is a fixed development password)")
	auth := fs.String("auth", "basic,ntlm,credssp", "comma-separated authentication schemes the endpoints offer: basic, ntlm, credssp")
	doubleHop := fs.String("double-hop", "on",
		"on: directory commands (user listings and moves) succeed only in sessions of a CredSSP logon, which holds the "+
			"account's credentials for the domain controller, as on a real domain; off: they succeed under any logon")
	fs.StringVar(&cfg.NetBIOSDomain, "domain", "CORP", "NetBIOS name of the domain the NTLM account belongs to (the DNS domain stays corp.example.com)")
	allowUnencrypted := fs.Bool("allow-unencrypted", true,
		"accept unencrypted bodies over plain HTTP (Windows' default is false; the emulator defaults to true so that Basic over plain HTTP works in labs); "+
			"false accepts only NTLM- or CredSSP-encrypted bodies over HTTP")
	fs.BoolVar(&cfg.TLS, "tls", false, "serve HTTPS with a self-signed CA (see --cert-out)")
	fs.StringVar(&cfg.CertOut, "cert-out", "", "file to write the CA certificate (PEM) to when --tls is set")
	fs.DurationVar(&cfg.Latency, "latency", 0, "delay added to every WS-Management request")
	fs.DurationVar(&cfg.MoveCost, "move-cost", 0, "server-side cost of moving one user")
	fs.DurationVar(&cfg.ImportCost, "import-cost", 0, "server-side cost of importing one user's contacts")
	fs.DurationVar(&cfg.ProcessCost, "process-cost", 0, "cost of each program start (powershell, sc, dbimpexp, lcscmd)")
	fs.DurationVar(&cfg.ModuleCost, "module-cost", 0, "cost of loading the product's module (Import-Module SkypeForBusiness|Lync or autoload), once per powershell process")
	fs.DurationVar(&cfg.ShellCost, "shell-cost", 0, "cost of each WinRS shell created (WS-Management Create)")
	fs.DurationVar(&cfg.ExportCost, "export-cost", 0, "server-side cost per user exported (dbimpexp export, Export-CsUserData)")
	fs.DurationVar(&cfg.MoveLag, "move-lag", 0, "how long directory reads still show a moved user's old home, as replication would")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated contact lists")
	fs.IntVar(&cfg.Gateways, "gateways", 0, "number of emulated PSTN gateways gw1… answering SIP OPTIONS on --listen (random ports, TLS with --tls, else TCP); "+
		"GET /gateways lists them, POST /gateways/{name}/stop|crash|start silences, kills or restarts one")
	fs.StringVar(&cfg.Product, "product", "OCS2007R2", "what the servers run: OCS2007R2 (WMI, dbimpexp, lcscmd) or SkypeForBusiness (Cs cmdlets)")
	width := fs.Int("console-width", -1, "column at which powershell.exe wraps stdout and stderr with CRLF, as a PowerShell 2.0 host over WinRM does; "+
		"0 turns wrapping off (default: 80 for OCS2007R2, 0 for SkypeForBusiness)")
	psVersion := fs.String("powershell-version", "", "PowerShell of the servers, 1.0, 2.0 or 5.1, for all servers or per server as server=version, comma-separated "+
		"(default: 2.0 for OCS2007R2, 5.1 for SkypeForBusiness)")
	tools := fs.String("missing-tools", "", "OCS 2007 R2 tools absent from their install paths, lcscmd and/or dbimpexp, for all servers or per server as server=tool, comma-separated")
	module := fs.String("missing-module", "", "servers without the product's management interface (the MSFT_SIP* WMI classes of OCS 2007 R2, the SkypeForBusiness module), comma-separated, or all")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if err := applyProfileFlags(&cfg.Config, *width, *psVersion, *tools, *module); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Servers, cfg.Auth = splitList(*servers), splitList(*auth)
	cfg.Mediation, cfg.Edge = splitList(*mediation), splitList(*edge)
	if len(cfg.Auth) == 0 {
		return options{}, fmt.Errorf("--auth names no scheme")
	}
	switch strings.ToLower(strings.TrimSpace(*doubleHop)) {
	case "on", "true":
		cfg.DoubleHop = true
	case "off", "false":
	default:
		return options{}, fmt.Errorf("--double-hop must be on or off, not %q", *doubleHop)
	}
	cfg.RequireEncryption = !*allowUnencrypted
	if cfg.CertOut != "" && !cfg.TLS {
		return options{}, fmt.Errorf("--cert-out needs --tls")
	}
	cfg.OnLogonFailure = func(server string, err error) {
		// The client only sees a 401; the reason helps whoever runs the emulator.
		fmt.Fprintf(stderr, "ocs-sim: %s: %v\n", server, err)
	}
	return cfg, nil
}

// applyProfileFlags reads the flags that shape the servers' software into cfg.Profile and
// cfg.ServerProfiles.
func applyProfileFlags(cfg *sim.Config, width int, psVersion, tools, module string) error {
	switch {
	case width == 0:
		cfg.Profile.ConsoleWidth = -1
	case width > 0:
		cfg.Profile.ConsoleWidth = width
	case width != -1:
		return fmt.Errorf("--console-width %d: want 0 (no wrapping) or a column count", width)
	}
	per := func(server string, set func(*sim.Profile)) {
		if server == "" {
			set(&cfg.Profile)
			return
		}
		if cfg.ServerProfiles == nil {
			cfg.ServerProfiles = map[string]sim.Profile{}
		}
		p := cfg.ServerProfiles[server]
		set(&p)
		cfg.ServerProfiles[server] = p
	}
	for _, item := range splitList(psVersion) {
		server, v := serverValue(item)
		per(server, func(p *sim.Profile) { p.PowerShell = v })
	}
	for _, item := range splitList(tools) {
		server, t := serverValue(item)
		per(server, func(p *sim.Profile) { p.MissingTools = append(p.MissingTools, t) })
	}
	for _, item := range splitList(module) {
		if strings.EqualFold(item, "all") {
			item = ""
		}
		per(item, func(p *sim.Profile) { p.MissingModule = true })
	}
	return nil
}

// serverValue splits "server=value"; a bare value applies to every server.
func serverValue(item string) (server, value string) {
	if s, v, ok := strings.Cut(item, "="); ok {
		return strings.TrimSpace(s), strings.TrimSpace(v)
	}
	return "", item
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// servePprof serves net/http/pprof's handlers on addr, when one is given, for the life of the process.
func servePprof(addr string, stderr io.Writer) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintln(stderr, "ocs-sim: pprof:", srv.Serve(ln))
	}()
	return nil
}
