package sim

import (
	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/host"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// newHostWorld builds the OCS host emulation.
func newHostWorld(wc WorldConfig) (World, error) {
	product, err := host.ParseProduct(wc.Product)
	if err != nil {
		return nil, err
	}
	cfg := host.Config{Domain: wc.Domain, Users: wc.Users, ContactsPerUser: wc.ContactsPerUser, Seed: wc.Seed,
		MoveCost: wc.MoveCost, ImportCost: wc.ImportCost,
		Costs: host.Costs{Process: wc.ProcessCost, Module: wc.ModuleCost, Export: wc.ExportCost}, Sleep: wc.Sleep, Product: product, Profile: hostProfile(wc.Profile), MoveLag: wc.MoveLag,
		DoubleHop: wc.DoubleHop}
	for _, s := range wc.Servers {
		cfg.Servers = append(cfg.Servers, host.ServerConfig{Name: s.Name, FQDN: s.FQDN, Profile: hostProfile(s.Profile), Role: s.Role})
	}
	w, err := host.NewWorld(cfg)
	if err != nil {
		return nil, err
	}
	return hostWorld{w}, nil
}

// hostWorld adapts *host.World to World.
type hostWorld struct{ w *host.World }

func (h hostWorld) Programs(server string) map[string]cmdexe.Program { return h.w.Programs(server) }
func (h hostWorld) SetState(server, state string) error {
	return h.w.SetState(server, host.State(state))
}
func (h hostWorld) UserContacts(sip string) (contacts.Resource, bool) {
	return h.w.UserContacts(sip)
}
func (h hostWorld) AddUser(sip, home string) error                    { return h.w.AddUser(sip, home) }
func (h hostWorld) SetContacts(sip string, r contacts.Resource) error { return h.w.SetContacts(sip, r) }
func (h hostWorld) FS(server string) *winfs.FS                        { return h.w.FS(server) }
func (h hostWorld) StopService(server, service string) error          { return h.w.StopService(server, service) }

func (h hostWorld) Servers() []ServerView {
	var out []ServerView
	for _, s := range h.w.Servers() {
		out = append(out, ServerView{Name: s.Name, FQDN: s.FQDN, Role: s.Role, State: string(s.State), HomedUsers: s.HomedUsers})
	}
	return out
}

func (h hostWorld) Users() []UserView {
	us := h.w.Users()
	out := make([]UserView, 0, len(us))
	for _, u := range us {
		out = append(out, UserView{SIP: u.SIP, Home: u.Home, Contacts: u.Contacts})
	}
	return out
}

func hostProfile(p Profile) host.Profile {
	return host.Profile{PowerShell: p.PowerShell, ConsoleWidth: p.ConsoleWidth,
		MissingTools: append([]string(nil), p.MissingTools...), MissingModule: p.MissingModule}
}
