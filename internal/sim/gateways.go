package sim

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/gateway"
)

// SelfSigned makes a throwaway CA and a server certificate it signs for hosts, for tests that
// serve TLS (SIP gateways). It returns the certificate and the CA as PEM.
func SelfSigned(hosts []string) (tls.Certificate, []byte, error) { return selfSigned(hosts) }

// gatewayJSON is one emulated PSTN gateway as GET /gateways reports it.
type gatewayJSON struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Port      int    `json:"port"`
	Transport string `json:"transport"`
	State     string `json:"state"`
}

// startGateways starts cfg.Gateways emulated gateways, gw1…gwN, answering SIP OPTIONS on the
// listen address (random ports; GET /gateways names them), over TLS with the endpoints'
// certificate when --tls is set, else TCP.
func (e *Emulator) startGateways() error {
	var conf *tls.Config
	if e.tlsCert != nil {
		conf = &tls.Config{Certificates: []tls.Certificate{*e.tlsCert}, MinVersion: tls.VersionTLS12}
	}
	for i := 1; i <= e.cfg.Gateways; i++ {
		g := gateway.New(fmt.Sprintf("gw%d", i), net.JoinHostPort(e.cfg.Listen, "0"), conf)
		if err := g.Start(); err != nil {
			return err
		}
		e.gateways = append(e.gateways, g)
	}
	return nil
}

func (e *Emulator) gateway(name string) *gateway.Gateway {
	for _, g := range e.gateways {
		if strings.EqualFold(g.Name(), name) {
			return g
		}
	}
	return nil
}

func (e *Emulator) getGateways(w http.ResponseWriter, _ *http.Request) {
	out := []gatewayJSON{}
	for _, g := range e.gateways {
		host, _, _ := net.SplitHostPort(g.Addr())
		out = append(out, gatewayJSON{Name: g.Name(), Address: host, Port: gateway.Port(g.Addr()), Transport: g.Transport(), State: g.State()})
	}
	writeJSON(w, http.StatusOK, out)
}

// gatewayAction is POST /gateways/{name}/stop (listens, answers nothing), /crash (connections
// refused) or /start.
func (e *Emulator) gatewayAction(w http.ResponseWriter, r *http.Request) {
	g := e.gateway(r.PathValue("name"))
	if g == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("%q: %w", r.PathValue("name"), gateway.ErrUnknown))
		return
	}
	var err error
	switch r.PathValue("action") {
	case "stop":
		err = g.Silence()
	case "crash":
		g.Crash()
	case "start":
		err = g.Start()
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown action %q", r.PathValue("action")))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	e.getGateways(w, r)
}
