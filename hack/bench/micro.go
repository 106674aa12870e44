package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// microBenchmarks are the Go benchmarks the report includes, by package.
var microBenchmarks = []struct{ pkg, pattern string }{
	{"./internal/placement", "^BenchmarkCompute100k$"},
	{"./internal/contacts", "^BenchmarkParseHomedResources$"},
}

// runMicro runs the Go micro-benchmarks, echoes their output and parses it.
func runMicro(ctx context.Context, repo string, out io.Writer) ([]microResult, error) {
	var all []microResult
	for _, m := range microBenchmarks {
		var buf bytes.Buffer
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", m.pattern, "-benchmem", "-count", "1", m.pkg)
		cmd.Dir = repo
		cmd.Stdout = io.MultiWriter(&buf, out)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return all, fmt.Errorf("go test -bench %s %s: %w", m.pattern, m.pkg, err)
		}
		all = append(all, parseBenchOutput(buf.String())...)
	}
	return all, nil
}

// parseBenchOutput reads the result lines of `go test -bench -benchmem`, e.g.
// "BenchmarkCompute100k/servers=2-2   12   95000000 ns/op   1234 B/op   56 allocs/op".
// The -N suffix (GOMAXPROCS) is dropped from the name.
func parseBenchOutput(text string) []microResult {
	var out []microResult
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		iters, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		r := microResult{Name: trimProcs(f[0]), Iterations: iters}
		ok := false
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.NsPerOp, ok = v, true
			case "B/op":
				r.BytesPerOp = int64(v)
			case "allocs/op":
				r.AllocsPerOp = int64(v)
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// describeMachine reads nproc, memory and CPU model from /proc, and the Go version.
func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: goVersion()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryMiB = parseMemTotal(string(b)) / 1024
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = parseCPUModel(string(b))
	}
	m.LoadStart = loadAverage()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// goVersion is the toolchain that builds the binaries (`go env GOVERSION`), else the bench's own.
func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return runtime.Version()
	}
	return string(bytes.TrimSpace(out))
}

// parseMemTotal returns MemTotal in kB.
func parseMemTotal(meminfo string) int64 {
	for _, line := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// parseCPUModel returns the first "model name" of /proc/cpuinfo.
func parseCPUModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage returns the 1-, 5- and 15-minute load averages of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
