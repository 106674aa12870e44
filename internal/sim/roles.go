package sim

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/host"
)

// Roles of emulated servers, as GET /servers reports them.
const (
	RoleFrontEnd  = host.RoleFrontEnd
	RoleMediation = host.RoleMediation
	RoleEdge      = host.RoleEdge
)

// serviceStopper is implemented by a World that can stop one service of a server
// (POST /servers/{name}/stop-service?service=NAME).
type serviceStopper interface {
	StopService(server, service string) error
}

// errNotSupported is returned for an admin action the emulated deployment cannot do.
var errNotSupported = errors.New("not supported by this deployment")

// serverSpecs lists the emulated servers in endpoint order: the front ends, then the Mediation
// servers, then the Edges, so that role servers' ports continue after the front ends'. Names
// are unique across all of them.
func (cfg *Config) serverSpecs() ([]ServerSpec, error) {
	var out []ServerSpec
	seen := map[string]bool{}
	for _, group := range []struct {
		role  string
		names []string
	}{{"", cfg.Servers}, {RoleMediation, cfg.Mediation}, {RoleEdge, cfg.Edge}} {
		for _, n := range group.names {
			if n == "" || seen[strings.ToLower(n)] {
				return nil, fmt.Errorf("server name %q is empty or repeated", n)
			}
			seen[strings.ToLower(n)] = true
			out = append(out, ServerSpec{Name: n, FQDN: n + "." + cfg.Domain, Profile: cfg.ServerProfiles[n], Role: group.role})
		}
	}
	return out, nil
}

// stopService stops the services a server exists for (service ""), or one of its services.
func (e *Emulator) stopService(s *server, service string) error {
	if err := e.listen(s); err != nil {
		return err
	}
	if service == "" {
		return e.world.SetState(s.name, StateServiceStopped)
	}
	st, ok := e.world.(serviceStopper)
	if !ok {
		return fmt.Errorf("stopping one service: %w", errNotSupported)
	}
	return st.StopService(s.name, service)
}
