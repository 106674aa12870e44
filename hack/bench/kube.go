package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

// controlPlane is a kube-apiserver + etcd started by envtest, a client and a kubeconfig for the manager.
type controlPlane struct {
	env        *envtest.Environment
	client     client.Client
	kubeconfig string
}

func startControlPlane(repo, work string) (*controlPlane, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: run through `make bench`, which sets it from hack/setup-envtest.sh")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repo, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	cp := &controlPlane{env: env}
	admin, err := env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		cp.stop()
		return nil, fmt.Errorf("adding the bench user: %w", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		cp.stop()
		return nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	cp.kubeconfig = filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(cp.kubeconfig, kc, 0o600); err != nil {
		cp.stop()
		return nil, fmt.Errorf("writing the kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(ocsv1.AddToScheme(scheme))
	// The rest config is raised above client-go's 5 QPS default: the bench polls every 50 ms.
	rc := admin.Config()
	rc.QPS, rc.Burst = 200, 400
	cp.client, err = client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		cp.stop()
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	return cp, nil
}

func (cp *controlPlane) stop() {
	if cp != nil && cp.env != nil {
		_ = cp.env.Stop()
	}
}

// poolSpec is what the bench creates for one pool.
type poolSpec struct {
	namespace     string
	emu           *emulator
	probeInterval time.Duration
	probeTimeout  time.Duration
	threshold     int32
	delay         time.Duration
	batchSize     int32
	backupDir     string // "" means no ContactBackup
	product       string // "" means OCS2007R2
}

// Object names inside each namespace.
const (
	poolName   = "site"
	homingName = "site"
	backupName = "site-contacts"
	secretName = "winrm"
)

// createPool creates the namespace, the credentials Secret, the OCSPool, the UserHoming and,
// when backupDir is set, a ContactBackup whose schedule never fires during a run (backups are
// requested with the backup-now annotation).
func createPool(ctx context.Context, c client.Client, p poolSpec) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: p.namespace},
			StringData: map[string]string{"username": p.emu.username, "password": p.emu.password},
		},
	}
	pool := &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Name: poolName, Namespace: p.namespace},
		Spec: ocsv1.OCSPoolSpec{
			Product: productOf(p.product),
			Health: ocsv1.HealthSpec{
				ProbeInterval:    p.probeInterval.String(),
				ProbeTimeout:     p.probeTimeout.String(),
				FailureThreshold: p.threshold,
			},
		},
	}
	for _, name := range []string{"ocs1", "ocs2"} {
		pool.Spec.Servers = append(pool.Spec.Servers, ocsv1.ServerSpec{
			Name: name,
			FQDN: name + ".corp.example.com",
			WinRM: ocsv1.WinRMSpec{
				Endpoint:             p.emu.endpoints[name],
				Auth:                 ocsv1.WinRMAuthBasic,
				CredentialsSecretRef: ocsv1.LocalObjectReference{Name: secretName},
				// Plain HTTP keeps TLS handshakes out of a cost model that counts round trips only.
				AllowUnencryptedBasic: true,
			},
		})
	}
	objs = append(objs, pool)
	homing := &ocsv1.UserHoming{
		ObjectMeta: metav1.ObjectMeta{Name: homingName, Namespace: p.namespace},
		Spec: ocsv1.UserHomingSpec{
			PoolRef:             ocsv1.PoolReference{Name: poolName},
			Placement:           ocsv1.PlacementBalanced,
			MaxImbalancePercent: 5,
			MoveBatchSize:       p.batchSize,
			Failover:            ocsv1.FailoverSpec{Mode: ocsv1.FailoverAutomatic, Delay: p.delay.String()},
			Failback:            ocsv1.FailbackSpec{Mode: ocsv1.FailbackManual},
		},
	}
	if p.backupDir != "" {
		homing.Spec.ContactRestore.BackupRef = &ocsv1.LocalObjectReference{Name: backupName}
		yes := true
		objs = append(objs, &ocsv1.ContactBackup{
			ObjectMeta: metav1.ObjectMeta{Name: backupName, Namespace: p.namespace},
			Spec: ocsv1.ContactBackupSpec{
				PoolRef:              ocsv1.PoolReference{Name: poolName},
				Schedule:             "0 0 1 1 *",
				Retention:            ocsv1.RetentionSpec{KeepLast: 5},
				IncludeConfiguration: &yes,
				Storage:              ocsv1.StorageSpec{Path: p.backupDir},
			},
		})
	}
	objs = append(objs, homing)
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

func getPool(ctx context.Context, c client.Client, ns string) (*ocsv1.OCSPool, error) {
	var p ocsv1.OCSPool
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: poolName}, &p); err != nil {
		return nil, fmt.Errorf("reading OCSPool %s/%s: %w", ns, poolName, err)
	}
	return &p, nil
}

func getHoming(ctx context.Context, c client.Client, ns string) (*ocsv1.UserHoming, error) {
	var h ocsv1.UserHoming
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: homingName}, &h); err != nil {
		return nil, fmt.Errorf("reading UserHoming %s/%s: %w", ns, homingName, err)
	}
	return &h, nil
}

func getBackup(ctx context.Context, c client.Client, ns string) (*ocsv1.ContactBackup, error) {
	var b ocsv1.ContactBackup
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: backupName}, &b); err != nil {
		return nil, fmt.Errorf("reading ContactBackup %s/%s: %w", ns, backupName, err)
	}
	return &b, nil
}

// isReady reports whether the Ready condition is True for the current generation.
func isReady(obj interface {
	client.Object
	GetCommonStatus() *ocsv1.CommonStatus
}) bool {
	st := obj.GetCommonStatus()
	c := meta.FindStatusCondition(st.Conditions, ocsv1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && st.ObservedGeneration == obj.GetGeneration()
}

// serverState returns the state OCSPool reports for server.
func serverState(p *ocsv1.OCSPool, server string) ocsv1.ServerState {
	for _, s := range p.Status.Servers {
		if s.Name == server {
			return s.State
		}
	}
	return ""
}

// requestBackup sets the backup-now annotation to token.
func requestBackup(ctx context.Context, c client.Client, ns, token string) error {
	b := &ocsv1.ContactBackup{ObjectMeta: metav1.ObjectMeta{Name: backupName, Namespace: ns}}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, ocsv1.AnnotationBackupNow, token)
	if err := c.Patch(ctx, b, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("annotating ContactBackup %s/%s: %w", ns, backupName, err)
	}
	return nil
}

// setMaintenance sets spec.servers[index].maintenance with a JSON patch.
func setMaintenance(ctx context.Context, c client.Client, ns string, index int, on bool) error {
	p := &ocsv1.OCSPool{ObjectMeta: metav1.ObjectMeta{Name: poolName, Namespace: ns}}
	patch := fmt.Appendf(nil, `[{"op":"add","path":"/spec/servers/%d/maintenance","value":%t}]`, index, on)
	if err := c.Patch(ctx, p, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return fmt.Errorf("patching OCSPool %s/%s maintenance: %w", ns, poolName, err)
	}
	return nil
}

// poll calls cond every interval until it returns true, returns an error, or timeout passes.
// It is how the bench waits for state: never a sleep for a guessed duration.
func poll(ctx context.Context, interval, timeout time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		ok, err := cond()
		if err != nil {
			last = err
		} else if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// productOf is the OCSPool product of the bench's --product ("" is OCS 2007 R2).
func productOf(p string) ocsv1.Product {
	if p == "" {
		return ocsv1.ProductOCS2007R2
	}
	return ocsv1.Product(p)
}
