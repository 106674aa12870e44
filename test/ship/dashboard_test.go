package ship

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// dashboardQuery is one query of the dashboard: the panel's title and the expression.
type dashboardQuery struct{ panel, expr string }

// dashboardQueries reads config/grafana/ocs-ha-operator.json: the panels' targets and the
// template variables' queries.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	data, err := os.ReadFile(repoPath("config", "grafana", "ocs-ha-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	var out []dashboardQuery
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, dashboardQuery{p.Title, tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// label_values(metric{...}, label) names its metric as the first argument.
		expr, ok := strings.CutPrefix(v.Definition, "label_values(")
		if !ok {
			t.Errorf("variable %s: %q is not a label_values query", v.Name, v.Definition)
			continue
		}
		expr = expr[:strings.LastIndex(expr, ",")]
		out = append(out, dashboardQuery{"variable " + v.Name, expr})
	}
	return out
}

// grafanaVariables stand in for what Grafana substitutes before a query reaches Prometheus.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$namespace", ".*", "$pool", ".*")

// TestDashboardQueriesNameExistingMetrics: every query names at least one metric, and every
// metric it names is one the manager serves (docs/metrics.md, checked against a scrape).
func TestDashboardQueriesNameExistingMetrics(t *testing.T) {
	families := documentedMetrics(t)
	queries := dashboardQueries(t)
	if len(queries) < 10 {
		t.Fatalf("%d queries: is the dashboard complete?", len(queries))
	}
	shown := map[string]bool{}
	for _, q := range queries {
		names := promqlMetricNames(grafanaVariables.Replace(q.expr))
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", q.panel, q.expr)
		}
		for _, n := range names {
			family, ok := seriesName(n, families)
			if !ok {
				t.Errorf("%s: %s is not a metric the manager serves (docs/metrics.md)", q.panel, n)
			}
			shown[family] = true
		}
	}
	// The dashboard covers servers, users per server, operations with progress, and backups.
	for _, want := range []string{"ocsha_server_up", "ocsha_server_state", "ocsha_server_homed_users",
		"ocsha_operation_users_pending", "ocsha_operation_users_done", "ocsha_backup_newest_snapshot_age_seconds", "ocsha_backup_store_bytes"} {
		if !shown[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// TestDashboardQueriesParse has promtool parse every query, as recording rules.
func TestDashboardQueriesParse(t *testing.T) {
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, q := range dashboardQueries(t) {
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: grafanaVariables.Replace(q.expr)})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, tool(t, "promtool"), "check", "rules", path)
}
