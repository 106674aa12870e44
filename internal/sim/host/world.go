package host

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/costclock"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// ServerConfig names one emulated server; Profile's set fields override the site's
// Config.Profile for this server. Role is "" for a Standard Edition front end, else RoleMediation
// or RoleEdge (roles.go).
type ServerConfig struct {
	Name, FQDN string
	Profile    Profile
	Role       string
}

// Config describes the emulated site.
type Config struct {
	// Product is what every server runs (default OCS 2007 R2).
	Product Product
	// Profile is every server's software beyond the product (zero: the product's defaults).
	Profile Profile
	Servers []ServerConfig
	// Domain is the AD and SIP domain (default corp.example.com).
	Domain string
	// Users are spread round robin over Servers: user0001 on the first, user0002 on the second…
	Users, ContactsPerUser int
	// Seed makes the generated contact lists and GUIDs reproducible.
	Seed int64
	// MoveCost and ImportCost are spent per moved and per imported user inside the command.
	MoveCost, ImportCost time.Duration
	// Costs are Windows' own costs: program start, module load, per-user export (cost.go).
	Costs Costs
	// MoveLag is how long a moved user still shows the old home to directory reads (WMI,
	// Get-CsUser), as replication would (inferred.go).
	MoveLag time.Duration
	// Sleep is what PowerShell's Start-Sleep waits with (nil: a real timer).
	Sleep ps.SleepFunc
	// DoubleHop makes directory commands fail unless their session holds delegated credentials
	// (WithDelegatedCredentials), as on a domain (doublehop.go).
	DoubleHop bool
}

// State is the state of an emulated server.
type State string

// Server states (architecture.md §4).
const (
	StateUp             State = "up"
	StateDown           State = "down"
	StateServiceStopped State = "service-stopped"
)

// ServerView is a server as the admin API shows it; Role is RoleFrontEnd, RoleMediation or
// RoleEdge.
type ServerView struct {
	Name, FQDN string
	Role       string
	State      State
	HomedUsers int
}

// UserView is a user as the admin API shows it; Contacts counts the home database's list.
type UserView struct {
	SIP, Home string
	Contacts  int
}

// ErrNotFound is returned for an unknown server or user.
var ErrNotFound = errors.New("not found")

// World is the emulated site: a shared directory and one server (database, services, files) per
// configured server. It is safe for concurrent use.
type World struct {
	product              Product
	domain               string
	moveCost, importCost time.Duration
	costs                Costs
	moveLag              time.Duration
	sleep                ps.SleepFunc
	doubleHop            bool

	mu sync.Mutex
	// servers are the front ends, each its own pool; roleServers the Mediation and Edge servers,
	// which home no users and are no pool (roles.go).
	servers     []*server
	roleServers []*server
	users       map[string]*user // key: lower-case "sip:user@host"
}

type server struct {
	name, fqdn, dn, instanceID string
	role                       string // "" for a front end
	catalog                    []catalogService
	fs                         *winfs.FS
	profile                    Profile
	programs                   map[string]cmdexe.Program
	// Guarded by World.mu.
	state    State
	stopped  map[string]bool              // services not running, lower-case names
	db       map[string]contacts.Resource // lower-case user@host
	staged   []contacts.Resource          // Import-CsUserData, applied when RtcSrv restarts
	services []string
}

type user struct {
	sip, dn, display, instanceID string
	home                         *server // nil: no home server
	enabled                      bool
	// shownHome is what directory reads return until shownUntil, after a move (MoveLag).
	shownHome  *server
	shownUntil time.Time
}

// visibleHome is the home a directory read returns: the old one for MoveLag after a move.
// The caller holds w.mu.
func (u *user) visibleHome() *server {
	if !u.shownUntil.IsZero() && time.Now().Before(u.shownUntil) {
		return u.shownHome
	}
	return u.home
}

// sipPattern is what the emulator accepts as a new user's SIP address: anything a directory
// can hold (msRTCSIP-PrimaryUserAddress is a free string; OCS only wants sip:user@host), so
// tests meet the addresses the agent must report and skip (inferred.go).
var sipPattern = regexp.MustCompile(`^sip:[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+$`)

