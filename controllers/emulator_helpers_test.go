package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
)

// Names of the Secrets createPoolFor creates next to the pool.
const (
	emuCredentialsSecret = "winrm-credentials"
	emuCASecret          = "winrm-ca"
)

// emulatorConfigs remembers each running emulator's effective credentials, which createPoolFor
// copies into the credentials Secret.
var emulatorConfigs sync.Map // *sim.Emulator -> sim.Config

// startEmulator starts an emulator on random 127.0.0.1 ports (endpoints and admin API) for one
// test and closes it when the test ends. The directory refuses sessions without delegated
// credentials, as on a domain (sim.Config.DoubleHop), so pools log on with CredSSP.
func startEmulator(cfg sim.Config) *sim.Emulator {
	GinkgoHelper()
	cfg.DoubleHop = true
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:0"
	}
	cfg.BasePort = 0
	if cfg.Username == "" {
		cfg.Username = sim.DefaultUsername
	}
	if cfg.Password == "" {
		cfg.Password = sim.DefaultPassword
	}
	emu, err := sim.Start(testCtx, cfg)
	Expect(err).NotTo(HaveOccurred(), "starting the emulator")
	emulatorConfigs.Store(emu, cfg)
	DeferCleanup(func() {
		emu.Close()
		emulatorConfigs.Delete(emu)
	})
	return emu
}

// simServer is one server as the emulator's admin API reports it.
type simServer struct {
	Name       string `json:"name"`
	FQDN       string `json:"fqdn"`
	Endpoint   string `json:"endpoint"`
	State      string `json:"state"`
	HomedUsers int    `json:"homedUsers"`
	// Role is FrontEnd, Mediation or Edge.
	Role string `json:"role"`
}

// simServers lists the emulator's servers in their configured order.
func simServers(emu *sim.Emulator) []simServer {
	GinkgoHelper()
	var out []simServer
	simAdmin(emu, http.MethodGet, "/servers", &out)
	return out
}

// simUsers lists the emulated directory's users with their home and contact count.
func simUsers(emu *sim.Emulator) []sim.UserView {
	GinkgoHelper()
	var raw []struct {
		SIP      string `json:"sip"`
		Home     string `json:"home"`
		Contacts int    `json:"contacts"`
	}
	simAdmin(emu, http.MethodGet, "/users", &raw)
	out := make([]sim.UserView, 0, len(raw))
	for _, u := range raw {
		out = append(out, sim.UserView{SIP: u.SIP, Home: u.Home, Contacts: u.Contacts})
	}
	return out
}

// simCrash cuts a server off as a power cut would: its endpoint refuses connections.
func simCrash(emu *sim.Emulator, name string) { GinkgoHelper(); simAction(emu, name, "crash") }

// simStopService keeps WinRM answering but stops the server's front-end service.
func simStopService(emu *sim.Emulator, name string) {
	GinkgoHelper()
	simAction(emu, name, "stop-service")
}

// simStart brings a crashed or stopped server back up.
func simStart(emu *sim.Emulator, name string) { GinkgoHelper(); simAction(emu, name, "start") }

func simAction(emu *sim.Emulator, name, action string) {
	GinkgoHelper()
	simAdmin(emu, http.MethodPost, "/servers/"+url.PathEscape(name)+"/"+action, nil)
}

// simAdmin calls the admin API and decodes the JSON answer into out (when not nil).
func simAdmin(emu *sim.Emulator, method, path string, out any) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(testCtx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, emu.AdminURL()+path, nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred(), "%s %s", method, path)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(BeNumerically("<", 300), "%s %s: %s", method, path, body)
	if out != nil {
		Expect(json.Unmarshal(body, out)).To(Succeed(), "%s %s: %s", method, path, body)
	}
}

// createPoolFor creates, in ns, an OCSPool named "pool" with one server per emulated front end,
// the credentials Secret and, when the emulator serves TLS, the CA Secret. Probes are short
// (1s interval, the API's minimum; 150ms timeout; failureThreshold 2) so that state changes show quickly.
// mutate, when not nil, changes the pool before it is created.
func createPoolFor(ns string, emu *sim.Emulator, mutate func(*ocsv1.OCSPool)) *ocsv1.OCSPool {
	GinkgoHelper()
	v, ok := emulatorConfigs.Load(emu)
	Expect(ok).To(BeTrue(), "createPoolFor needs an emulator started by startEmulator")
	cfg := v.(sim.Config)

	domain := cfg.NetBIOSDomain
	if domain == "" {
		domain = "CORP" // the emulator's default for corp.example.com
	}
	Expect(k8sClient.Create(testCtx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: emuCredentialsSecret, Namespace: ns},
		Data: map[string][]byte{
			// The domain account: CredSSP logs it on and delegates it.
			secretKeyUsername: []byte(domain + `\` + cfg.Username),
			secretKeyPassword: []byte(cfg.Password),
		},
	})).To(Succeed())
	tls := emu.CACertPEM() != nil
	if tls {
		Expect(k8sClient.Create(testCtx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: emuCASecret, Namespace: ns},
			Data:       map[string][]byte{secretKeyCA: emu.CACertPEM()},
		})).To(Succeed())
	}

	pool := &ocsv1.OCSPool{
		ObjectMeta: metav1.ObjectMeta{Name: "pool", Namespace: ns},
		Spec: ocsv1.OCSPoolSpec{
			Product: ocsv1.ProductOCS2007R2,
			Health: ocsv1.HealthSpec{
				ProbeInterval:    "1s",
				ProbeTimeout:     "150ms",
				FailureThreshold: 2,
			},
		},
	}
	for _, s := range simServers(emu) {
		if s.Role != sim.RoleFrontEnd {
			continue // role servers go to spec.roles (rolesFor)
		}
		w := ocsv1.WinRMSpec{
			Endpoint:             s.Endpoint,
			CredentialsSecretRef: ocsv1.LocalObjectReference{Name: emuCredentialsSecret},
			Auth:                 ocsv1.WinRMAuthCredSSP,
		}
		if tls {
			w.CASecretRef = &ocsv1.LocalObjectReference{Name: emuCASecret}
		}
		pool.Spec.Servers = append(pool.Spec.Servers, ocsv1.ServerSpec{Name: s.Name, FQDN: s.FQDN, WinRM: w})
	}
	if mutate != nil {
		mutate(pool)
	}
	Expect(k8sClient.Create(testCtx, pool)).To(Succeed())
	return pool
}

// waitPoolReady waits until pool reports Ready=True with every server Healthy for its current
// generation, and refreshes pool in place.
func waitPoolReady(pool *ocsv1.OCSPool) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(pool), pool)).To(Succeed())
		g.Expect(pool.Status.ObservedGeneration).To(Equal(pool.Generation))
		g.Expect(meta.IsStatusConditionTrue(pool.Status.Conditions, ocsv1.ConditionReady)).To(BeTrue(),
			"conditions: %s", conditionsString(pool.Status.Conditions))
		g.Expect(pool.Status.Servers).To(HaveLen(len(pool.Spec.Servers)))
		for _, s := range pool.Status.Servers {
			g.Expect(s.State).To(Equal(ocsv1.ServerHealthy), "server %s: %s", s.Name, s.Message)
		}
	}).Should(Succeed())
}

// conditionsString renders conditions for failure messages.
func conditionsString(conds []metav1.Condition) string {
	out := ""
	for _, c := range conds {
		out += fmt.Sprintf("%s=%s(%s: %s) ", c.Type, c.Status, c.Reason, c.Message)
	}
	return out
}
