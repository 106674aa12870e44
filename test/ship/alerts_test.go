package ship

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// ruleFile is a PrometheusRule's spec, or a Prometheus rule file: the same groups.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// alertRules reads config/prometheus/alerts.yaml (a PrometheusRule) and returns its spec as
// a rule file's bytes and parsed.
func alertRules(t *testing.T) ([]byte, ruleFile) {
	t.Helper()
	data, err := os.ReadFile(repoPath("config", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Kind string          `json:"kind"`
		Spec json.RawMessage `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Kind != "PrometheusRule" {
		t.Fatalf("config/prometheus/alerts.yaml is a %q, want a PrometheusRule", pr.Kind)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(pr.Spec, &rf); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.JSONToYAML(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return out, rf
}

// TestAlertsPromtool checks the rules and runs their unit tests (testdata/alerts-test.yaml,
// synthetic series) with promtool.
func TestAlertsPromtool(t *testing.T) {
	rules, _ := alertRules(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alerts.rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join("testdata", "alerts-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts-test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	promtool := tool(t, "promtool")
	runTool(t, promtool, "check", "rules", "--lint=all", "--lint-fatal", filepath.Join(dir, "alerts.rules.yaml"))
	runTool(t, promtool, "test", "rules", filepath.Join(dir, "alerts-test.yaml"))
}

// TestAlertsAreTested: every alert appears in an alert_rule_test of testdata/alerts-test.yaml,
// once firing and once staying silent.
func TestAlertsAreTested(t *testing.T) {
	_, rf := alertRules(t)
	data, err := os.ReadFile(filepath.Join("testdata", "alerts-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTests []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] || !silent[r.Alert] {
				t.Errorf("alert %s: a test where it fires %v, one where it stays silent %v", r.Alert, fires[r.Alert], silent[r.Alert])
			}
		}
	}
}

// TestAlertsHaveRunbooks: every alert has a severity, a summary, a description and a
// runbook_url pointing to a section of docs/runbooks.md that exists.
func TestAlertsHaveRunbooks(t *testing.T) {
	_, rf := alertRules(t)
	runbooks, err := os.ReadFile(repoPath("docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)\s*$`).FindAllStringSubmatch(string(runbooks), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			url := r.Annotations["runbook_url"]
			_, anchor, ok := strings.Cut(url, "docs/runbooks.md#")
			if !ok || anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook_url %q, want …/docs/runbooks.md#%s", r.Alert, url, strings.ToLower(r.Alert))
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s: docs/runbooks.md has no section \"## %s\"", r.Alert, r.Alert)
			}
		}
	}
	if n < 7 {
		t.Errorf("%d alerts; want at least server down, failover required, failover stuck, homing stalled, backup failed, backup too old, restore drill failed", n)
	}
}

// TestAlertsNameExistingMetrics: every metric an alert reads is one the manager serves.
func TestAlertsNameExistingMetrics(t *testing.T) {
	_, rf := alertRules(t)
	families := documentedMetrics(t)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			names := promqlMetricNames(r.Expr)
			if len(names) == 0 {
				t.Errorf("%s: the expression names no metric", r.Alert)
			}
			for _, name := range names {
				if _, ok := seriesName(name, families); !ok {
					t.Errorf("%s reads %s, which the manager does not serve (docs/metrics.md)", r.Alert, name)
				}
			}
		}
	}
}
