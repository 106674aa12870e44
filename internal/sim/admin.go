package sim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/host"
)

// Admin API JSON shapes (contract: architecture.md §4).
type serverJSON struct {
	Name       string `json:"name"`
	FQDN       string `json:"fqdn"`
	Endpoint   string `json:"endpoint"`
	State      string `json:"state"`
	HomedUsers int    `json:"homedUsers"`
	// Role is FrontEnd, Mediation or Edge.
	Role string `json:"role"`
}

type userJSON struct {
	SIP      string `json:"sip"`
	Home     string `json:"home"`
	Contacts int    `json:"contacts"`
}

type newUserJSON struct {
	SIP  string `json:"sip"`
	Home string `json:"home"`
}

// contactListJSON is one user's contact list as GET /users/{sip} returns it and
// PUT /users/{sip}/contacts takes it. Display names stay base64, as stored.
type contactListJSON struct {
	SIP        string          `json:"sip"`
	Groups     []groupJSON     `json:"groups"`
	Contacts   []contactJSON   `json:"contacts"`
	Containers []containerJSON `json:"containers"`
}

type groupJSON struct {
	Number      int    `json:"number"`
	DisplayName string `json:"displayName,omitempty"`
	ExternalURI string `json:"externalURI,omitempty"`
}

type contactJSON struct {
	Buddy             string `json:"buddy"`
	SubscribePresence bool   `json:"subscribePresence"`
	Groups            []int  `json:"groups"`
	DisplayName       string `json:"displayName,omitempty"`
}

type containerJSON struct {
	Number  int      `json:"number"`
	Members []string `json:"members"`
}

func toContactListJSON(sip string, r contacts.Resource) contactListJSON {
	out := contactListJSON{SIP: sip, Groups: []groupJSON{}, Contacts: []contactJSON{}, Containers: []containerJSON{}}
	for _, g := range r.Groups {
		out.Groups = append(out.Groups, groupJSON(g))
	}
	for _, c := range r.Contacts {
		out.Contacts = append(out.Contacts, contactJSON{Buddy: c.Buddy, SubscribePresence: c.SubscribePresence,
			Groups: append([]int{}, c.Groups...), DisplayName: c.DisplayName})
	}
	for _, c := range r.Containers {
		out.Containers = append(out.Containers, containerJSON{Number: c.Number, Members: append([]string{}, c.Members...)})
	}
	return out
}

func fromContactListJSON(sip string, in contactListJSON) contacts.Resource {
	r := contacts.Resource{UserAtHost: strings.TrimPrefix(strings.ToLower(sip), "sip:")}
	for _, g := range in.Groups {
		r.Groups = append(r.Groups, contacts.Group(g))
	}
	for _, c := range in.Contacts {
		r.Contacts = append(r.Contacts, contacts.Contact{Buddy: c.Buddy, SubscribePresence: c.SubscribePresence,
			Groups: c.Groups, DisplayName: c.DisplayName})
	}
	for _, c := range in.Containers {
		r.Containers = append(r.Containers, contacts.Container{Number: c.Number, Members: c.Members})
	}
	return r
}

