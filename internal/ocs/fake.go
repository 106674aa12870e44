package ocs

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
)

// Fake is an in-memory Agent for controller tests. It follows the emulator's rules: a shared
// directory, one contact database per server, planned moves carry contacts and need both ends
// up, forced moves leave the contacts in the source's database. Servers can be marked down
// (ErrUnreachable) or their services stopped; per-user and per-operation failures can be
// injected; calls are counted per operation. It is safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	servers  map[string]*fakeServer
	users    map[string]*fakeUser // by SIP
	calls    map[string]int
	userErrs map[string]string // SIP -> message of an injected per-user failure
	opErrs   map[string]error  // operation -> injected error

	// Hook, when set, is called (without the Fake's lock) at the start of every operation with
	// its name and server; a non-nil error fails the call. Tests use it to change the world in
	// the middle of a sequence, e.g. crash a server when the first move starts.
	Hook func(op, server string) error
}

type fakeServer struct {
	down      bool
	preflight *PreflightReport  // nil: every check passes
	services  map[string]string // name -> State
	db        map[string]contacts.Resource
	config    []ConfigFile
}

type fakeUser struct {
	home    string
	enabled bool
}

var _ Agent = (*Fake)(nil)

// NewFake returns a Fake with the named servers up and their RtcSrv service running.
func NewFake(servers ...string) *Fake {
	f := &Fake{
		servers:  map[string]*fakeServer{},
		users:    map[string]*fakeUser{},
		calls:    map[string]int{},
		userErrs: map[string]string{},
		opErrs:   map[string]error{},
	}
	for _, s := range servers {
		f.servers[s] = &fakeServer{
			services: map[string]string{DefaultService: StateRunning},
			db:       map[string]contacts.Resource{},
			config:   []ConfigFile{{Name: s + ".xml", Data: []byte("<config server=\"" + s + "\"/>")}},
		}
	}
	return f
}

// AddUser adds an enabled user homed on home (a server name, or "" for none) with the given
// contacts stored in the home's database.
func (f *Fake) AddUser(sip, home string, list ...contacts.Contact) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[sip] = &fakeUser{home: home, enabled: true}
	if s, ok := f.servers[home]; ok {
		s.db[userAtHost(sip)] = contacts.Resource{UserAtHost: userAtHost(sip), Contacts: list}
	}
}

// SetDown marks server down (every call through it fails with ErrUnreachable) or up again.
func (f *Fake) SetDown(server string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.servers[server]; ok {
		s.down = down
	}
}

// SetService sets a service's state on server (e.g. StateStopped); StateNotFound removes it.
func (f *Fake) SetService(server, service, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.servers[server]; ok {
		if state == StateNotFound {
			delete(s.services, service)
			return
		}
		s.services[service] = state
	}
}

// SetPreflight makes server's later preflights return report (nil: every check passes).
func (f *Fake) SetPreflight(server string, report *PreflightReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.servers[server]; ok {
		s.preflight = report
	}
}

// Preflight implements Agent.
func (f *Fake) Preflight(_ context.Context, server string) (PreflightReport, error) {
	if err := f.hook(OpPreflight, server); err != nil {
		return PreflightReport{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.begin(OpPreflight, server)
	if err != nil {
		return PreflightReport{}, err
	}
	if s.preflight != nil {
		return *s.preflight, nil
	}
	return PreflightReport{PowerShellVersion: "2.0", Checks: []PreflightCheck{
		{Name: CheckPowerShellVersion, Result: CheckPassed}, {Name: CheckReadUsers, Result: CheckPassed},
	}}, nil
}

// FailUser makes every later move or import of sip fail with message ("" clears it).
func (f *Fake) FailUser(sip, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if message == "" {
		delete(f.userErrs, sip)
		return
	}
	f.userErrs[sip] = message
}

// FailOperation makes every later call of op (an Op* constant) return err (nil clears it).
func (f *Fake) FailOperation(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.opErrs, op)
		return
	}
	f.opErrs[op] = err
}

// Calls returns how many times op was called.
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Home returns the user's home server name and whether the user exists.
func (f *Fake) Home(sip string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[sip]
	if !ok {
		return "", false
	}
	return u.home, true
}

// StoredContacts returns the resource held for sip in server's database.
func (f *Fake) StoredContacts(server, sip string) (contacts.Resource, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[server]
	if !ok {
		return contacts.Resource{}, false
	}
	r, ok := s.db[userAtHost(sip)]
	return r, ok
}

// hook runs Hook, if any, outside the lock so it may call the Fake's setters.
func (f *Fake) hook(op, server string) error {
	f.mu.Lock()
	h := f.Hook
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(op, server)
}

// UsersOn returns the SIP addresses homed on server, sorted, without counting a call.
func (f *Fake) UsersOn(server string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for sip, u := range f.users {
		if u.home == server {
			out = append(out, sip)
		}
	}
	sort.Strings(out)
	return out
}

// begin counts a call and returns the injected error or the unreachable error for server.
func (f *Fake) begin(op, server string) (*fakeServer, error) {
	f.calls[op]++
	if err := f.opErrs[op]; err != nil {
		return nil, err
	}
	s, ok := f.servers[server]
	if !ok {
		return nil, opError(op, server, ErrUnknownServer)
	}
	if s.down {
		return nil, opError(op, server, ErrUnreachable)
	}
	return s, nil
}