// NewWorld builds the site with its generated users and contact lists.
func NewWorld(cfg Config) (*World, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("no servers configured")
	}
	if cfg.Users < 0 || cfg.ContactsPerUser < 0 {
		return nil, errors.New("negative user or contact count")
	}
	product, err := ParseProduct(string(cfg.Product))
	if err != nil {
		return nil, err
	}
	w := &World{product: product, domain: cfg.Domain, moveCost: cfg.MoveCost, importCost: cfg.ImportCost, costs: cfg.Costs, sleep: cfg.Sleep,
		moveLag: cfg.MoveLag, doubleHop: cfg.DoubleHop, users: map[string]*user{}}
	if w.domain == "" {
		w.domain = "corp.example.com"
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0))
	seen := map[string]bool{}
	for _, sc := range cfg.Servers {
		key := strings.ToLower(sc.Name)
		if sc.Name == "" || seen[key] {
			return nil, fmt.Errorf("server name %q is empty or repeated", sc.Name)
		}
		seen[key] = true
		s, err := w.newServer(cfg.Profile, sc, rng)
		if err != nil {
			return nil, fmt.Errorf("server %s: %w", sc.Name, err)
		}
		w.install(s)
		if s.role == "" {
			w.servers = append(w.servers, s)
		} else {
			w.roleServers = append(w.roleServers, s)
		}
	}
	if len(w.servers) == 0 {
		return nil, errors.New("no front-end servers configured")
	}
	for i := 1; i <= cfg.Users; i++ {
		u := &user{
			sip:     fmt.Sprintf("sip:user%04d@%s", i, w.domain),
			display: fmt.Sprintf("User %04d", i),
			home:    w.servers[(i-1)%len(w.servers)],
			enabled: true,
		}
		u.dn = userDN(u.display, w.domain)
		u.instanceID = guid(rng)
		w.users[strings.ToLower(u.sip)] = u
		r := generateContacts(cfg.Seed, i, cfg.Users, cfg.ContactsPerUser, w.domain)
		u.home.db[strings.ToLower(r.UserAtHost)] = r
	}
	return w, nil
}

func guid(rng *rand.Rand) string {
	return fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", rng.Uint32(), rng.Uint32()&0xffff,
		0x4000|rng.Uint32()&0x0fff, 0x8000|rng.Uint32()&0x3fff, rng.Uint64()&0xffffffffffff)
}

var groupNames = []string{"Operations", "Friends", "Project Apollo", "Management", "Family", "Suppliers"}

// generateContacts builds user i's list from its own random stream, so it does not depend on
// the order of generation: buddies among the other users, the default group "~" (fg==) and up
// to two named groups, and Colleagues/Friends containers holding some of the buddies.
func generateContacts(seed int64, i, users, n int, domain string) contacts.Resource {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
	r := contacts.Resource{UserAtHost: fmt.Sprintf("user%04d@%s", i, domain)}
	r.Groups = []contacts.Group{{Number: 1, DisplayName: base64.StdEncoding.EncodeToString([]byte("~"))}}
	extra := rng.IntN(3)
	for g := 0; g < extra; g++ {
		name := groupNames[(rng.IntN(len(groupNames))+g)%len(groupNames)]
		r.Groups = append(r.Groups, contacts.Group{Number: g + 2, DisplayName: base64.StdEncoding.EncodeToString([]byte(name))})
	}
	n = min(n, users-1)
	picked := map[int]bool{i: true}
	var colleagues, friends []string
	for len(r.Contacts) < n {
		b := 1 + rng.IntN(users)
		if picked[b] {
			continue
		}
		picked[b] = true
		buddy := fmt.Sprintf("user%04d@%s", b, domain)
		groups := []int{1 + rng.IntN(len(r.Groups))}
		if len(r.Groups) > 1 && rng.IntN(5) == 0 && groups[0] != 1 {
			groups = append([]int{1}, groups...)
		}
		r.Contacts = append(r.Contacts, contacts.Contact{Buddy: buddy, SubscribePresence: rng.IntN(10) != 0, Groups: groups})
		switch rng.IntN(6) {
		case 0:
			colleagues = append(colleagues, "sip:"+buddy)
		case 1:
			friends = append(friends, "sip:"+buddy)
		}
	}
	if len(colleagues) > 0 {
		r.Containers = append(r.Containers, contacts.Container{Number: contacts.ContainerColleagues, Members: colleagues})
	}
	if len(friends) > 0 {
		r.Containers = append(r.Containers, contacts.Container{Number: contacts.ContainerFriendsAndFamily, Members: friends})
	}
	return r
}

