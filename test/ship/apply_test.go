package ship

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// prometheusOperatorVersion pins the Prometheus Operator whose CRDs (ServiceMonitor,
// PrometheusRule) the test API server learns, read from its module on the Go module proxy.
const prometheusOperatorVersion = "v0.85.0"

var (
	apiServerOnce sync.Once
	apiServer     *envtest.Environment
	kubeconfig    string
	apiServerErr  error
)

// testAPIServer starts one kube-apiserver and etcd (KUBEBUILDER_ASSETS, as make test sets it)
// for the package, with the Prometheus Operator's CRDs, and returns a kubeconfig for kubectl.
func testAPIServer(t *testing.T) string {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run KUBEBUILDER_ASSETS=\"$(hack/setup-envtest.sh)\" go test ./test/ship (make test sets it)")
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl is not on PATH")
	}
	apiServerOnce.Do(func() {
		var crds string
		if crds, apiServerErr = prometheusOperatorCRDs(); apiServerErr != nil {
			return
		}
		env := &envtest.Environment{
			CRDInstallOptions: envtest.CRDInstallOptions{
				Paths: []string{
					filepath.Join(crds, "monitoring.coreos.com_servicemonitors.yaml"),
					filepath.Join(crds, "monitoring.coreos.com_prometheusrules.yaml"),
				},
				ErrorIfPathMissing: true,
			},
		}
		if _, apiServerErr = env.Start(); apiServerErr != nil {
			return
		}
		apiServer = env
		user, err := env.AddUser(envtest.User{Name: "ship-admin", Groups: []string{"system:masters"}}, nil)
		if err != nil {
			apiServerErr = err
			return
		}
		data, err := user.KubeConfig()
		if err != nil {
			apiServerErr = err
			return
		}
		dir, err := os.MkdirTemp("", "ship-kubeconfig-")
		if err != nil {
			apiServerErr = err
			return
		}
		kubeconfig = filepath.Join(dir, "kubeconfig")
		apiServerErr = os.WriteFile(kubeconfig, data, 0o600)
	})
	if apiServerErr != nil {
		t.Fatal(apiServerErr)
	}
	return kubeconfig
}

// prometheusOperatorCRDs returns the directory of the Prometheus Operator's CRDs in its module,
// downloading the module on first use.
func prometheusOperatorCRDs() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@"+prometheusOperatorVersion)
	cmd.Dir = os.TempDir() // outside this module: the download does not touch go.mod
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", err
	}
	return filepath.Join(mod.Dir, "example", "prometheus-operator-crd"), nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if apiServer != nil {
		_ = apiServer.Stop()
	}
	if kubeconfig != "" {
		os.RemoveAll(filepath.Dir(kubeconfig))
	}
	os.Exit(code)
}

// applyDryRun applies manifest with kubectl --dry-run=server: the API server validates every
// object against its schema (CRDs included) and admission, and stores nothing. Server-side
// apply, as the README recommends: the CRDs are too large for client-side apply's annotation.
func applyDryRun(t *testing.T, kubeconfig, manifest string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return runTool(t, "kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side", "--dry-run=server",
		"--field-manager=ship-test", "-f", path)
}

// ensureNamespaces creates namespaces for real: a dry-run cannot create objects inside a
// namespace it only pretends to create.
func ensureNamespaces(t *testing.T, kubeconfig string, names ...string) {
	t.Helper()
	for _, ns := range names {
		out, stderr, err := runToolErr("kubectl", "--kubeconfig", kubeconfig, "create", "namespace", ns)
		if err != nil && !strings.Contains(stderr, "AlreadyExists") {
			t.Fatalf("kubectl create namespace %s: %v\n%s%s", ns, err, out, stderr)
		}
	}
}

// TestChartAppliesToAPIServer renders the chart, with its defaults and with every option, and
// applies it to a real API server with --dry-run=server.
func TestChartAppliesToAPIServer(t *testing.T) {
	kc := testAPIServer(t)
	ensureNamespaces(t, kc, "ocs-ha-system", "uc-site-a", "uc-site-b")
	for name, args := range map[string][]string{"defaults": nil, "every option": fullOptions} {
		t.Run(name, func(t *testing.T) {
			out := applyDryRun(t, kc, renderChart(t, args...))
			for _, want := range []string{"customresourcedefinition.apiextensions.k8s.io/ocspools.ocs.ocsha.io serverside-applied (server dry run)",
				"deployment.apps/ocs-ha-ocs-ha-operator serverside-applied (server dry run)"} {
				if !strings.Contains(out, want) {
					t.Errorf("kubectl did not report %q:\n%s", want, out)
				}
			}
			if name == "every option" {
				for _, kind := range []string{"servicemonitor.monitoring.coreos.com", "prometheusrule.monitoring.coreos.com", "role.rbac.authorization.k8s.io/ocs-ha-ocs-ha-operator-secrets"} {
					if !strings.Contains(out, kind) {
						t.Errorf("kubectl did not apply a %s:\n%s", kind, out)
					}
				}
			}
		})
	}
}

// TestInstallYAMLAppliesToAPIServer: what make release writes to dist/install.yaml (config/default
// rendered by kustomize) applies too.
func TestInstallYAMLAppliesToAPIServer(t *testing.T) {
	kc := testAPIServer(t)
	manifest := runTool(t, repoPath("hack", "release-install-yaml.sh"), "v0.0.0-test", "example.com/ocs-ha-operator")
	if !strings.Contains(manifest, "image: example.com/ocs-ha-operator:v0.0.0-test") {
		t.Fatalf("the rendered install YAML does not run the release image:\n%s", manifest)
	}
	ensureNamespaces(t, kc, "ocs-ha-system")
	out := applyDryRun(t, kc, manifest)
	if !strings.Contains(out, "deployment.apps/ocs-ha-controller-manager serverside-applied (server dry run)") {
		t.Errorf("kubectl did not apply the manager:\n%s", out)
	}
}
