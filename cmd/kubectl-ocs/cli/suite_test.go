package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// The suite runs the plugin's commands, with their real flags, against a control plane with the
// operator's CRDs; the tests write the status a manager would.
var suite struct {
	env        *envtest.Environment
	kubeconfig string
	dyn        dynamic.Interface
	kube       kubernetes.Interface
	startErr   error
}

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		suite.startErr = startEnv()
	} else {
		suite.startErr = fmt.Errorf("KUBEBUILDER_ASSETS is not set: run with KUBEBUILDER_ASSETS=\"$(hack/setup-envtest.sh)\"")
	}
	code := m.Run()
	if suite.env != nil {
		_ = suite.env.Stop()
	}
	if suite.kubeconfig != "" {
		_ = os.RemoveAll(filepath.Dir(suite.kubeconfig))
	}
	os.Exit(code)
}

func startEnv() error {
	crds, err := loadCRDs(filepath.Join("..", "..", "..", "config", "crd", "bases"))
	if err != nil {
		return err
	}
	suite.env = &envtest.Environment{CRDs: crds}
	cfg, err := suite.env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	user, err := suite.env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	dir, err := os.MkdirTemp("", "kubectl-ocs-test-")
	if err != nil {
		return err
	}
	suite.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(suite.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	if suite.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	suite.kube, err = kubernetes.NewForConfig(cfg)
	return err
}

// loadCRDs reads the operator's CRDs without ContactRestore (whose absence the restore test sees
// first) and gives UserHoming the approval fields if its CRD predates them.
func loadCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing the CRDs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", dir)
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		switch crd.Spec.Names.Plural {
		case "contactrestores":
			continue
		case "userhomings":
			addApprovalFields(crd)
		}
		out = append(out, crd)
	}
	return out, nil
}

// addApprovalFields adds spec.approval, spec.approvedProposal and status.proposal where missing.
func addApprovalFields(crd *apiextensionsv1.CustomResourceDefinition) {
	for i := range crd.Spec.Versions {
		root := crd.Spec.Versions[i].Schema.OpenAPIV3Schema
		spec, status := root.Properties["spec"], root.Properties["status"]
		for _, f := range []string{"approval", "approvedProposal"} {
			if _, ok := spec.Properties[f]; !ok {
				spec.Properties[f] = apiextensionsv1.JSONSchemaProps{Type: "string"}
			}
		}
		if _, ok := status.Properties["proposal"]; !ok {
			status.Properties["proposal"] = apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptrTo(true)}
		}
		root.Properties["spec"], root.Properties["status"] = spec, status
	}
}

func ptrTo[T any](v T) *T { return &v }

// requireEnv fails a test that needs the control plane when it did not start.
func requireEnv(t *testing.T) *WithT {
	t.Helper()
	if suite.startErr != nil {
		t.Fatalf("the control plane is not running: %v", suite.startErr)
	}
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	return g
}

// testNow is the clock of the commands under test.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// result is what one command run printed.
type result struct {
	out, errOut string
	err         error
}

// run runs kubectl ocs with args in namespace ns, as a user would.
func run(ns string, args ...string) result {
	var out, errOut bytes.Buffer
	o := &options{
		streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		now:     func() time.Time { return testNow },
		poll:    20 * time.Millisecond,
	}
	cmd := newRootCommand(o)
	cmd.SetArgs(append([]string{"--kubeconfig", suite.kubeconfig, "-n", ns}, args...))
	err := cmd.ExecuteContext(context.Background())
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T, g *WithT) string {
	t.Helper()
	ns, err := suite.kube.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plugin-"}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		_ = suite.kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// create creates an object from YAML in ns and returns it as stored.
func create(g *WithT, gvr schema.GroupVersionResource, ns, manifest string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	g.Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	out, err := suite.dyn.Resource(gvr).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return out
}

// setStatus writes status (YAML) as the manager would.
func setStatus(g *WithT, gvr schema.GroupVersionResource, ns, name, status string) {
	res := suite.dyn.Resource(gvr).Namespace(ns)
	u, err := res.Get(context.Background(), name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	st := map[string]any{}
	g.Expect(yaml.Unmarshal([]byte(status), &st)).To(Succeed())
	u.Object["status"] = st
	_, err = res.UpdateStatus(context.Background(), u, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
}

func get(g *WithT, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	u, err := suite.dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return u
}

const poolManifest = `
apiVersion: ocs.ocsha.io/v1alpha1
kind: OCSPool
metadata:
  name: site-a
spec:
  servers:
  - name: ocs1
    fqdn: ocs1.corp.example.com
    winrm:
      endpoint: https://ocs1.corp.example.com:5986/wsman
      credentialsSecretRef: {name: ocs-admin}
  - name: ocs2
    fqdn: ocs2.corp.example.com
    winrm:
      endpoint: https://ocs2.corp.example.com:5986/wsman
      credentialsSecretRef: {name: ocs-admin}
`

const homingManifest = `
apiVersion: ocs.ocsha.io/v1alpha1
kind: UserHoming
metadata:
  name: site-a
spec:
  poolRef: {name: site-a}
`

const backupManifest = `
apiVersion: ocs.ocsha.io/v1alpha1
kind: ContactBackup
metadata:
  name: site-a
spec:
  poolRef: {name: site-a}
  storage: {path: /backups}
`

// condition renders one status condition in YAML.
func condition(typ, status, reason, message string) string {
	return fmt.Sprintf("{type: %s, status: %q, reason: %s, message: %q, lastTransitionTime: \"2026-03-01T11:00:00Z\"}", typ, status, reason, message)
}

// installRestoreCRD installs the ContactRestore CRD of config/crd/bases, or a stand-in with an
// open schema while the API has none.
func installRestoreCRD(g *WithT) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "crd", "bases", "ocs.ocsha.io_contactrestores.yaml")); err == nil {
		g.Expect(yaml.Unmarshal(data, crd)).To(Succeed())
	} else {
		g.Expect(yaml.Unmarshal([]byte(restoreStandIn), crd)).To(Succeed())
	}
	_, err := envtest.InstallCRDs(suite.env.Config, envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}})
	g.Expect(err).NotTo(HaveOccurred())
}

const restoreStandIn = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: contactrestores.ocs.ocsha.io
spec:
  group: ocs.ocsha.io
  names: {kind: ContactRestore, listKind: ContactRestoreList, plural: contactrestores, singular: contactrestore, shortNames: [cr]}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`
