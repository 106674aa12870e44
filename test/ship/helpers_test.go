package ship

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's root, two levels up from this package.
var repoRoot = func() string {
	dir, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return dir
}()

// repoPath joins parts below the repository root.
func repoPath(parts ...string) string { return filepath.Join(append([]string{repoRoot}, parts...)...) }

// tool returns the path of a pinned tool, building it on first use (hack/tool.sh).
func tool(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command(repoPath("hack", "tool.sh"), name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/tool.sh %s: %v\n%s", name, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// runTool runs a command and returns its standard output; the test fails with both outputs
// when it exits non-zero.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// runToolErr runs a command and returns its outputs and error.
func runToolErr(name string, args ...string) (string, string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// metricFamily is one documented metric: its type.
type metricFamily struct{ typ string }

// documentedMetrics reads the metric table of docs/metrics.md, which the controllers' tests
// compare with what the manager serves.
func documentedMetrics(t *testing.T) map[string]metricFamily {
	t.Helper()
	f, err := os.Open(repoPath("docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]metricFamily{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `ocsha_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		out[strings.Trim(strings.TrimSpace(cells[0]), "`")] = metricFamily{typ: strings.TrimSpace(cells[1])}
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md documents no metric")
	}
	return out
}

// seriesName maps a series name to its family: a histogram's _bucket, _sum and _count series
// belong to the histogram.
func seriesName(name string, families map[string]metricFamily) (string, bool) {
	if _, ok := families[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base].typ == "histogram" {
			return base, true
		}
	}
	return "", false
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
		"group_left", "group_right", "inf", "nan", "atan2", "start", "end"}
)

// promqlMetricNames lists the metric names a PromQL expression selects. It drops strings, label
// matchers, ranges and grouping clauses, then keeps the identifiers that are not functions
// (followed by a parenthesis), keywords or parts of numbers and durations. The expressions it
// reads are also parsed by promtool, so malformed ones fail there.
func promqlMetricNames(expr string) []string {
	s := promqlString.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRange.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var names []string
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	for i := 0; i < len(s); {
		if !isIdent(s[i], true) || i > 0 && (isIdent(s[i-1], false) || s[i-1] == '.' || s[i-1] == '$') {
			i++
			continue
		}
		j := i
		for j < len(s) && isIdent(s[j], false) {
			j++
		}
		word := s[i:j]
		k := j
		for k < len(s) && s[k] == ' ' || k < len(s) && s[k] == '\n' {
			k++
		}
		if (k >= len(s) || s[k] != '(') && !slices.Contains(promqlKeywords, strings.ToLower(word)) && !slices.Contains(names, word) {
			names = append(names, word)
		}
		i = j
	}
	return names
}
