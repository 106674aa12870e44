package main

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

func TestWatchedNamespaces(t *testing.T) {
	tests := map[string]struct {
		list    string
		want    map[string]cache.Config
		wantErr bool
	}{
		"empty means every namespace":     {list: "", want: nil},
		"blanks and commas only":          {list: " , ,", want: nil},
		"one namespace":                   {list: "ocs", want: map[string]cache.Config{"ocs": {}}},
		"several, with spaces":            {list: "ocs-a, ocs-b ,ocs-a", want: map[string]cache.Config{"ocs-a": {}, "ocs-b": {}}},
		"a name that is not a namespace":  {list: "ocs,Bad_Name", wantErr: true},
		"a cluster-wide wildcard refused": {list: "*", wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := watchedNamespaces(tt.list)
			if tt.wantErr {
				g.Expect(err).To(MatchError(ContainSubstring("--watch-namespaces")))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestWatchNamespacesFlagDefaultsToTheEnvironment(t *testing.T) {
	g := NewWithT(t)
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	v := bindWatchNamespacesFlag(fs, "from-env")
	g.Expect(fs.Parse(nil)).To(Succeed())
	g.Expect(*v).To(Equal("from-env"))
	g.Expect(fs.Parse([]string{"--watch-namespaces=a,b"})).To(Succeed())
	g.Expect(*v).To(Equal("a,b"))
}

func TestMetricsAreSecureByDefault(t *testing.T) {
	g := NewWithT(t)
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	f := bindMetricsFlags(fs)
	g.Expect(fs.Parse([]string{"--metrics-bind-address=:8443"})).To(Succeed())
	opts := metricsOptions(*f)
	g.Expect(opts.BindAddress).To(Equal(":8443"))
	g.Expect(opts.SecureServing).To(BeTrue())
	g.Expect(opts.FilterProvider).NotTo(BeNil(), "metrics must be behind authentication and authorization")
	g.Expect(opts.TLSOpts).To(HaveLen(1), "HTTP/2 is off unless --enable-http2")

	g.Expect(fs.Parse([]string{"--metrics-secure=false", "--enable-http2"})).To(Succeed())
	opts = metricsOptions(*f)
	g.Expect(opts.SecureServing).To(BeFalse())
	g.Expect(opts.FilterProvider).To(BeNil())
	g.Expect(opts.TLSOpts).To(BeEmpty())
}

// TestMetricsFilterAnswersOnlyTheMetricsReader runs the filter main.go installs against a real
// API server: anonymous callers get 401, a ServiceAccount without the metrics-reader ClusterRole
// of config/rbac gets 403, one bound to it gets the metrics.
func TestMetricsFilterAnswersOnlyTheMetricsReader(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run with the control plane of hack/setup-envtest.sh")
	}
	g := NewWithT(t)
	env := &envtest.Environment{}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	kube := kubernetes.NewForConfigOrDie(cfg)

	opts := metricsOptions(metricsFlags{addr: "127.0.0.1:0", secure: true})
	httpClient, err := rest.HTTPClientFor(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	filter, err := opts.FilterProvider(cfg, httpClient)
	g.Expect(err).NotTo(HaveOccurred())
	handler, err := filter(testr.New(t), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ocsha_server_up 1\n"))
	}))
	g.Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)

	const ns = "monitoring"
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	reader := &rbacv1.ClusterRole{}
	data, err := os.ReadFile(filepath.Join("config", "rbac", "metrics_reader_role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(yaml.UnmarshalStrict(data, reader)).To(Succeed())
	_, err = kube.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: ns}},
	}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	token := func(sa string) string {
		_, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}
	prometheus, stranger := token("prometheus"), token("stranger")
	// The filter caches a denial for 30 s: ask only once RBAC allows the reader.
	g.Eventually(func(g Gomega) {
		sar, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  "system:serviceaccount:" + ns + ":prometheus",
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sar.Status.Allowed).To(BeTrue())
	}).WithTimeout(30 * time.Second).Should(Succeed())

	get := func(token string) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/metrics", nil)
		g.Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	g.Expect(get("")).To(Equal(http.StatusUnauthorized))
	// controller-runtime answers a token the API server cannot read with 500, not 401.
	g.Expect(get("not-a-token")).To(BeNumerically(">=", http.StatusBadRequest))
	g.Expect(get(stranger)).To(Equal(http.StatusForbidden))
	g.Expect(get(prometheus)).To(Equal(http.StatusOK))
}