func (e *Emulator) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /servers", e.getServers)
	mux.HandleFunc("POST /servers/{name}/{action}", e.serverAction)
	mux.HandleFunc("GET /users", e.getUsers)
	mux.HandleFunc("POST /users", e.postUser)
	mux.HandleFunc("GET /users/{sip}", e.getUser)
	mux.HandleFunc("PUT /users/{sip}/contacts", e.putContacts)
	mux.HandleFunc("GET /commands", e.getCommands)
	mux.HandleFunc("GET /latency", e.getLatency)
	mux.HandleFunc("PUT /latency", e.putLatency)
	mux.HandleFunc("GET /gateways", e.getGateways)
	mux.HandleFunc("POST /gateways/{name}/{action}", e.gatewayAction)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func (e *Emulator) getServers(w http.ResponseWriter, _ *http.Request) {
	views := map[string]ServerView{}
	for _, v := range e.world.Servers() {
		views[strings.ToLower(v.Name)] = v
	}
	out := []serverJSON{}
	for _, s := range e.servers {
		v := views[strings.ToLower(s.name)]
		out = append(out, serverJSON{Name: s.name, FQDN: s.fqdn, Endpoint: e.Endpoint(s.name), State: v.State,
			HomedUsers: v.HomedUsers, Role: cmp.Or(v.Role, RoleFrontEnd)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) serverAction(w http.ResponseWriter, r *http.Request) {
	s, err := e.server(r.PathValue("name"))
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	switch r.PathValue("action") {
	case "crash":
		e.crash(s)
		err = e.world.SetState(s.name, StateDown)
	case "stop-service":
		// ?service=NAME stops one service; without it, the server's own (RtcSrv on a front end,
		// every service of a role server).
		if err = e.stopService(s, r.URL.Query().Get("service")); errors.Is(err, host.ErrNotFound) {
			writeError(w, http.StatusNotFound, err)
			return
		}
	case "start":
		if err = e.listen(s); err == nil {
			err = e.world.SetState(s.name, StateUp)
		}
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown action %q", r.PathValue("action")))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	e.getServers(w, r)
}

func (e *Emulator) getUsers(w http.ResponseWriter, _ *http.Request) {
	users := e.world.Users()
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, userJSON{SIP: u.SIP, Home: u.Home, Contacts: u.Contacts})
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) postUser(w http.ResponseWriter, r *http.Request) {
	var in newUserJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("decoding the user: %w", err))
		return
	}
	if in.SIP == "" || in.Home == "" {
		writeError(w, http.StatusBadRequest, errors.New("sip and home are required"))
		return
	}
	if err := e.world.AddUser(in.SIP, in.Home); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusCreated, in)
}

// sipParam reads {sip} from the path, accepting it escaped or not and with or without "sip:".
func sipParam(r *http.Request) string {
	v := r.PathValue("sip")
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	if !strings.HasPrefix(strings.ToLower(v), "sip:") {
		v = "sip:" + v
	}
	return v
}

func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request) {
	sip := sipParam(r)
	res, ok := e.world.UserContacts(sip)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("user %s not found", sip))
		return
	}
	writeJSON(w, http.StatusOK, toContactListJSON(sip, res))
}

func (e *Emulator) putContacts(w http.ResponseWriter, r *http.Request) {
	sip := sipParam(r)
	var in contactListJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("decoding the contact list: %w", err))
		return
	}
	if err := e.world.SetContacts(sip, fromContactListJSON(sip, in)); err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) getCommands(w http.ResponseWriter, _ *http.Request) {
	out := map[string][]string{}
	for _, s := range e.servers {
		out[s.name] = append([]string{}, e.Commands(s.name)...)
	}
	writeJSON(w, http.StatusOK, out)
}

// latencyJSON is the body of GET and PUT /latency: a Go duration such as "250ms".
type latencyJSON struct {
	Latency string `json:"latency"`
}

// currentLatency is the latency added to every WS-Management request now.
func (e *Emulator) currentLatency() time.Duration { return time.Duration(e.latency.Load()) }

// SetLatency changes the latency added to every WS-Management request from now on.
func (e *Emulator) SetLatency(d time.Duration) { e.latency.Store(int64(d)) }

func (e *Emulator) getLatency(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, latencyJSON{Latency: e.currentLatency().String()})
}

// putLatency sets the latency at run time, for latency spikes in the middle of an operation.
func (e *Emulator) putLatency(w http.ResponseWriter, r *http.Request) {
	var body latencyJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<10)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	d, err := time.ParseDuration(body.Latency)
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("latency %q is not a non-negative duration", body.Latency))
		return
	}
	e.SetLatency(d)
	writeJSON(w, http.StatusOK, latencyJSON{Latency: d.String()})
}
