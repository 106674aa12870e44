package ocs

import (
	"context"
	"fmt"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// The transport's Pool is the production Executor.
var _ Executor = (*winrm.Pool)(nil)

// agent is the Agent that delegates each operation's commands to its product's dialect.
type agent struct {
	*runner
	d    dialect
	opts options
}

// runner runs command lines on a pool's servers; the dialects share it.
type runner struct {
	exec    Executor
	servers map[string]Server // by Name
}

// NewAgent returns an Agent for product that runs commands on servers through exec.
func NewAgent(product Product, servers []Server, exec Executor, opts ...Option) (Agent, error) {
	if exec == nil {
		return nil, fmt.Errorf("%w: nil executor", ErrInvalidArgument)
	}
	o := options{confirmReads: defaultConfirmReads, sleep: sleepTimer}
	for _, opt := range opts {
		opt(&o)
	}
	o.tools = o.tools.withDefaults()
	if err := o.tools.validate(); err != nil {
		return nil, fmt.Errorf("tool paths: %w", err)
	}
	r := &runner{exec: exec, servers: map[string]Server{}}
	d, ok := newDialect(product, r, o)
	if !ok {
		return nil, fmt.Errorf("%w: unknown product %q", ErrInvalidArgument, product)
	}
	for _, s := range servers {
		if s.Name == "" {
			return nil, fmt.Errorf("%w: server without a name", ErrInvalidArgument)
		}
		if _, dup := r.servers[s.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate server %q", ErrInvalidArgument, s.Name)
		}
		if err := ValidateFQDN(s.FQDN); err != nil {
			return nil, fmt.Errorf("server %q: %w", s.Name, err)
		}
		r.servers[s.Name] = s
	}
	return &agent{runner: r, d: d, opts: o}, nil
}

func (r *runner) server(op, name string) (Server, error) {
	s, ok := r.servers[name]
	if !ok {
		return Server{}, opError(op, name, ErrUnknownServer)
	}
	return s, nil
}

// serverByFQDN returns the name of the server whose FQDN is fqdn, "" if none.
func (r *runner) serverByFQDN(fqdn string) string {
	for _, s := range r.servers {
		if strings.EqualFold(s.FQDN, fqdn) {
			return s.Name
		}
	}
	return ""
}

// run runs a command line; a transport error is wrapped once with the operation.
func (r *runner) run(ctx context.Context, op, server, command string, stdin []byte) (Result, error) {
	res, err := r.exec.Run(ctx, server, command, stdin)
	if err != nil {
		return res, opError(op, server, err)
	}
	return res, nil
}

// runOK is run, with a non-zero exit code turned into a CommandError.
func (r *runner) runOK(ctx context.Context, op, server, command string, stdin []byte) (Result, error) {
	res, err := r.run(ctx, op, server, command, stdin)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, commandError(op, server, res)
	}
	return res, nil
}

