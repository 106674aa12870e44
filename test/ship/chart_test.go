package ship

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const chartDir = "charts/ocs-ha-operator"

// fullOptions turns every option of the chart on.
var fullOptions = []string{
	"--set", "watchNamespaces={uc-site-a,uc-site-b}",
	"--set", "monitoring.serviceMonitor.enabled=true",
	"--set", "monitoring.prometheusRule.enabled=true",
	"--set", "monitoring.grafanaDashboard.enabled=true",
	"--set", "metrics.readers[0].name=prometheus-k8s",
	"--set", "metrics.readers[0].namespace=monitoring",
}

// renderChart runs helm template with the CRDs and returns the YAML.
func renderChart(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"template", "ocs-ha", repoPath(chartDir), "--namespace", "ocs-ha-system", "--include-crds"}
	return runTool(t, tool(t, "helm"), append(base, args...)...)
}

// decodeObjects splits a multi-document YAML into objects.
func decodeObjects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// find returns the objects of kind, optionally named.
func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func TestChartLint(t *testing.T) {
	helm := tool(t, "helm")
	runTool(t, helm, "lint", "--strict", repoPath(chartDir))
	runTool(t, helm, append([]string{"lint", "--strict", repoPath(chartDir)}, fullOptions...)...)
}

// TestChartRefusesBadValues: values.schema.json catches typos and malformed values at install.
func TestChartRefusesBadValues(t *testing.T) {
	helm := tool(t, "helm")
	for _, set := range []string{"watchNamespace=uc", "watchNamespaces={Not_A_Namespace}", "image.digest=latest", "backups.persistence.size=lots"} {
		_, _, err := runToolErr(helm, "template", "x", repoPath(chartDir), "--set", set)
		if err == nil {
			t.Errorf("--set %s was accepted", set)
		}
	}
}

// TestChartCRDsEqualConfig: the chart installs exactly the CRDs of config/crd/bases (make
// manifests copies them).
func TestChartCRDsEqualConfig(t *testing.T) {
	want, _ := filepath.Glob(repoPath("config", "crd", "bases", "*.yaml"))
	got, _ := filepath.Glob(repoPath(chartDir, "crds", "*.yaml"))
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(names(got), names(want)) || len(want) == 0 {
		t.Fatalf("chart CRDs %v, config/crd/bases %v: run make manifests", names(got), names(want))
	}
	for _, p := range want {
		assertSameFile(t, p, repoPath(chartDir, "crds", filepath.Base(p)))
	}
}

// TestChartFilesInSync: the copies the chart reads equal their sources (make chart-sync).
func TestChartFilesInSync(t *testing.T) {
	for src, dst := range map[string]string{
		"config/rbac/role.yaml":                 "files/role.yaml",
		"config/rbac/leader_election_role.yaml": "files/leader_election_role.yaml",
		"config/prometheus/alerts.yaml":         "files/alerts.yaml",
		"config/grafana/ocs-ha-operator.json":   "files/dashboard.json",
	} {
		assertSameFile(t, repoPath(src), repoPath(chartDir, dst))
	}
}

func assertSameFile(t *testing.T, want, got string) {
	t.Helper()
	a, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s: run make manifests (or make chart-sync)", got, want)
	}
}

// TestChartValuesDocumented: every value is in the chart README's table and every row of the
// table is a value.
func TestChartValuesDocumented(t *testing.T) {
	data, err := os.ReadFile(repoPath(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(repoPath(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z.]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if documented[prefix] {
			delete(documented, prefix)
			return
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			t.Errorf("value %s is not documented in %s/README.md", prefix, chartDir)
			return
		}
		for k, sub := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
		}
	}
	walk("", values)
	for k := range documented {
		t.Errorf("%s/README.md documents %s, which values.yaml does not have", chartDir, k)
	}
}

// TestChartDefaults renders the defaults and checks what a user relies on.
func TestChartDefaults(t *testing.T) {
	objs := decodeObjects(t, renderChart(t))
	deps := find(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("%d Deployments", len(deps))
	}
	dep := deps[0]
	if s, _, _ := unstructured.NestedString(dep.Object, "spec", "strategy", "type"); s != "Recreate" {
		t.Errorf("strategy %q with a ReadWriteOnce backup volume, want Recreate", s)
	}
	if r, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas"); fmt.Sprint(r) != "1" {
		t.Errorf("replicas %v, want 1", r)
	}
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	if v, _, _ := unstructured.NestedBool(pod, "securityContext", "runAsNonRoot"); !v {
		t.Error("the pod may run as root")
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	c := containers[0].(map[string]any)
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	for _, want := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--metrics-secure=true", "--health-probe-bind-address=:8081"} {
		if !slices.Contains(args, want) {
			t.Errorf("manager args %v lack %s", args, want)
		}
	}
	if img, _, _ := unstructured.NestedString(c, "image"); !strings.HasSuffix(img, ":"+chartAppVersion(t)) {
		t.Errorf("image %s, want the chart's appVersion %s", img, chartAppVersion(t))
	}
	for _, path := range [][]string{{"livenessProbe", "httpGet", "path"}, {"readinessProbe", "httpGet", "path"}} {
		if v, _, _ := unstructured.NestedString(c, path...); v == "" {
			t.Errorf("no %s", strings.Join(path, "."))
		}
	}
	for _, path := range [][]string{{"securityContext", "readOnlyRootFilesystem"}} {
		if v, _, _ := unstructured.NestedBool(c, path...); !v {
			t.Errorf("%s is not true", strings.Join(path, "."))
		}
	}
	if _, ok, _ := unstructured.NestedMap(c, "resources", "limits"); !ok {
		t.Error("no resource limits")
	}
	pvcs := find(objs, "PersistentVolumeClaim")
	if len(pvcs) != 1 {
		t.Fatalf("%d PersistentVolumeClaims, want the backup claim", len(pvcs))
	}
	if modes, _, _ := unstructured.NestedStringSlice(pvcs[0].Object, "spec", "accessModes"); !slices.Equal(modes, []string{"ReadWriteOnce"}) {
		t.Errorf("backup claim access modes %v", modes)
	}
	if n := len(find(objs, "CustomResourceDefinition")); n != 4 {
		t.Errorf("%d CRDs rendered", n)
	}
	if rules := secretRules(t, find(objs, "ClusterRole")); rules == 0 {
		t.Error("without watchNamespaces the ClusterRole must let the manager read Secrets")
	}
	if n := len(find(objs, "Role")); n != 1 {
		t.Errorf("%d Roles, want the leader election Role alone", n)
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		if len(find(objs, kind)) != 0 {
			t.Errorf("a %s is rendered by default", kind)
		}
	}
}

