package host

import (
	"context"
	"fmt"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
)

// Roles of emulated servers (ServerConfig.Role). A front end's role is "" in the configuration.
const (
	RoleFrontEnd  = "FrontEnd"
	RoleMediation = "Mediation"
	RoleEdge      = "Edge"
)

// catalogService is one service an emulated server runs: short name, display name, the role
// Get-CsWindowsService names, and whether that cmdlet reports it (Cs).
type catalogService struct {
	Name, Display, Role string
	Cs                  bool
}

// assignRole gives s its role's services and management pieces. A role server homes no users
// and is no pool (World.roleServers); what its directory commands do is in inferred.go
// ("Role servers").
func (w *World) assignRole(s *server, role string) error {
	switch {
	case role == "" || strings.EqualFold(role, RoleFrontEnd):
		s.catalog = serviceCatalog
		return nil
	case strings.EqualFold(role, RoleMediation):
		s.role = RoleMediation
	case strings.EqualFold(role, RoleEdge):
		s.role = RoleEdge
	default:
		return fmt.Errorf("role %q: want %s or %s", role, RoleMediation, RoleEdge)
	}
	s.catalog = roleCatalog[w.product][s.role]
	if w.product == ProductOCS2007R2 {
		// No MSFT_SIP* user or pool classes and no database tools (inferred.go).
		s.profile.MissingModule = true
		s.profile.MissingTools = append(s.profile.MissingTools, ToolLcscmd, ToolDBImpExp)
	}
	return nil
}

// roleName is the server's role as the admin API reports it.
func (s *server) roleName() string {
	if s.role == "" {
		return RoleFrontEnd
	}
	return s.role
}

// essentialServices are the services whose stop makes the server service-stopped: RtcSrv on a
// front end, every service of a role server.
func (s *server) essentialServices() []string {
	if s.role == "" {
		return []string{"RtcSrv"}
	}
	return append([]string(nil), s.services...)
}

// addProductCmdlets registers the product's cmdlets of a Skype for Business server: all of them
// on a front end, only Get-CsWindowsService on a role server (inferred.go, "Role servers").
func (w *World) addProductCmdlets(r ps.Registry, s *server) {
	if s.role == "" {
		w.addCs(r, s)
		return
	}
	r.Add(&ps.Cmdlet{Name: "Get-CsWindowsService", Params: []string{"Name", "ComputerName", "Report"}, Switches: []string{"ExcludeActivityLevel"},
		Run: func(_ context.Context, c *ps.Call) ([]any, error) { return w.getCsWindowsService(s, c) }})
}

// StopService stops one of a server's services, as `sc stop` would; the server is then
// service-stopped (a crashed one comes back so) until SetState(StateUp) starts every service
// again. It fails for an unknown server or a service the server does not run.
func (w *World) StopService(name, service string) error {
	s := w.server(name)
	if s == nil {
		return fmt.Errorf("server %q: %w", name, ErrNotFound)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	svc, ok := s.service(service)
	if !ok {
		return fmt.Errorf("service %q on %s (it runs %s): %w", service, s.name, strings.Join(s.services, ", "), ErrNotFound)
	}
	s.stopped[strings.ToLower(svc)] = true
	s.state = StateServiceStopped
	return nil
}