// newServer builds one server, up with its services running and an empty database.
func (w *World) newServer(site Profile, sc ServerConfig, rng *rand.Rand) (*server, error) {
	fqdn := sc.FQDN
	if fqdn == "" {
		fqdn = sc.Name + "." + w.domain
	}
	profile, err := site.merge(sc.Profile).resolve(w.product)
	if err != nil {
		return nil, err
	}
	s := &server{name: sc.Name, fqdn: fqdn, dn: poolDN(sc.Name, w.domain), instanceID: guid(rng),
		fs: winfs.New(), profile: profile, state: StateUp, stopped: map[string]bool{}, db: map[string]contacts.Resource{}}
	if err := w.assignRole(s, sc.Role); err != nil {
		return nil, err
	}
	for _, svc := range s.catalog {
		s.services = append(s.services, svc.Name)
	}
	return s, nil
}

// Programs returns the emulated executables of a server: "sc" and "powershell" on PATH, and the
// OCS 2007 R2 tools under their install paths (LcscmdPath, DBImpExpPath, lower-case); nil for
// an unknown server.
func (w *World) Programs(name string) map[string]cmdexe.Program {
	s := w.server(name)
	if s == nil {
		return nil
	}
	return s.programs
}

// install puts a server's programs in place: system programs on PATH, the OCS 2007 R2 tools at
// their install paths (with a file there, so that a script can test for them) unless the
// profile says they are missing.
func (w *World) install(s *server) {
	s.programs = map[string]cmdexe.Program{
		"sc":         w.started(w.scProgram(s)),
		"powershell": w.started(w.powershellProgram(s)),
	}
	if w.product != ProductOCS2007R2 {
		return
	}
	for _, t := range []struct {
		name, path string
		prog       cmdexe.Program
	}{{ToolLcscmd, LcscmdPath, w.lcscmdProgram(s)}, {ToolDBImpExp, DBImpExpPath, w.dbimpexpProgram(s)}} {
		if s.profile.missing(t.name) {
			continue
		}
		s.programs[strings.ToLower(t.path)] = w.started(t.prog)
		_ = s.fs.WriteFile(t.path, []byte("MZ"))
	}
}

// FS returns a server's file system (nil for an unknown server).
func (w *World) FS(name string) *winfs.FS {
	if s := w.server(name); s != nil {
		return s.fs
	}
	return nil
}

// server finds a front end or role server by name.
func (w *World) server(name string) *server {
	for _, list := range [][]*server{w.servers, w.roleServers} {
		for _, s := range list {
			if strings.EqualFold(s.name, name) {
				return s
			}
		}
	}
	return nil
}

// SetState changes a server's state. service-stopped stops the services a server exists for
// (RtcSrv on a front end, every service of a role server); leaving service-stopped or down
// starts every service, and RtcSrv applies data staged by Import-CsUserData.
func (w *World) SetState(name string, st State) error {
	s := w.server(name)
	if s == nil {
		return fmt.Errorf("server %q: %w", name, ErrNotFound)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch st {
	case StateUp:
		if s.state != StateUp {
			s.stopped = map[string]bool{}
			w.applyStagedLocked(s)
		}
	case StateServiceStopped:
		for _, n := range s.essentialServices() {
			s.stopped[strings.ToLower(n)] = true
		}
	case StateDown:
	default:
		return fmt.Errorf("unknown state %q", st)
	}
	s.state = st
	return nil
}

func (w *World) applyStagedLocked(s *server) {
	for _, r := range s.staged {
		if u := w.users[sipKey(r.UserAtHost)]; u != nil && u.home == s {
			s.db[strings.ToLower(r.UserAtHost)] = r
		}
	}
	s.staged = nil
}

// Servers lists the servers in configuration order.
func (w *World) Servers() []ServerView {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ServerView, 0, len(w.servers)+len(w.roleServers))
	for _, s := range append(append([]*server(nil), w.servers...), w.roleServers...) {
		out = append(out, ServerView{Name: s.name, FQDN: s.fqdn, Role: s.roleName(), State: s.state, HomedUsers: w.homedLocked(s)})
	}
	return out
}

func (w *World) homedLocked(s *server) int {
	n := 0
	for _, u := range w.users {
		if u.home == s {
			n++
		}
	}
	return n
}

// Users lists the directory sorted by SIP address.
func (w *World) Users() []UserView {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]UserView, 0, len(w.users))
	for _, u := range w.users {
		v := UserView{SIP: u.sip}
		if u.home != nil {
			v.Home = u.home.name
			v.Contacts = u.home.db[atHost(u.sip)].Count()
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SIP < out[j].SIP })
	return out
}

// UserContacts returns a user's list from the home server's database.
func (w *World) UserContacts(sip string) (contacts.Resource, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.users[sipKey(sip)]
	if u == nil || u.home == nil {
		return contacts.Resource{}, false
	}
	r, ok := u.home.db[atHost(u.sip)]
	if !ok {
		return contacts.Resource{UserAtHost: atHost(u.sip)}, true
	}
	return r, true
}

