package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// config is the command line.
type config struct {
	repo, work, outMD, outJSON string

	cost          costModel
	compare       costModel // zero Profile: no comparison run
	users         int
	contacts      int
	delay         time.Duration
	probeInterval time.Duration
	probeTimeout  time.Duration
	threshold     int
	batchSize     int
	pollInterval  time.Duration
	manualSample  int
	scalePools    int
	scaleUsers    int
	scaleContacts int
	scaleDuration time.Duration
	scenarios     map[string]bool
	micro         bool
	scenarioLimit time.Duration
	renderFrom    string
	// product is the OCSPool spec.product and the emulator's --product.
	product string
	// powershellIdle is the manager's --powershell-idle (0: its default).
	powershellIdle time.Duration
	// pprof serves the manager's and the emulators' Go profiles while the scenarios run.
	pprof bool
}

// allScenarios are the scenario names of --scenarios, in run order.
var allScenarios = []string{"failover", "drain", "manual", "scale"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var scenarios string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.repo, "repo", ".", "repository root (CRDs in config/crd/bases, packages to build)")
	fs.StringVar(&cfg.work, "work", "bin/bench", "directory for binaries, logs, backups and results.json")
	fs.StringVar(&cfg.outMD, "out", "docs/benchmarks.md", "the Markdown report to write")
	resolveCosts := bindCostFlags(fs)
	fs.IntVar(&cfg.users, "users", 5000, "users of the failover, drain, backup and manual emulators (half on each server)")
	fs.IntVar(&cfg.contacts, "contacts", 50, "contacts per user in those emulators")
	fs.DurationVar(&cfg.delay, "failover-delay", 5*time.Second, "UserHoming spec.failover.delay")
	fs.DurationVar(&cfg.probeInterval, "probe-interval", time.Second, "OCSPool spec.health.probeInterval (failover, drain)")
	fs.DurationVar(&cfg.probeTimeout, "probe-timeout", 500*time.Millisecond, "OCSPool spec.health.probeTimeout (failover, drain)")
	fs.IntVar(&cfg.threshold, "failure-threshold", 2, "OCSPool spec.health.failureThreshold (failover, drain)")
	fs.IntVar(&cfg.batchSize, "batch-size", 100, "UserHoming spec.moveBatchSize")
	fs.DurationVar(&cfg.pollInterval, "poll", 50*time.Millisecond, "how often status is read to timestamp phases")
	fs.IntVar(&cfg.manualSample, "manual-sample", 250, "users the manual procedure is measured on (0: all of one server); the rest is extrapolated linearly")
	fs.IntVar(&cfg.scalePools, "scale-pools", 20, "pools (one emulator each) of the scale scenario")
	fs.IntVar(&cfg.scaleUsers, "scale-users", 5000, "users per pool of the scale scenario (half on each server)")
	fs.IntVar(&cfg.scaleContacts, "scale-contacts", 10, "contacts per user of the scale scenario")
	fs.DurationVar(&cfg.scaleDuration, "scale-duration", 5*time.Minute, "how long the scale scenario reconciles")
	fs.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run: "+strings.Join(allScenarios, ",")+" (failover includes the backup measurements)")
	fs.BoolVar(&cfg.micro, "micro", true, "run the Go micro-benchmarks (placement planner, contacts XML parser) and include them")
	fs.DurationVar(&cfg.scenarioLimit, "scenario-timeout", 5*time.Minute, "give up on a phase that has not completed after this long")
	fs.StringVar(&cfg.product, "product", "OCS2007R2", "what the emulated servers run, OCS2007R2 or SkypeForBusiness (failover and drain only)")
	fs.DurationVar(&cfg.powershellIdle, "powershell-idle", 0,
		"the manager's --powershell-idle: how long a persistent powershell.exe of the Skype for Business dialect is kept idle (0: the manager's default; negative: none, one powershell.exe per operation)")
	fs.BoolVar(&cfg.pprof, "pprof", false, "serve Go profiles while the scenarios run: the manager's on 127.0.0.1:6060, each emulator's on a free port named in the bench's output")
	fs.StringVar(&cfg.renderFrom, "render", "", "only rewrite the report from this results.json (no measurement)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.cost, cfg.compare, err = resolveCosts(); err != nil {
		return cfg, err
	}
	if cfg.product != "OCS2007R2" && cfg.product != "SkypeForBusiness" {
		return cfg, fmt.Errorf("unknown --product %q", cfg.product)
	}
	cfg.scenarios = map[string]bool{}
	for _, s := range strings.Split(scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		known := false
		for _, k := range allScenarios {
			known = known || k == s
		}
		if !known {
			return cfg, fmt.Errorf("unknown scenario %q", s)
		}
		cfg.scenarios[s] = true
	}
	if cfg.product == "SkypeForBusiness" && (cfg.scenarios["manual"] || cfg.scenarios["scale"]) {
		return cfg, errors.New("--product SkypeForBusiness runs the failover and drain scenarios only (--scenarios failover,drain)")
	}
	if cfg.manualSample < 0 || cfg.users < 4 || cfg.users%2 != 0 || cfg.scalePools < 1 {
		return cfg, errors.New("--users must be even and at least 4, --manual-sample >= 0, --scale-pools >= 1")
	}
	if cfg.repo, err = filepath.Abs(cfg.repo); err != nil {
		return cfg, fmt.Errorf("resolving --repo: %w", err)
	}
	cfg.work = absUnder(cfg.repo, cfg.work)
	cfg.outMD = absUnder(cfg.repo, cfg.outMD)
	cfg.outJSON = filepath.Join(cfg.work, "results.json")
	return cfg, nil
}

