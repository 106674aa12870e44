package harness

import (
	"encoding/json"
	"fmt"
)

// SimUser is one user as GET /users renders it.
type SimUser struct {
	SIP      string `json:"sip"`
	Home     string `json:"home"`
	Contacts int    `json:"contacts"`
}

// SimServer is one server as GET /servers renders it.
type SimServer struct {
	Name       string `json:"name"`
	Endpoint   string `json:"endpoint"`
	State      string `json:"state"`
	HomedUsers int    `json:"homedUsers"`
}

// Users lists every user of the emulated directory.
func (s *Sim) Users() ([]SimUser, error) {
	var users []SimUser
	return users, s.Get("/users", &users)
}

// Servers lists the emulated servers with their endpoints and states.
func (s *Sim) Servers() ([]SimServer, error) {
	var servers []SimServer
	return servers, s.Get("/servers", &servers)
}

// Endpoints maps each server's name to its WS-Management endpoint (the ports the emulator chose
// with --base-port 0).
func (s *Sim) Endpoints() (map[string]string, error) {
	servers, err := s.Servers()
	out := map[string]string{}
	for _, srv := range servers {
		out[srv.Name] = srv.Endpoint
	}
	return out, err
}

// Homes counts the users homed on each server.
func (s *Sim) Homes() (map[string]int, error) {
	users, err := s.Users()
	count := map[string]int{}
	for _, u := range users {
		count[u.Home]++
	}
	return count, err
}

// ContactLists returns every user's contact list as JSON, the home left out (a planned move
// changes the home, never the list).
func (s *Sim) ContactLists() (map[string]string, error) {
	users, err := s.Users()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, u := range users {
		var list map[string]any
		if err := s.Get(UserPath(u.SIP), &list); err != nil {
			return nil, fmt.Errorf("contacts of %s: %w", u.SIP, err)
		}
		delete(list, "home")
		b, err := json.Marshal(list)
		if err != nil {
			return nil, err
		}
		out[u.SIP] = string(b)
	}
	return out, nil
}

// Commands returns the command lines each server executed, in order.
func (s *Sim) Commands() (map[string][]string, error) {
	out := map[string][]string{}
	return out, s.Get("/commands", &out)
}
