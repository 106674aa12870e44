package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// costModel is the emulator's fixed cost model and the transport's concurrency.
type costModel struct {
	// Profile names the model (profiles.go): windows or legacy.
	Profile     string `json:"profile,omitempty"`
	Latency     secs   `json:"latencySeconds"`
	MoveCost    secs   `json:"moveCostSeconds"`
	ImportCost  secs   `json:"importCostSeconds"`
	ProcessCost secs   `json:"processCostSeconds"`
	ModuleCost  secs   `json:"moduleCostSeconds"`
	ShellCost   secs   `json:"shellCostSeconds"`
	ExportCost  secs   `json:"exportCostSeconds"`
	// TimeScale is what the published Windows figures were multiplied by (1: as published).
	TimeScale   float64 `json:"timeScale,omitempty"`
	Concurrency int     `json:"perServerConcurrency"`
	// RoundTrips is the minimum number of WS-Management requests of one command: Command,
	// Receive, Signal in a shell kept open (windows), or also Create and Delete of a shell per
	// command (legacy).
	RoundTrips int `json:"roundTripsPerCommand"`
}

// emulator is a running ocs-sim process.
type emulator struct {
	cmd       *exec.Cmd
	admin     string // http://host:port of the admin API
	username  string
	password  string
	endpoints map[string]string // server name → WS-Management URL
	logFile   *os.File
	http      *http.Client
	pprof     string // host:port of its Go profiles, "" when not served
}

// emulatorSpec says what one emulator serves.
type emulatorSpec struct {
	name     string
	users    int
	contacts int
	cost     costModel
	product  string // the emulator's --product; "" is its default
	pprof    bool   // serve the emulator's Go profiles (--pprof) on a free port, named in its log
}

// startEmulator runs the emulator binary and returns once it printed "ocs-sim ready".
func startEmulator(ctx context.Context, bin, logDir string, spec emulatorSpec) (*emulator, error) {
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &emulator{
		admin:    fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		username: "ocsadmin",
		password: fmt.Sprintf("bench-%d", time.Now().UnixNano()),
		http:     &http.Client{Timeout: time.Minute},
	}
	e.logFile, err = os.Create(filepath.Join(logDir, "ocs-sim-"+spec.name+".log"))
	if err != nil {
		return nil, fmt.Errorf("creating the emulator log: %w", err)
	}
	if e.cmd, err = emulatorCommand(bin, adminPort, e, spec); err != nil {
		return nil, err
	}
	stdout, err := e.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator %s stdout: %w", spec.name, err)
	}
	e.cmd.Stderr = e.logFile
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting emulator %s: %w", spec.name, err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			fmt.Fprintln(e.logFile, sc.Text())
			if !seen && strings.Contains(sc.Text(), "ocs-sim ready") {
				seen = true
				ready <- true
			}
		}
		if !seen {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			e.stop()
			return nil, fmt.Errorf("emulator %s exited before it was ready (see %s)", spec.name, e.logFile.Name())
		}
	case <-time.After(2 * time.Minute):
		e.stop()
		return nil, fmt.Errorf("emulator %s not ready within 2m", spec.name)
	case <-ctx.Done():
		e.stop()
		return nil, ctx.Err()
	}
	var servers []struct {
		Name     string `json:"name"`
		Endpoint string `json:"endpoint"`
	}
	if err := e.get(ctx, "/servers", &servers); err != nil {
		e.stop()
		return nil, err
	}
	e.endpoints = map[string]string{}
	for _, s := range servers {
		e.endpoints[s.Name] = s.Endpoint
	}
	return e, nil
}

// emulatorCommand is the emulator's command line for spec; with spec.pprof it serves its profiles
// on a free port (e.pprof) and says so in its log.
func emulatorCommand(bin string, adminPort int, e *emulator, spec emulatorSpec) (*exec.Cmd, error) {
	// Base port 0 gives each server a random port; GET /servers tells which.
	cmd := exec.Command(bin,
		"--servers", "ocs1,ocs2",
		"--users", strconv.Itoa(spec.users),
		"--contacts-per-user", strconv.Itoa(spec.contacts),
		"--base-port", "0",
		"--admin", fmt.Sprintf("127.0.0.1:%d", adminPort),
		"--username", e.username, "--password", e.password,
		"--latency", time.Duration(spec.cost.Latency).String(),
		"--move-cost", time.Duration(spec.cost.MoveCost).String(),
		"--import-cost", time.Duration(spec.cost.ImportCost).String(),
		"--process-cost", time.Duration(spec.cost.ProcessCost).String(),
		"--module-cost", time.Duration(spec.cost.ModuleCost).String(),
		"--shell-cost", time.Duration(spec.cost.ShellCost).String(),
		"--export-cost", time.Duration(spec.cost.ExportCost).String(),
		// The benchmarks log on with Basic (their floor has no CredSSP handshakes), which cannot make
		// the second hop to the directory that the emulator enforces by default.
		"--double-hop", "off", "--product", string(productOf(spec.product)))
	if spec.pprof {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		e.pprof = fmt.Sprintf("127.0.0.1:%d", port)
		cmd.Args = append(cmd.Args, "--pprof", e.pprof)
		fmt.Fprintf(e.logFile, "bench: pprof at http://%s/debug/pprof/\n", e.pprof)
	}
	return cmd, nil
}

// stop interrupts the emulator and waits for it.
func (e *emulator) stop() {
	if e == nil {
		return
	}
	stopProcess(e.cmd)
	if e.logFile != nil {
		_ = e.logFile.Close()
	}
}