// runPS runs a script. stdin is always closed (empty when nil): powershell.exe may wait for
// the end of a redirected stdin before it exits.
func (r *runner) runPS(ctx context.Context, op, server, script string, stdin []byte) (Result, error) {
	line, err := encodePS(script)
	if err != nil {
		return Result{}, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	if stdin == nil {
		stdin = []byte{}
	}
	return r.runOK(ctx, op, server, line, stdin)
}

func commandError(op, server string, res Result) error {
	msg := ErrorMessage(res.Stderr)
	if msg == "" {
		// Batch scripts report a handled failure as a framed result row on stdout.
		if text, err := csvOf(op, server)(res, nil); err == nil {
			if rows, _ := parseResultRows(text); len(rows) > 0 {
				msg = rows[len(rows)-1].Message
			}
		}
	}
	if msg == "" {
		msg = lastLine(res.Stdout)
	}
	return directoryError(op, &CommandError{Server: server, Op: op, ExitCode: res.ExitCode, Message: msg})
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ServiceHealth implements Agent.
func (a *agent) ServiceHealth(ctx context.Context, server string, services []string) ([]ServiceStatus, error) {
	s, err := a.server(OpServiceHealth, server)
	if err != nil {
		return nil, err
	}
	if len(services) == 0 {
		services = []string{DefaultService}
	}
	return a.d.serviceHealth(ctx, s, services)
}

// ListUsers implements Agent.
func (a *agent) ListUsers(ctx context.Context, via string) ([]HomedUser, error) {
	v, err := a.server(OpListUsers, via)
	if err != nil {
		return nil, err
	}
	return a.d.listUsers(ctx, OpListUsers, v, nil)
}

// ListHomedUsers implements Agent.
func (a *agent) ListHomedUsers(ctx context.Context, via, home string) ([]HomedUser, error) {
	h, err := a.server(OpListHomedUsers, home)
	if err != nil {
		return nil, err
	}
	v, err := a.server(OpListHomedUsers, via)
	if err != nil {
		return nil, err
	}
	users, err := a.d.listUsers(ctx, OpListHomedUsers, v, &h)
	if err != nil {
		return nil, err
	}
	// Filter here as well: the dialect may not have filtered on the server (a DN WQL cannot quote).
	kept := users[:0]
	for _, u := range users {
		if u.Server == home {
			kept = append(kept, u)
		}
	}
	return kept, nil
}

// MoveUsers implements Agent.
func (a *agent) MoveUsers(ctx context.Context, via string, users []string, target string, force bool) ([]MoveResult, error) {
	const op = OpMoveUsers
	v, err := a.server(op, via)
	if err != nil {
		return nil, err
	}
	t, err := a.server(op, target)
	if err != nil {
		return nil, err
	}
	results := make([]MoveResult, len(users))
	var send []string
	for i, u := range users {
		results[i].SIP = u
		if err := ValidateSIP(u); err != nil {
			results[i].Message = err.Error()
			continue
		}
		send = append(send, u)
	}
	if len(send) == 0 {
		return results, nil
	}
	rows, err := a.d.moveUsers(ctx, v, send, t, force)
	if err != nil {
		return nil, err
	}
	queue := map[string][]resultRow{}
	for _, r := range rows {
		k := strings.ToLower(r.SIP)
		queue[k] = append(queue[k], r)
	}
	for i := range results {
		if ValidateSIP(results[i].SIP) != nil {
			continue
		}
		k := strings.ToLower(results[i].SIP)
		if q := queue[k]; len(q) > 0 {
			results[i].OK, results[i].Message = q[0].OK, q[0].Message
			queue[k] = q[1:]
			continue
		}
		results[i].Message = "the server reported no result for this user"
	}
	a.confirmMoves(ctx, v, t, results)
	return results, nil
}

// ExportContacts implements Agent.
func (a *agent) ExportContacts(ctx context.Context, server string, users []string) (*contacts.Document, error) {
	s, err := a.server(OpExportContacts, server)
	if err != nil {
		return nil, err
	}
	if perUserExport(users) {
		return a.d.exportUsers(ctx, s, users)
	}
	doc, err := a.d.exportContacts(ctx, s)
	if err != nil || users == nil {
		return doc, err
	}
	want := map[string]bool{}
	for _, u := range users {
		want[strings.ToLower(userAtHost(u))] = true
	}
	kept := &contacts.Document{}
	for _, r := range doc.Resources {
		if want[strings.ToLower(r.UserAtHost)] {
			kept.Resources = append(kept.Resources, r)
		}
	}
	return kept, nil
}

// ImportContacts implements Agent.
func (a *agent) ImportContacts(ctx context.Context, server string, doc *contacts.Document) ([]ImportResult, error) {
	s, err := a.server(OpImportContacts, server)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, nil
	}
	results := make([]ImportResult, len(doc.Resources))
	valid := &contacts.Document{}
	var at []int // index in results of each valid resource
	for i, r := range doc.Resources {
		results[i].SIP = "sip:" + r.UserAtHost
		if err := ValidateSIP(results[i].SIP); err != nil {
			results[i].Message = err.Error()
			continue
		}
		valid.Resources = append(valid.Resources, r)
		at = append(at, i)
	}
	if len(valid.Resources) == 0 {
		return results, nil
	}
	got, err := a.d.importContacts(ctx, s, valid)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		results[i].OK, results[i].Message = got[j].OK, got[j].Message
	}
	return results, nil
}

// ExportConfiguration implements Agent.
func (a *agent) ExportConfiguration(ctx context.Context, server string) ([]ConfigFile, error) {
	s, err := a.server(OpExportConfiguration, server)
	if err != nil {
		return nil, err
	}
	return a.d.exportConfiguration(ctx, s)
}