// TestChartWatchNamespaces: with watchNamespaces, Secrets are readable only in those namespaces
// and the manager is told which they are.
func TestChartWatchNamespaces(t *testing.T) {
	objs := decodeObjects(t, renderChart(t, fullOptions...))
	if n := secretRules(t, find(objs, "ClusterRole")); n != 0 {
		t.Errorf("%d ClusterRole rules still grant Secrets", n)
	}
	var nss []string
	for _, r := range find(objs, "Role") {
		if secretRules(t, []*unstructured.Unstructured{r}) > 0 {
			nss = append(nss, r.GetNamespace())
		}
	}
	if !slices.Equal(nss, []string{"uc-site-a", "uc-site-b"}) {
		t.Errorf("Secret Roles in %v, want uc-site-a and uc-site-b", nss)
	}
	dep := find(objs, "Deployment")[0]
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	env, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "env")
	found := false
	for _, e := range env {
		e := e.(map[string]any)
		found = found || e["name"] == "WATCH_NAMESPACE" && e["value"] == "uc-site-a,uc-site-b"
	}
	if !found {
		t.Errorf("WATCH_NAMESPACE is not uc-site-a,uc-site-b: %v", env)
	}
}

// secretRules counts the rules of roles that grant access to Secrets.
func secretRules(t *testing.T, roles []*unstructured.Unstructured) int {
	t.Helper()
	n := 0
	for _, r := range roles {
		rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
		for _, rule := range rules {
			res, _, _ := unstructured.NestedStringSlice(rule.(map[string]any), "resources")
			if slices.Contains(res, "secrets") {
				n++
			}
		}
	}
	return n
}

// TestChartMonitoring: the ServiceMonitor keeps the series' namespace label, the PrometheusRule
// holds the alerts of config/prometheus/alerts.yaml and the dashboard ConfigMap the dashboard.
func TestChartMonitoring(t *testing.T) {
	objs := decodeObjects(t, renderChart(t, fullOptions...))
	sm := find(objs, "ServiceMonitor")
	if len(sm) != 1 {
		t.Fatalf("%d ServiceMonitors", len(sm))
	}
	eps, _, _ := unstructured.NestedSlice(sm[0].Object, "spec", "endpoints")
	if ep := eps[0].(map[string]any); ep["honorLabels"] != true || ep["scheme"] != "https" {
		t.Errorf("ServiceMonitor endpoint %v, want honorLabels and https", ep)
	}
	pr := find(objs, "PrometheusRule")
	if len(pr) != 1 {
		t.Fatalf("%d PrometheusRules", len(pr))
	}
	rules, _ := alertRules(t)
	var want map[string]any
	if err := yaml.Unmarshal(rules, &want); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedMap(pr[0].Object, "spec")
	if !reflect.DeepEqual(got, want) {
		t.Error("the chart's PrometheusRule differs from config/prometheus/alerts.yaml")
	}
	var dashboard *unstructured.Unstructured
	for _, cm := range find(objs, "ConfigMap") {
		if cm.GetLabels()["grafana_dashboard"] == "1" {
			dashboard = cm
		}
	}
	if dashboard == nil {
		t.Fatal("no dashboard ConfigMap labelled grafana_dashboard=1")
	}
	src, err := os.ReadFile(repoPath("config", "grafana", "ocs-ha-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	if data, _, _ := unstructured.NestedString(dashboard.Object, "data", "ocs-ha-operator.json"); strings.TrimSpace(data) != strings.TrimSpace(string(src)) {
		t.Error("the dashboard ConfigMap differs from config/grafana/ocs-ha-operator.json")
	}
	for _, cr := range find(objs, "ClusterRoleBinding") {
		if strings.HasSuffix(cr.GetName(), "-metrics-reader") {
			return
		}
	}
	t.Error("metrics.readers did not bind the metrics-reader ClusterRole")
}

// TestChartPersistenceOff: without a claim there is no volume to hold, so updates roll.
func TestChartPersistenceOff(t *testing.T) {
	objs := decodeObjects(t, renderChart(t, "--set", "backups.persistence.enabled=false"))
	if n := len(find(objs, "PersistentVolumeClaim")); n != 0 {
		t.Errorf("%d claims rendered with persistence off", n)
	}
	dep := find(objs, "Deployment")[0]
	if s, _, _ := unstructured.NestedString(dep.Object, "spec", "strategy", "type"); s != "RollingUpdate" {
		t.Errorf("strategy %q", s)
	}
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(repoPath(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}