func (e *emulator) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.admin+path, nil)
	if err != nil {
		return fmt.Errorf("emulator GET %s: %w", path, err)
	}
	return e.do(req, into)
}

func (e *emulator) send(ctx context.Context, method, path string, body any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("emulator %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.admin+path, r)
	if err != nil {
		return fmt.Errorf("emulator %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(req, nil)
}

func (e *emulator) do(req *http.Request, into any) error {
	resp, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("emulator %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("emulator %s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	if into == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("emulator %s %s: decoding: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// simUser is one row of GET /users.
type simUser struct {
	SIP      string `json:"sip"`
	Home     string `json:"home"`
	Contacts int    `json:"contacts"`
}

func (e *emulator) users(ctx context.Context) ([]simUser, error) {
	var out []simUser
	err := e.get(ctx, "/users", &out)
	return out, err
}

// homed returns GET /servers' homedUsers per server.
func (e *emulator) homed(ctx context.Context) (map[string]int, error) {
	var servers []struct {
		Name       string `json:"name"`
		HomedUsers int    `json:"homedUsers"`
	}
	if err := e.get(ctx, "/servers", &servers); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, s := range servers {
		out[s.Name] = s.HomedUsers
	}
	return out, nil
}

// commands returns GET /commands: every command line each server ran, in order.
func (e *emulator) commands(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := e.get(ctx, "/commands", &out)
	return out, err
}

// userPath is the admin API path of one user.
func userPath(sip string) string { return "/users/" + url.PathEscape(sip) }

// managerProc is a running manager process and its resource counters.
type managerProc struct {
	cmd     *exec.Cmd
	logFile *os.File
}

// startManager runs the manager binary against the control plane of kubeconfig.
func startManager(bin, kubeconfig, logPath string, args ...string) (*managerProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the manager log: %w", err)
	}
	cmd := exec.Command(bin, append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	return &managerProc{cmd: cmd, logFile: f}, nil
}

func (m *managerProc) stop() {
	if m == nil {
		return
	}
	stopProcess(m.cmd)
	_ = m.logFile.Close()
}

// procUsage is what /proc says about a process.
type procUsage struct {
	RSS, HWM  int64 // bytes
	RSSFile   int64 // bytes of RSS mapped from files: the binary's code and data, not the heap
	UserSys   secs  // CPU time, user + system
	Available bool
}

// processesUsage is the manager's and one emulator's usage at one moment.
type processesUsage struct{ manager, emulator procUsage }

// usage reads the manager's and the emulator's counters; a counter that cannot be read stays
// unavailable.
func (b *bench) usage(emu *emulator) processesUsage {
	var u processesUsage
	if b.manager != nil && b.manager.cmd.Process != nil {
		u.manager, _ = readProcUsage(b.manager.cmd.Process.Pid)
	}
	if emu != nil && emu.cmd.Process != nil {
		u.emulator, _ = readProcUsage(emu.cmd.Process.Pid)
	}
	return u
}

// ownCost is the processes' cost between two readings, also per 1,000 of users.
func ownCost(before, after processesUsage, peakRSS int64, users int) *ownCostResult {
	if !before.manager.Available || !after.manager.Available || users <= 0 {
		return nil
	}
	per := func(d secs) secs { return secs(time.Duration(d) * 1000 / time.Duration(users)) }
	oc := &ownCostResult{
		ManagerCPU:          after.manager.UserSys - before.manager.UserSys,
		ManagerPeakRSSMiB:   float64(max(peakRSS, after.manager.RSS)) / (1 << 20),
		ManagerRSSBeforeMiB: float64(before.manager.RSS) / (1 << 20),
	}
	oc.ManagerCPUPer1000 = per(oc.ManagerCPU)
	if before.emulator.Available && after.emulator.Available {
		oc.EmulatorCPU = after.emulator.UserSys - before.emulator.UserSys
		oc.EmulatorCPUPer1000 = per(oc.EmulatorCPU)
	}
	return oc
}

// clockTicks is USER_HZ, fixed at 100 on Linux for /proc/<pid>/stat.
const clockTicks = 100

// readProcUsage reads VmRSS and VmHWM from /proc/<pid>/status and utime+stime from /proc/<pid>/stat.
func readProcUsage(pid int) (procUsage, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procUsage{}, fmt.Errorf("reading process status: %w", err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, fmt.Errorf("reading process stat: %w", err)
	}
	return parseProcUsage(status, stat)
}

// parseProcUsage extracts the figures of procUsage from the two /proc files.
func parseProcUsage(status, stat []byte) (procUsage, error) {
	u := procUsage{Available: true}
	for _, line := range strings.Split(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			u.RSS = kb * 1024
		case "VmHWM":
			u.HWM = kb * 1024
		case "RssFile":
			u.RSSFile = kb * 1024
		}
	}
	// The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procUsage{}, errors.New("parsing process stat: no command name")
	}
	fields := strings.Fields(s[i+1:])
	// After the name: state(3) ppid(4) … utime(14) stime(15), i.e. indexes 11 and 12 here.
	if len(fields) < 13 {
		return procUsage{}, errors.New("parsing process stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return procUsage{}, fmt.Errorf("parsing process stat: %w", err)
	}
	u.UserSys = secs(time.Duration(ut+st) * time.Second / clockTicks)
	if u.RSS == 0 || u.HWM == 0 {
		return procUsage{}, errors.New("parsing process status: no VmRSS or VmHWM")
	}
	return u, nil
}

// stopProcess interrupts a process and kills it if it does not exit within 20 s.
func stopProcess(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
