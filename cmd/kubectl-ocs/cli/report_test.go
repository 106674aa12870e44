package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// seedReport adds, to a seeded pool, what a bundle must not leak: a Secret, a password in the
// last-applied copy and in an event.
func seedReport(g *WithT, ns string) {
	ctx := context.Background()
	_, err := suite.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ocs-admin"},
		StringData: map[string]string{"username": "CORP\\svc-ocs", "password": "hunter2-secret-value"},
	}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	pool := get(g, poolGVR, ns, "site-a")
	pool.SetAnnotations(map[string]string{lastApplied: `{"kind":"OCSPool","spec":{"password":"hunter2-secret-value"}}`})
	_, err = suite.dyn.Resource(poolGVR).Namespace(ns).Update(ctx, pool, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	for _, e := range []struct{ kind, name, reason, msg string }{
		{"UserHoming", "site-a", "DrainStarted", "Draining ocs1: 2500 users"},
		{"OCSPool", "site-a", "AuthenticationFailed", "ocs2 refused password=hunter2-secret-value"},
		{"OCSPool", "other-pool", "Unrelated", "not about site-a"},
	} {
		_, err := suite.kube.CoreV1().Events(ns).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "ev-"},
			InvolvedObject: corev1.ObjectReference{Kind: e.kind, Name: e.name, Namespace: ns, APIVersion: "ocs.ocsha.io/v1alpha1"},
			Reason:         e.reason, Message: e.msg, Type: corev1.EventTypeNormal, Count: 1,
			LastTimestamp: metav1.NewTime(testNow), FirstTimestamp: metav1.NewTime(testNow),
		}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	// A manager pod, in the test's namespace.
	_, err = suite.kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ocs-ha-manager", Labels: map[string]string{"control-plane": "controller-manager"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "ghcr.io/ocsha/ocs-ha-operator:test"}}},
	}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
}

// readTarGz returns the files of an archive by their path below its root directory.
func readTarGz(g *WithT, path string) map[string]string {
	f, err := os.Open(path)
	g.Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	gz, err := gzip.NewReader(f)
	g.Expect(err).NotTo(HaveOccurred())
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		g.Expect(err).NotTo(HaveOccurred())
		data, err := io.ReadAll(tr)
		g.Expect(err).NotTo(HaveOccurred())
		_, rel, _ := strings.Cut(h.Name, "/")
		out[rel] = string(data)
	}
}

func readDir(g *WithT, dir string) map[string]string {
	out := map[string]string{}
	g.Expect(filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})).To(Succeed())
	return out
}

func TestReportCommand(t *testing.T) {
	g := requireEnv(t)
	ns := newNamespace(t, g)
	seedPool(g, ns)
	seedReport(g, ns)
	dir := t.TempDir()

	archive := filepath.Join(dir, "bundle.tar.gz")
	r := run(ns, "report", "site-a", "--out", archive, "--manager-logs", "--manager-namespace", ns)
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	g.Expect(r.out).To(ContainSubstring("Wrote " + archive))
	g.Expect(r.errOut).To(BeEmpty())
	files := readTarGz(g, archive)
	g.Expect(files).To(HaveKey("status.txt"))
	g.Expect(files).To(HaveKey("objects/ocspool/site-a.yaml"))
	g.Expect(files).To(HaveKey("objects/userhoming/site-a.yaml"))
	g.Expect(files).To(HaveKey("objects/contactbackup/site-a.yaml"))
	g.Expect(files).To(HaveKey("events.yaml"))
	// envtest has no kubelet: the API server answers a pod without a node with no lines.
	g.Expect(files).To(HaveKeyWithValue("manager-logs/ocs-ha-manager_manager.log", "No log lines in the last 1h0m0s.\n"))
	g.Expect(files["events.txt"]).To(MatchRegexp(`(?m)^2026-03-01T12:00:00Z\s+Normal\s+DrainStarted\s+UserHoming/site-a\s+1\s+Draining ocs1: 2500 users$`))
	g.Expect(files["events.txt"]).To(ContainSubstring("ocs2 refused password=REDACTED"))
	g.Expect(files["events.txt"]).NotTo(ContainSubstring("Unrelated"))
	g.Expect(files["objects/ocspool/site-a.yaml"]).To(ContainSubstring("credentialsSecretRef"))
	g.Expect(files["objects/ocspool/site-a.yaml"]).NotTo(ContainSubstring("managedFields"))
	for name, content := range files {
		g.Expect(content).NotTo(ContainSubstring("hunter2"), name)
	}

	out := filepath.Join(dir, "bundle-dir")
	r = run(ns, "report", "site-a", "--out", out, "-o", "json", "--manager-logs", "--manager-selector", "app=none", "--manager-namespace", ns)
	g.Expect(r.err).NotTo(HaveOccurred(), r.errOut)
	var m BundleManifest
	g.Expect(json.Unmarshal([]byte(r.out), &m)).To(Succeed())
	g.Expect(m.Errors).To(ConsistOf("no manager pod in namespace " + ns + " matches app=none: set --manager-namespace and --manager-selector"))
	onDisk := readDir(g, out)
	g.Expect(onDisk["errors.txt"]).To(ContainSubstring("no manager pod"))
	g.Expect(m.Files).To(ConsistOf(keys(onDisk)))
	g.Expect(onDisk["status.txt"]).To(ContainSubstring("OCSPool " + ns + "/site-a"))

	r = run(ns, "report", "missing", "--out", filepath.Join(dir, "none"))
	g.Expect(r.err).To(MatchError(ContainSubstring("reading OCSPool " + ns + "/missing")))
	g.Expect(filepath.Join(dir, "none")).NotTo(BeADirectory())
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReportNeverReadsSecrets runs report on fake clients and checks every request it made.
func TestReportNeverReadsSecrets(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	pool := map[string]any{
		"apiVersion": "ocs.ocsha.io/v1alpha1", "kind": "OCSPool",
		"metadata": map[string]any{"name": "site-a", "namespace": "ns"},
		"spec":     map[string]any{"servers": []any{map[string]any{"name": "ocs1"}, map[string]any{"name": "ocs2"}}},
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{
		poolGVR: "OCSPoolList", homingGVR: "UserHomingList", backupGVR: "ContactBackupList", restoreGVR: "ContactRestoreList",
	}, &unstructured.Unstructured{Object: pool})
	kube := kubefake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ocs-admin", Namespace: "ns"}, Data: map[string][]byte{"password": []byte("x")}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "mgr", Namespace: "ocs-ha-system", Labels: map[string]string{"control-plane": "controller-manager"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager"}}}},
	)
	var out, errOut bytes.Buffer
	o := &options{
		streams: genericiooptions.IOStreams{Out: &out, ErrOut: &errOut},
		now:     func() time.Time { return testNow }, dyn: dyn, kube: kube, namespace: "ns",
	}
	f := reportFlags{out: t.TempDir(), managerLogs: true, managerNS: "ocs-ha-system", managerSelector: "control-plane=controller-manager", since: time.Hour, tail: 10}
	g.Expect(o.report(context.Background(), "site-a", f)).To(Succeed())
	g.Expect(kube.Actions()).NotTo(BeEmpty())
	for _, a := range kube.Actions() {
		g.Expect(a.GetResource().Resource).NotTo(Equal("secrets"), "%#v", a)
	}
	g.Expect(readDir(g, f.out)).To(HaveKey("manager-logs/mgr_manager.log"))
}
