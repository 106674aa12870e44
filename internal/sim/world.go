package sim

import (
	"context"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// Server states, as the admin API reports them.
const (
	StateUp             = "up"
	StateDown           = "down"
	StateServiceStopped = "service-stopped"
)

// World is the emulated OCS deployment behind the endpoints: the directory, each server's
// contact database and the programs each server runs.
type World interface {
	Programs(server string) map[string]cmdexe.Program
	SetState(server, state string) error
	Servers() []ServerView
	Users() []UserView
	UserContacts(sip string) (contacts.Resource, bool)
	AddUser(sip, home string) error
	SetContacts(sip string, r contacts.Resource) error
}

// fsProvider is implemented by a World that owns each server's file system.
type fsProvider interface {
	FS(server string) *winfs.FS
}

// ServerView is one server as the world sees it; Role is RoleFrontEnd, RoleMediation or
// RoleEdge.
type ServerView struct {
	Name, FQDN string
	Role       string
	State      string
	HomedUsers int
}

// UserView is one user of the directory; Contacts counts the list in the home server's database.
type UserView struct {
	SIP, Home string
	Contacts  int
}

// WorldConfig is what a World is built from.
type WorldConfig struct {
	Servers         []ServerSpec
	Domain          string
	Users           int
	ContactsPerUser int
	Seed            int64
	MoveCost        time.Duration
	ImportCost      time.Duration
	// ProcessCost, ModuleCost and ExportCost are Windows' own costs (Config).
	ProcessCost, ModuleCost, ExportCost time.Duration
	// Sleep is Config.Sleep (nil: a real timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Product, Profile and MoveLag are Config's.
	Product string
	Profile Profile
	MoveLag time.Duration
	// DoubleHop is Config.DoubleHop.
	DoubleHop bool
}

// ServerSpec names one emulated server; Profile is Config.ServerProfiles' entry for it. Role is
// "" for a front end, else RoleMediation or RoleEdge.
type ServerSpec struct {
	Name, FQDN string
	Profile    Profile
	Role       string
}