// AddUser adds a user to the directory, homed on home with an empty contact list.
func (w *World) AddUser(sip, home string) error {
	if !strings.HasPrefix(strings.ToLower(sip), "sip:") {
		sip = "sip:" + sip
	}
	if !sipPattern.MatchString(sip) || len(sip) > 256 {
		return fmt.Errorf("invalid SIP address %q", sip)
	}
	s := w.server(home)
	if s == nil {
		return fmt.Errorf("server %q: %w", home, ErrNotFound)
	}
	if s.role != "" {
		return fmt.Errorf("server %q is a %s server: it homes no users", home, s.role)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users[sipKey(sip)] != nil {
		return fmt.Errorf("user %s already exists", sip)
	}
	local, _, _ := strings.Cut(strings.TrimPrefix(sip, "sip:"), "@")
	u := &user{sip: sip, display: local, home: s, enabled: true}
	u.dn = userDN(local, w.domain)
	u.instanceID = guid(rand.New(rand.NewPCG(uint64(len(w.users)), uint64(len(sip)))))
	w.users[sipKey(sip)] = u
	s.db[atHost(sip)] = contacts.Resource{UserAtHost: atHost(sip)}
	return nil
}

// SetContacts replaces a user's list in the home server's database.
func (w *World) SetContacts(sip string, r contacts.Resource) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.users[sipKey(sip)]
	if u == nil || u.home == nil {
		return fmt.Errorf("user %s: %w", sip, ErrNotFound)
	}
	r.UserAtHost = atHost(u.sip)
	u.home.db[atHost(u.sip)] = r
	return nil
}

// sipKey normalises "sip:u@h" or "u@h" to the directory key.
func sipKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "sip:") {
		s = "sip:" + s
	}
	return s
}

// atHost is the database key and UserAtHost of a SIP address: user@host, lower-case.
func atHost(sip string) string { return strings.TrimPrefix(sipKey(sip), "sip:") }

// running reports whether a server can take part in a move: up with RtcSrv running.
func (s *server) running() bool { return s.state != StateDown && !s.stopped["rtcsrv"] }

func (s *server) serviceRunning(name string) bool {
	return s.state != StateDown && !s.stopped[strings.ToLower(name)]
}

func (s *server) service(name string) (string, bool) {
	for _, n := range s.services {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// spend waits for a cost inside a command, ending early when the command is cancelled.
func spend(ctx context.Context, d time.Duration) error {
	// The command's ledger (costclock) keeps the sum of many small costs true to the model.
	return costclock.Spend(ctx, d)
}

// moveKind selects the move rules of inferred.go.
type moveKind int

const (
	movePlanned moveKind = iota
	moveForced           // WMI with TargetServerDNIfMoving: contacts stay in the source database
	moveDropped          // Move-CsUser -Force: contacts dropped
)

// moveError carries the user-facing text of a refused move.
type moveError struct{ msg string }

func (e *moveError) Error() string { return e.msg }

// move rehomes one user after spending MoveCost; the checks run before and after the cost so a
// server that fails meanwhile still refuses the move.
func (w *World) move(ctx context.Context, sip string, target *server, kind moveKind, dialect func(src, tgt *server) error) error {
	check := func() (*user, error) {
		u := w.users[sipKey(sip)]
		if u == nil {
			return nil, &moveError{errCsIdentityNotFound(sip)}
		}
		if u.home == target {
			return u, nil
		}
		if err := dialect(u.home, target); err != nil {
			return nil, err
		}
		return u, nil
	}
	w.mu.Lock()
	u, err := check()
	w.mu.Unlock()
	if err != nil || u.home == target {
		return err
	}
	if err := spend(ctx, w.moveCost); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if u, err = check(); err != nil || u.home == target {
		return err
	}
	src, key := u.home, atHost(u.sip)
	switch kind {
	case movePlanned:
		r, ok := src.db[key]
		if !ok {
			r = contacts.Resource{UserAtHost: key}
		}
		delete(src.db, key)
		target.db[key] = r
	case moveForced:
		target.db[key] = contacts.Resource{UserAtHost: key}
	case moveDropped:
		if src != nil && src.running() {
			delete(src.db, key)
		}
		target.db[key] = contacts.Resource{UserAtHost: key}
	}
	if w.moveLag > 0 {
		u.shownHome, u.shownUntil = u.visibleHome(), time.Now().Add(w.moveLag)
	}
	u.home = target
	return nil
}
