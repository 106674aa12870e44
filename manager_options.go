package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// envWatchNamespace is the kubebuilder convention for the namespaces an operator watches.
const envWatchNamespace = "WATCH_NAMESPACE"

// watchedNamespaces parses a comma-separated list of namespaces into the cache's per-namespace
// configuration. Empty means every namespace (nil). The cache holds OCSPools, UserHomings,
// ContactBackups and Secret metadata of these namespaces only.
func watchedNamespaces(list string) (map[string]cache.Config, error) {
	out := map[string]cache.Config{}
	for _, ns := range strings.Split(list, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		}
		out[ns] = cache.Config{}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// bindWatchNamespacesFlag registers --watch-namespaces on fs with def (from $WATCH_NAMESPACE).
func bindWatchNamespacesFlag(fs *flag.FlagSet, def string) *string {
	return fs.String("watch-namespaces", def, "Comma-separated namespaces whose OCSPools, UserHomings, ContactBackups and Secrets "+
		"the manager reads; empty means all. Defaults to $"+envWatchNamespace+".")
}

// bindLeaderElectionNamespaceFlag registers --leader-election-namespace on fs: where the lease
// lives. In a cluster the Pod's namespace is the default; a manager run outside one (go run .,
// two managers in a test) has no Pod namespace and must name it.
func bindLeaderElectionNamespaceFlag(fs *flag.FlagSet) *string {
	return fs.String("leader-election-namespace", "", "Namespace of the leader-election lease; empty means the Pod's namespace (required with --leader-elect outside a cluster).")
}

// metricsFlags are the metrics server's flags, as kubebuilder's scaffold has them.
type metricsFlags struct {
	addr     string
	secure   bool
	certPath string
	certName string
	certKey  string
	http2    bool
}

// bindMetricsFlags registers the metrics flags on fs. Metrics are off unless an address is given,
// and secure (HTTPS, authenticated, authorized) unless --metrics-secure=false.
func bindMetricsFlags(fs *flag.FlagSet) *metricsFlags {
	f := &metricsFlags{}
	fs.StringVar(&f.addr, "metrics-bind-address", "0", "The address the metrics endpoint binds to: :8443 for HTTPS, :8080 for HTTP, 0 disables it.")
	fs.BoolVar(&f.secure, "metrics-secure", true, "Serve metrics over HTTPS to authenticated callers allowed to get /metrics (the "+
		"metrics-reader ClusterRole); false serves plain HTTP to anyone who can connect.")
	fs.StringVar(&f.certPath, "metrics-cert-path", "", "Directory with the metrics server's certificate, re-read when it changes; empty generates a self-signed one.")
	fs.StringVar(&f.certName, "metrics-cert-name", "tls.crt", "Certificate file name in --metrics-cert-path.")
	fs.StringVar(&f.certKey, "metrics-cert-key", "tls.key", "Key file name in --metrics-cert-path.")
	fs.BoolVar(&f.http2, "enable-http2", false, "Serve metrics over HTTP/2 as well (off by default: HTTP/2 rapid reset and stream cancellation).")
	return f
}

// metricsOptions serves /metrics over HTTPS to callers the API server authenticates (TokenReview)
// and authorizes (SubjectAccessReview: get on the non-resource URL /metrics, which the
// metrics-reader ClusterRole grants), as kubebuilder's default scaffold does. The certificate is
// read (and re-read on change) from certPath, else generated self-signed at start.
func metricsOptions(f metricsFlags) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: f.addr, SecureServing: f.secure}
	if !f.http2 {
		// HTTP/2 Stream Cancellation and Rapid Reset (CVE-2023-44487, CVE-2023-39325): serve
		// HTTP/1.1 only unless asked.
		opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if f.secure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if f.certPath != "" {
		opts.CertDir, opts.CertName, opts.KeyName = f.certPath, f.certName, f.certKey
	}
	return opts
}