// bindCostFlags defines the cost-model flags; the returned function, called after Parse, gives
// the run's model (the profile with the cost flags given explicitly) and the comparison model.
func bindCostFlags(fs *flag.FlagSet) func() (costModel, costModel, error) {
	profile := fs.String("profile", profileWindows, "cost model: windows (published Windows figures × --time-scale) or legacy (latency and 2 ms moves and imports only)")
	compare := fs.String("compare-profile", profileLegacy, "second cost model the failover, drain, backup and manual scenarios run again under, for comparison (empty: none)")
	scale := fs.Float64("time-scale", defaultTimeScale, "factor applied to the published Windows figures of the windows profile")
	concurrency := fs.Int("concurrency", 2, "per-server WinRM concurrency the floor assumes (internal/winrm's default)")
	costFlags := map[string]*time.Duration{}
	for _, f := range []struct{ name, usage string }{
		{"latency", "added to every WS-Management request"}, {"move-cost", "per moved user"}, {"import-cost", "per imported user"},
		{"process-cost", "per program start"}, {"module-cost", "per module load in a powershell process"},
		{"shell-cost", "per WinRS shell created"}, {"export-cost", "per exported user"},
	} {
		costFlags[f.name] = fs.Duration(f.name, 0, "emulator --"+f.name+": "+f.usage+" (default: the profile's)")
	}
	return func() (costModel, costModel, error) {
		var cmp costModel
		cm, err := profileModel(*profile, *scale)
		if err != nil {
			return cm, cmp, err
		}
		set := map[string]time.Duration{}
		fs.Visit(func(f *flag.Flag) {
			if d, ok := costFlags[f.Name]; ok {
				set[f.Name] = *d
			}
		})
		overrideCosts(&cm, set)
		cm.Concurrency = *concurrency
		if *compare != "" && *compare != *profile {
			if cmp, err = profileModel(*compare, *scale); err != nil {
				return cm, cmp, err
			}
			cmp.Concurrency = *concurrency
		}
		return cm, cmp, nil
	}
}

func absUnder(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// bench holds what the scenarios share.
type bench struct {
	cfg     config
	out     io.Writer
	binDir  string
	logDir  string
	cp      *controlPlane
	manager *managerProc
	res     *results
	// nsPrefix keeps a comparison run's namespaces apart: envtest has no namespace controller, so
	// a deleted namespace never goes away.
	nsPrefix string
}

// namespace is the namespace of a scenario in this run.
func (b *bench) namespace(scenario string) string { return b.nsPrefix + scenario }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.renderFrom != "" {
		return rerender(cfg.renderFrom, cfg.outMD)
	}
	// envtest logs through controller-runtime's logger; keep it quiet unless something fails.
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	b := newBench(cfg, stdout)
	for _, d := range []string{b.binDir, b.logDir, filepath.Join(cfg.work, "backups")} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("cleaning %s: %w", d, err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := b.build(ctx); err != nil {
		return err
	}
	needsCluster := cfg.scenarios["failover"] || cfg.scenarios["drain"] || cfg.scenarios["scale"]
	if needsCluster {
		b.logf("Starting kube-apiserver and etcd (envtest)")
		b.cp, err = startControlPlane(cfg.repo, cfg.work)
		if err != nil {
			return err
		}
		defer b.cp.stop()
	}
	defer func() { b.manager.stop() }()

	b.runScenarios(ctx)
	b.runComparison(ctx)
	b.manager.stop()
	b.manager = nil
	if cfg.micro && ctx.Err() == nil {
		b.logf("Go micro-benchmarks")
		micro, err := runMicro(ctx, cfg.repo, b.out)
		if err != nil {
			b.res.Errors["micro"] = err.Error()
		}
		b.res.Micro = micro
	}
	b.res.Finished = time.Now().UTC()
	b.res.Machine.LoadEnd = loadAverage()
	if err := b.write(); err != nil {
		return err
	}
	if len(b.res.Errors) > 0 {
		return fmt.Errorf("%d scenario(s) failed; see %s", len(b.res.Errors), b.cfg.outMD)
	}
	return nil
}

// newBench prepares a run of the scenarios cfg selects.
func newBench(cfg config, stdout io.Writer) *bench {
	return &bench{
		cfg:    cfg,
		out:    stdout,
		binDir: filepath.Join(cfg.work, "bin"),
		logDir: filepath.Join(cfg.work, "logs"),
		res: &results{
			Started: time.Now().UTC(),
			Machine: describeMachine(),
			Cost:    cfg.cost,
			Errors:  map[string]string{},
			Config: runConfig{
				Users: cfg.users, ContactsPerUser: cfg.contacts, FailoverDelay: secs(cfg.delay),
				ProbeInterval: secs(cfg.probeInterval), ProbeTimeout: secs(cfg.probeTimeout),
				FailureThreshold: cfg.threshold, MoveBatchSize: cfg.batchSize, PollInterval: secs(cfg.pollInterval),
				ManualSample: cfg.manualSample, ScalePools: cfg.scalePools, ScaleUsers: cfg.scaleUsers,
				ScaleContacts: cfg.scaleContacts, ScaleDuration: secs(cfg.scaleDuration),
			},
		},
	}
}

// runScenarios runs the selected scenarios in order; a failed one is recorded and the next runs.
func (b *bench) runScenarios(ctx context.Context) {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"failover", b.failover},
		{"drain", b.drain},
		{"manual", b.manual},
		{"scale", b.scale},
	}
	for _, s := range steps {
		if !b.cfg.scenarios[s.name] || ctx.Err() != nil {
			continue
		}
		b.logf("Scenario %s", s.name)
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			b.logf("Scenario %s failed after %s: %v", s.name, fmtDur(time.Since(start)), err)
			b.res.Errors[s.name] = err.Error()
			continue
		}
		b.logf("Scenario %s done in %s", s.name, fmtDur(time.Since(start)))
	}
}