// ServiceHealth implements Agent.
func (f *Fake) ServiceHealth(_ context.Context, server string, services []string) ([]ServiceStatus, error) {
	if err := f.hook(OpServiceHealth, server); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.begin(OpServiceHealth, server)
	if err != nil {
		return nil, err
	}
	out := make([]ServiceStatus, 0, len(services))
	for _, name := range services {
		state, ok := s.services[name]
		if !ok {
			state = StateNotFound
		}
		out = append(out, ServiceStatus{Name: name, State: state, Running: state == StateRunning})
	}
	return out, nil
}

// ListUsers implements Agent.
func (f *Fake) ListUsers(_ context.Context, via string) ([]HomedUser, error) {
	if err := f.hook(OpListUsers, via); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.begin(OpListUsers, via); err != nil {
		return nil, err
	}
	return f.list(func(*fakeUser) bool { return true }), nil
}

// ListHomedUsers implements Agent.
func (f *Fake) ListHomedUsers(_ context.Context, via, home string) ([]HomedUser, error) {
	if err := f.hook(OpListHomedUsers, via); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.begin(OpListHomedUsers, via); err != nil {
		return nil, err
	}
	if _, ok := f.servers[home]; !ok {
		return nil, opError(OpListHomedUsers, via, fmt.Errorf("home %q: %w", home, ErrUnknownServer))
	}
	return f.list(func(u *fakeUser) bool { return u.home == home }), nil
}

func (f *Fake) list(keep func(*fakeUser) bool) []HomedUser {
	var out []HomedUser
	for sip, u := range f.users {
		if keep(u) {
			home := u.home
			if _, ok := f.servers[home]; !ok {
				home = ""
			}
			out = append(out, HomedUser{SIP: sip, Server: home, Enabled: u.enabled})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SIP < out[j].SIP })
	return out
}

// MoveUsers implements Agent.
func (f *Fake) MoveUsers(_ context.Context, via string, users []string, target string, force bool) ([]MoveResult, error) {
	if err := f.hook(OpMoveUsers, via); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.begin(OpMoveUsers, via); err != nil {
		return nil, err
	}
	t, ok := f.servers[target]
	if !ok {
		return nil, opError(OpMoveUsers, via, fmt.Errorf("target %q: %w", target, ErrUnknownServer))
	}
	out := make([]MoveResult, 0, len(users))
	for _, sip := range users {
		res := MoveResult{SIP: sip}
		u, known := f.users[sip]
		switch {
		case ValidateSIP(sip) != nil:
			res.Message = ValidateSIP(sip).Error()
		case f.userErrs[sip] != "":
			res.Message = f.userErrs[sip]
		case !known:
			res.Message = "The user was not found in the directory."
		case !force && (t.down || t.services[DefaultService] != StateRunning):
			res.Message = fmt.Sprintf("The move failed: the target server %s is not available.", target)
		case !force && u.home != target && f.unavailable(u.home):
			res.Message = fmt.Sprintf("The move failed: the source server %s is not available.", u.home)
		default:
			if src, ok := f.servers[u.home]; ok && u.home != target && !force {
				// Planned move: the contacts travel with the user.
				key := userAtHost(sip)
				if r, ok := src.db[key]; ok {
					t.db[key] = r
					delete(src.db, key)
				}
			}
			u.home = target
			res.OK = true
		}
		out = append(out, res)
	}
	return out, nil
}

func (f *Fake) unavailable(server string) bool {
	s, ok := f.servers[server]
	return !ok || s.down || s.services[DefaultService] != StateRunning
}

// ExportContacts implements Agent.
func (f *Fake) ExportContacts(_ context.Context, server string, users []string) (*contacts.Document, error) {
	if err := f.hook(OpExportContacts, server); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.begin(OpExportContacts, server)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, sip := range users {
		want[userAtHost(sip)] = true
	}
	doc := &contacts.Document{}
	for sip, u := range f.users {
		key := userAtHost(sip)
		if u.home != server || (users != nil && !want[key]) {
			continue
		}
		if r, ok := s.db[key]; ok {
			doc.Resources = append(doc.Resources, r)
		} else {
			doc.Resources = append(doc.Resources, contacts.Resource{UserAtHost: key})
		}
	}
	sort.Slice(doc.Resources, func(i, j int) bool { return doc.Resources[i].UserAtHost < doc.Resources[j].UserAtHost })
	return doc, nil
}

// ImportContacts implements Agent.
func (f *Fake) ImportContacts(_ context.Context, server string, doc *contacts.Document) ([]ImportResult, error) {
	if err := f.hook(OpImportContacts, server); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.begin(OpImportContacts, server)
	if err != nil {
		return nil, err
	}
	var out []ImportResult
	if doc == nil {
		return out, nil
	}
	for _, r := range doc.Resources {
		sip := "sip:" + r.UserAtHost
		res := ImportResult{SIP: sip}
		u, known := f.users[sip]
		switch {
		case f.userErrs[sip] != "":
			res.Message = f.userErrs[sip]
		case !known || u.home != server:
			res.Message = "the user is not homed on this server."
		default:
			// Imports merge, as dbimpexp and Update-CsUserData do.
			s.db[r.UserAtHost] = contacts.Merge(s.db[r.UserAtHost], r)
			res.OK = true
		}
		out = append(out, res)
	}
	return out, nil
}

// ExportConfiguration implements Agent.
func (f *Fake) ExportConfiguration(_ context.Context, server string) ([]ConfigFile, error) {
	if err := f.hook(OpExportConfiguration, server); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.begin(OpExportConfiguration, server)
	if err != nil {
		return nil, err
	}
	return append([]ConfigFile(nil), s.config...), nil
}
