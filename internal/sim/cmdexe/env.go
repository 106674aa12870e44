package cmdexe

import (
	"sort"
	"strings"
)

// Environment is a process environment: names compare case-insensitively and keep the case they
// were first set with, as on Windows.
type Environment struct {
	vars []envVar
}

type envVar struct{ name, value string }

// NewEnvironment returns an environment holding pairs (name, value, name, value, …).
func NewEnvironment(pairs ...string) *Environment {
	e := &Environment{}
	for i := 0; i+1 < len(pairs); i += 2 {
		e.Set(pairs[i], pairs[i+1])
	}
	return e
}

func (e *Environment) index(name string) int {
	for i, v := range e.vars {
		if strings.EqualFold(v.name, name) {
			return i
		}
	}
	return -1
}

// Get returns a variable's value.
func (e *Environment) Get(name string) (string, bool) {
	if i := e.index(name); i >= 0 {
		return e.vars[i].value, true
	}
	return "", false
}

// Set creates or replaces a variable; an empty value deletes it, as cmd's set does.
func (e *Environment) Set(name, value string) {
	i := e.index(name)
	switch {
	case value == "" && i >= 0:
		e.vars = append(e.vars[:i], e.vars[i+1:]...)
	case value == "":
	case i >= 0:
		e.vars[i].value = value
	default:
		e.vars = append(e.vars, envVar{name, value})
	}
}

// Clone returns an independent copy.
func (e *Environment) Clone() *Environment {
	return &Environment{vars: append([]envVar(nil), e.vars...)}
}

// Sorted returns NAME=VALUE lines in the order cmd's set prints them (by name, ignoring case).
func (e *Environment) Sorted() []string {
	vs := append([]envVar(nil), e.vars...)
	sort.SliceStable(vs, func(i, j int) bool { return strings.ToLower(vs[i].name) < strings.ToLower(vs[j].name) })
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.name + "=" + v.value
	}
	return out
}

// Map returns the variables keyed by upper-case name, the form programs get in Proc.Env.
func (e *Environment) Map() map[string]string {
	m := make(map[string]string, len(e.vars))
	for _, v := range e.vars {
		m[strings.ToUpper(v.name)] = v.value
	}
	return m
}

// expand replaces %NAME% with the variable's value. Undefined names stay as typed, as on
// cmd's command line (batch files would drop them).
func (e *Environment) expand(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var sb strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			sb.WriteString(s)
			return sb.String()
		}
		sb.WriteString(s[:i])
		rest := s[i+1:]
		j := strings.IndexByte(rest, '%')
		if j < 0 {
			sb.WriteString(s[i:])
			return sb.String()
		}
		name := rest[:j]
		if v, ok := e.Get(name); ok && name != "" {
			sb.WriteString(v)
			s = rest[j+1:]
			continue
		}
		// Not a variable: keep the first % and rescan from the second, which may open one.
		sb.WriteString("%" + name)
		s = rest[j:]
	}
}
