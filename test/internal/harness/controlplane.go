package harness

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlane is a kube-apiserver and etcd (envtest) with an administrator's kubeconfig.
type ControlPlane struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Kubeconfig string
}

// StartControlPlane starts kube-apiserver and etcd from $KUBEBUILDER_ASSETS and writes an
// administrator's kubeconfig into dir.
func StartControlPlane(dir string) (*ControlPlane, error) {
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane (is KUBEBUILDER_ASSETS set? make test sets it): %w", err)
	}
	cp := &ControlPlane{Env: env}
	admin, err := env.AddUser(envtest.User{Name: "suite-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return cp, fmt.Errorf("adding the administrator: %w", err)
	}
	cp.Config = admin.Config()
	kc, err := admin.KubeConfig()
	if err != nil {
		return cp, fmt.Errorf("rendering the kubeconfig: %w", err)
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	return cp, os.WriteFile(cp.Kubeconfig, kc, 0o600)
}

// Stop stops the control plane; a nil one is already stopped.
func (cp *ControlPlane) Stop() error {
	if cp == nil || cp.Env == nil {
		return nil
	}
	return cp.Env.Stop()
}