// runComparison runs the failover (with the backups), drain and manual scenarios again under
// the comparison cost model, with the same manager and control plane.
func (b *bench) runComparison(ctx context.Context) {
	if b.cfg.compare.Profile == "" || ctx.Err() != nil {
		return
	}
	sub := *b
	sub.cfg.cost = b.cfg.compare
	sub.nsPrefix = b.cfg.compare.Profile + "-"
	sub.cfg.scenarios = map[string]bool{}
	for _, s := range []string{"failover", "drain", "manual"} {
		sub.cfg.scenarios[s] = b.cfg.scenarios[s]
	}
	sub.res = &results{Cost: sub.cfg.cost, Errors: map[string]string{}}
	b.logf("Comparison under the %s cost model (%s)", sub.cfg.cost.Profile, sub.cfg.cost.emulatorFlags())
	sub.runScenarios(ctx)
	b.manager = sub.manager
	b.res.Compare = &comparison{Cost: sub.cfg.cost, Failover: sub.res.Failover, Drain: sub.res.Drain,
		Manual: sub.res.Manual, Backup: sub.res.Backup}
	for k, v := range sub.res.Errors {
		b.res.Errors[sub.cfg.cost.Profile+" "+k] = v
	}
}

// build compiles the manager and the emulator: each runs as its own process, as in production.
func (b *bench) build(ctx context.Context) error {
	for _, t := range [][2]string{{"manager", "."}, {"ocs-sim", "./hack/ocs-sim"}} {
		b.logf("Building %s", t[0])
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(b.binDir, t[0]), t[1])
		cmd.Dir = b.cfg.repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", t[0], err, out)
		}
	}
	return nil
}

// ensureManager starts the manager once for the scenarios that share it.
func (b *bench) ensureManager() error {
	if b.manager != nil {
		return nil
	}
	m, err := startManager(filepath.Join(b.binDir, "manager"), b.cp.kubeconfig, filepath.Join(b.logDir, "manager.log"), b.managerFlags()...)
	if err != nil {
		return err
	}
	b.manager = m
	return nil
}

// managerFlags are the manager's flags the bench's own flags ask for.
func (b *bench) managerFlags() []string {
	var args []string
	if b.cfg.powershellIdle != 0 {
		args = append(args, "--powershell-idle="+b.cfg.powershellIdle.String())
	}
	if b.cfg.pprof {
		args = append(args, "--pprof-bind-address=127.0.0.1:6060")
		b.logf("Manager profiles: http://127.0.0.1:6060/debug/pprof/")
	}
	return args
}

func (b *bench) write() error {
	data, err := json.MarshalIndent(b.res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := os.WriteFile(b.cfg.outJSON, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	md := renderMarkdown(b.res)
	if err := os.WriteFile(b.cfg.outMD, []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	fmt.Fprintln(b.out, md)
	b.logf("Wrote %s and %s", b.cfg.outMD, b.cfg.outJSON)
	return nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.out, "%s  %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// rerender rewrites the report from a saved results.json, e.g. after the report's wording changed.
func rerender(from, out string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("reading results: %w", err)
	}
	var r results
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("decoding %s: %w", from, err)
	}
	if err := os.WriteFile(out, []byte(renderMarkdown(&r)), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
