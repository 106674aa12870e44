// Command capture turns a real server's answers to the operator's read-only commands into
// recordings, in the format of the shared WinRS recordings, for golden tests: see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ocsha/ocs-ha-operator/internal/ocs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr, os.Getenv)
	if err == nil {
		err = capture(ctx, cfg, os.Stdout)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "capture:", err)
		stop()
		os.Exit(1)
	}
}

// config is what a capture needs.
type config struct {
	Target   winrm.Target
	FQDN     string
	Product  ocs.Product
	Tools    ocs.Tools
	Services []string
	Out      string
	NetBIOS  string
	Redact   []string
	Timeout  time.Duration
}

// passwordEnv names the environment variable holding the password: never a flag, which the
// process list would show.
const passwordEnv = "OCSHA_CAPTURE_PASSWORD"

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("capture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Target.Endpoint, "endpoint", "", "WS-Management URL of the server, e.g. https://ocs1.contoso.com:5986/wsman (required)")
	fs.StringVar(&cfg.Target.Server, "name", "ocs1", "the server's name in the recordings before redaction (as spec.servers[].name)")
	fs.StringVar(&cfg.FQDN, "fqdn", "", "the server's FQDN, the pool FQDN of a Standard Edition server (required)")
	product := fs.String("product", string(ocs.ProductOCS2007R2), "OCS2007R2 or SkypeForBusiness")
	fs.StringVar(&cfg.Target.Auth, "auth", winrm.AuthCredSSP, "CredSSP (as the operator by default), NTLM or Basic")
	fs.BoolVar(&cfg.Target.AllowUnencryptedBasic, "allow-unencrypted-basic", false, "allow Basic over plain http (labs only: the password crosses the wire readable)")
	fs.StringVar(&cfg.Target.Username, "username", "", "account, as in the OCSPool's credentials Secret (required); the password is read from $"+passwordEnv)
	ca := fs.String("ca-file", "", "PEM file of the CA that signed the listener's certificate")
	fs.BoolVar(&cfg.Target.InsecureSkipVerify, "insecure-skip-verify", false, "do not verify the listener's certificate (labs only)")
	fs.StringVar(&cfg.Tools.LcscmdPath, "lcscmd-path", "", "as spec.tools.lcscmdPath (default: the operator's)")
	fs.StringVar(&cfg.Tools.DBImpExpPath, "dbimpexp-path", "", "as spec.tools.dbimpexpPath (default: the operator's)")
	services := fs.String("services", "RtcSrv,W3SVC", "services whose health is recorded, comma-separated")
	fs.StringVar(&cfg.Out, "out", "", "directory the recordings are written to (required; created)")
	fs.StringVar(&cfg.NetBIOS, "netbios-domain", "", "NetBIOS name of the domain, redacted as CORP")
	redact := fs.String("redact", "", "more words to replace with \"redacted\", comma-separated (site names, people)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "bound of each command")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if cfg.Target.Endpoint == "" || cfg.FQDN == "" || cfg.Target.Username == "" || cfg.Out == "" {
		return config{}, errors.New("--endpoint, --fqdn, --username and --out are required")
	}
	if cfg.Target.Password = getenv(passwordEnv); cfg.Target.Password == "" {
		return config{}, fmt.Errorf("set the password in $%s", passwordEnv)
	}
	cfg.Product = ocs.Product(*product)
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return config{}, fmt.Errorf("reading --ca-file: %w", err)
		}
		cfg.Target.CACert = pem
	}
	cfg.Services = splitList(*services)
	cfg.Redact = splitList(*redact)
	return cfg, nil
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

// capture runs the agent's read-only operations on the server through the operator's transport
// and writes one recording per command. Nothing it runs changes the server: the exports write
// temporary files in %TEMP% and delete them.
func capture(ctx context.Context, cfg config, stdout io.Writer) error {
	pool := winrm.NewPool(winrm.Options{})
	defer pool.Close()
	if err := pool.SetTargets([]winrm.Target{cfg.Target}); err != nil {
		return err
	}
	rec := &recorder{next: pool}
	server := cfg.Target.Server
	agent, err := ocs.NewAgent(cfg.Product, []ocs.Server{{Name: server, FQDN: cfg.FQDN}}, rec, ocs.WithTools(cfg.Tools))
	if err != nil {
		return err
	}
	steps := []struct {
		op  string
		run func(context.Context) error
	}{
		{ocs.OpPreflight, func(ctx context.Context) error { _, err := agent.Preflight(ctx, server); return err }},
		{ocs.OpServiceHealth, func(ctx context.Context) error { _, err := agent.ServiceHealth(ctx, server, cfg.Services); return err }},
		{ocs.OpListUsers, func(ctx context.Context) error { _, err := agent.ListUsers(ctx, server); return err }},
		{ocs.OpListHomedUsers, func(ctx context.Context) error { _, err := agent.ListHomedUsers(ctx, server, server); return err }},
		{ocs.OpExportContacts, func(ctx context.Context) error { _, err := agent.ExportContacts(ctx, server, nil); return err }},
		{ocs.OpExportConfiguration, func(ctx context.Context) error { _, err := agent.ExportConfiguration(ctx, server); return err }},
	}
	for _, s := range steps {
		rec.setOp(s.op)
		sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		err := s.run(sctx)
		cancel()
		// A failed operation is recorded too: a real server's refusal is golden data.
		fmt.Fprintf(stdout, "%-20s %s\n", s.op, outcome(err))
	}
	return write(cfg, rec.exchanges)
}

func outcome(err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return "ok"
}

// write redacts the exchanges and writes them as NN-<operation>.yml files.
func write(cfg config, exchanges []exchange) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	r := newRedactor(map[string]string{cfg.Target.Server: cfg.FQDN}, cfg.Target.Username, cfg.NetBIOS, cfg.Tools, ocs.DefaultTools(), cfg.Redact)
	for i, ex := range exchanges {
		if ex.err != nil {
			continue // the transport failed: nothing the server said
		}
		ex.command = r.command(ex.command)
		if ex.stdin != nil {
			ex.stdin = []byte(r.text(string(ex.stdin)))
		}
		ex.result.Stdout = r.output(ex.result.Stdout)
		ex.result.Stderr = r.output(ex.result.Stderr)
		data, err := yaml.Marshal(recording{Messages: envelopes(ex),
			Capture: captureInfo{Operation: ex.op, Product: string(cfg.Product), Server: r.text(cfg.Target.Server)}})
		if err != nil {
			return err
		}
		name := filepath.Join(cfg.Out, fmt.Sprintf("%02d-%s.yml", i+1, strings.ToLower(ex.op)))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
