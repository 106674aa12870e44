package ocs

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// The transport's Pool is the production Executor.
var _ Executor = (*winrm.Pool)(nil)

// agent is the Agent that renders scripts per product and runs them through an Executor.
type agent struct {
	product Product
	exec    Executor
	servers map[string]Server // by Name

	mu      sync.Mutex
	poolDNs map[string]string // lower-case pool FQDN -> PoolDN (OCS only); nil until loaded
}

// NewAgent returns an Agent for product that runs commands on servers through exec.
func NewAgent(product Product, servers []Server, exec Executor) (Agent, error) {
	if product != ProductOCS2007R2 && product != ProductSkypeForBusiness {
		return nil, fmt.Errorf("%w: unknown product %q", ErrInvalidArgument, product)
	}
	if exec == nil {
		return nil, fmt.Errorf("%w: nil executor", ErrInvalidArgument)
	}
	a := &agent{product: product, exec: exec, servers: map[string]Server{}}
	for _, s := range servers {
		if s.Name == "" {
			return nil, fmt.Errorf("%w: server without a name", ErrInvalidArgument)
		}
		if _, dup := a.servers[s.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate server %q", ErrInvalidArgument, s.Name)
		}
		if err := ValidateFQDN(s.FQDN); err != nil {
			return nil, fmt.Errorf("server %q: %w", s.Name, err)
		}
		a.servers[s.Name] = s
	}
	return a, nil
}

func (a *agent) server(op, name string) (Server, error) {
	s, ok := a.servers[name]
	if !ok {
		return Server{}, opError(op, name, ErrUnknownServer)
	}
	return s, nil
}

// serverByFQDN returns the name of the server whose FQDN is fqdn, "" if none.
func (a *agent) serverByFQDN(fqdn string) string {
	for _, s := range a.servers {
		if strings.EqualFold(s.FQDN, fqdn) {
			return s.Name
		}
	}
	return ""
}

// run runs a command line; a transport error is wrapped once with the operation.
func (a *agent) run(ctx context.Context, op, server, command string, stdin []byte) (Result, error) {
	res, err := a.exec.Run(ctx, server, command, stdin)
	if err != nil {
		return res, opError(op, server, err)
	}
	return res, nil
}

// runOK is run, with a non-zero exit code turned into a CommandError.
func (a *agent) runOK(ctx context.Context, op, server, command string, stdin []byte) (Result, error) {
	res, err := a.run(ctx, op, server, command, stdin)
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
func (a *agent) runPS(ctx context.Context, op, server, script string, stdin []byte) (Result, error) {
	line, err := encodePS(script)
	if err != nil {
		return Result{}, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	if stdin == nil {
		stdin = []byte{}
	}
	return a.runOK(ctx, op, server, line, stdin)
}

func commandError(op, server string, res Result) error {
	msg := ErrorMessage(res.Stderr)
	if msg == "" {
		// Batch scripts report a handled failure as a result row on stdout.
		if rows, _ := parseResultRows(res.Stdout); len(rows) > 0 {
			msg = rows[len(rows)-1].Message
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
	const op = OpServiceHealth
	if _, err := a.server(op, server); err != nil {
		return nil, err
	}
	if len(services) == 0 {
		services = []string{DefaultService}
	}
	if a.product == ProductOCS2007R2 {
		line, err := scQueryCommand(services)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		// The exit code is the last sc's (1060 for a missing service); the text says it all.
		res, err := a.run(ctx, op, server, line, nil)
		if err != nil {
			return nil, err
		}
		st, err := parseSCQuery(res.Stdout, services)
		if err != nil {
			if res.ExitCode != 0 && res.ExitCode != 1060 {
				return nil, commandError(op, server, res)
			}
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		return st, nil
	}
	script, err := sfbServicesScript(services)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	res, err := a.runPS(ctx, op, server, script, nil)
	if err != nil {
		return nil, err
	}
	return parseSfBServices(res.Stdout, services)
}

// parseSfBServices maps Get-CsWindowsService CSV rows (and the script's NotFound rows) to the
// requested services, in order.
func parseSfBServices(out []byte, services []string) ([]ServiceStatus, error) {
	records, err := readCSV(out)
	if err != nil {
		return nil, err
	}
	states := map[string]string{}
	for _, rec := range records {
		if len(rec) < 2 || (strings.EqualFold(rec[0], "Name") && strings.EqualFold(rec[1], "Status")) {
			continue
		}
		states[strings.ToLower(rec[0])] = sfbState(rec[1])
	}
	outSt := make([]ServiceStatus, len(services))
	for i, s := range services {
		state, ok := states[strings.ToLower(s)]
		if !ok {
			state = StateNotFound
		}
		outSt[i] = ServiceStatus{Name: s, State: state, Running: state == StateRunning}
	}
	return outSt, nil
}

func sfbState(status string) string {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "running":
		return StateRunning
	case "stopped":
		return StateStopped
	case "notfound":
		return StateNotFound
	case "startpending":
		return "START_PENDING"
	case "stoppending":
		return "STOP_PENDING"
	case "paused":
		return "PAUSED"
	}
	return strings.ToUpper(strings.TrimSpace(status))
}

// pools returns the pool DN table, loading it through via on first use or when refresh is set.
func (a *agent) pools(ctx context.Context, op, via string, refresh bool) (map[string]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.poolDNs != nil && !refresh {
		return a.poolDNs, nil
	}
	res, err := a.runPS(ctx, op, via, ocsPoolScript(), nil)
	if err != nil {
		return nil, err
	}
	rows, err := parseCSVTable(res.Stdout, "PoolFQDN", "PoolDN")
	if err != nil {
		return nil, fmt.Errorf("%s on %s: pool table: %w", op, via, err)
	}
	m := map[string]string{}
	for _, r := range rows {
		if r["poolfqdn"] != "" && r["pooldn"] != "" {
			m[strings.ToLower(r["poolfqdn"])] = r["pooldn"]
		}
	}
	a.poolDNs = m
	return m, nil
}

// poolDN returns the PoolDN of server s, reloading the table once if it is missing.
func (a *agent) poolDN(ctx context.Context, op, via string, s Server) (string, error) {
	for _, refresh := range []bool{false, true} {
		m, err := a.pools(ctx, op, via, refresh)
		if err != nil {
			return "", err
		}
		if dn, ok := m[strings.ToLower(s.FQDN)]; ok {
			return dn, nil
		}
	}
	return "", fmt.Errorf("%s on %s: %w: no pool DN for %s", op, via, ErrPoolNotFound, s.FQDN)
}

// ListUsers implements Agent.
func (a *agent) ListUsers(ctx context.Context, via string) ([]HomedUser, error) {
	return a.listUsers(ctx, OpListUsers, via, "")
}

// ListHomedUsers implements Agent.
func (a *agent) ListHomedUsers(ctx context.Context, via, home string) ([]HomedUser, error) {
	if _, err := a.server(OpListHomedUsers, home); err != nil {
		return nil, err
	}
	return a.listUsers(ctx, OpListHomedUsers, via, home)
}

func (a *agent) listUsers(ctx context.Context, op, via, home string) ([]HomedUser, error) {
	if _, err := a.server(op, via); err != nil {
		return nil, err
	}
	var (
		script string
		err    error
		users  []HomedUser
	)
	if a.product == ProductOCS2007R2 {
		m, err := a.pools(ctx, op, via, false)
		if err != nil {
			return nil, err
		}
		filterDN := ""
		if home != "" {
			dn, err := a.poolDN(ctx, op, via, a.servers[home])
			if err != nil {
				return nil, err
			}
			if wqlSafe(dn) {
				filterDN = dn
			}
		}
		if script, err = ocsUsersScript(filterDN); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, via, err)
		}
		res, err := a.runPS(ctx, op, via, script, nil)
		if err != nil {
			return nil, err
		}
		rows, err := parseCSVTable(res.Stdout, "PrimaryURI", "HomeServerDN")
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, via, err)
		}
		byDN := map[string]string{}
		// m is never modified once published (a reload replaces it), so it is read unlocked.
		for fqdn, dn := range m {
			byDN[strings.ToLower(dn)] = a.serverByFQDN(fqdn)
		}
		for _, r := range rows {
			users = append(users, HomedUser{SIP: r["primaryuri"], Server: byDN[strings.ToLower(r["homeserverdn"])], Enabled: parseBool(r["enabled"])})
		}
	} else {
		fqdn := ""
		if home != "" {
			fqdn = a.servers[home].FQDN
		}
		if script, err = sfbUsersScript(fqdn); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, via, err)
		}
		res, err := a.runPS(ctx, op, via, script, nil)
		if err != nil {
			return nil, err
		}
		rows, err := parseCSVTable(res.Stdout, "SipAddress", "RegistrarPool")
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, via, err)
		}
		for _, r := range rows {
			users = append(users, HomedUser{SIP: r["sipaddress"], Server: a.serverByFQDN(r["registrarpool"]), Enabled: parseBool(r["enabled"])})
		}
	}
	if home == "" {
		return users, nil
	}
	// Filter here as well: the OCS query may have been unfiltered (a DN WQL cannot quote).
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
	if _, err := a.server(op, via); err != nil {
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
	var script string
	if a.product == ProductOCS2007R2 {
		dn, err := a.poolDN(ctx, op, via, t)
		if err != nil {
			return nil, err
		}
		script, err = ocsMoveScript(dn, force)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, via, err)
		}
	} else if script, err = sfbMoveScript(t.FQDN, force); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via, err)
	}
	res, err := a.runPS(ctx, op, via, script, []byte(strings.Join(send, "\n")+"\n"))
	if err != nil {
		return nil, err
	}
	rows, err := parseResultRows(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, via, err)
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
	return results, nil
}

// ExportContacts implements Agent.
func (a *agent) ExportContacts(ctx context.Context, server string, users []string) (*contacts.Document, error) {
	const op = OpExportContacts
	s, err := a.server(op, server)
	if err != nil {
		return nil, err
	}
	var doc *contacts.Document
	if a.product == ProductOCS2007R2 {
		line, err := ocsExportCommand()
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		// stdin is closed for the PowerShell half of the line.
		files, err := readBack(op, server, 1)(a.runOK(ctx, op, server, line, []byte{}))
		if err != nil {
			return nil, err
		}
		if doc, err = contacts.ParseHomedResources(files[0]); err != nil {
			return nil, fmt.Errorf("%s on %s: %w: %w", op, server, ErrBadOutput, err)
		}
	} else {
		script, err := sfbExportScript(s.FQDN, tempName(".zip"))
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		files, err := readBack(op, server, 1)(a.runPS(ctx, op, server, script, nil))
		if err != nil {
			return nil, err
		}
		if doc, err = contacts.ReadUserDataZip(files[0]); err != nil {
			return nil, fmt.Errorf("%s on %s: %w: %w", op, server, ErrBadOutput, err)
		}
	}
	if users == nil {
		return doc, nil
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
	const op = OpImportContacts
	if _, err := a.server(op, server); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, nil
	}
	results := make([]ImportResult, len(doc.Resources))
	valid := &contacts.Document{}
	for i, r := range doc.Resources {
		results[i].SIP = "sip:" + r.UserAtHost
		if err := ValidateSIP(results[i].SIP); err != nil {
			results[i].Message = err.Error()
			continue
		}
		valid.Resources = append(valid.Resources, r)
	}
	if len(valid.Resources) == 0 {
		return results, nil
	}
	if a.product == ProductOCS2007R2 {
		data, err := contacts.MarshalHomedResources(valid)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		line, err := ocsImportCommand()
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		// The line ends with `& del`, so its exit code is del's: dbimpexp's summary is the verdict.
		res, err := a.run(ctx, op, server, line, []byte(base64.StdEncoding.EncodeToString(data)))
		if err != nil {
			return nil, err
		}
		out := parseDBImpExpImport(res.Stdout)
		if !out.summary {
			if res.ExitCode == 0 {
				res.ExitCode = 1
			}
			return nil, commandError(op, server, res)
		}
		for i := range results {
			if ValidateSIP(results[i].SIP) != nil {
				continue
			}
			key := strings.ToLower(userAtHost(results[i].SIP))
			switch reason, skipped := out.skipped[key]; {
			case out.imported[key]:
				results[i].OK = true
			case skipped:
				results[i].Message = reason
			default:
				results[i].Message = "dbimpexp reported no result for this user"
			}
		}
		return results, nil
	}
	data, err := contacts.WriteUserDataZip(valid)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	script, err := sfbImportScript(tempName(".zip"))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	// Update-CsUserData reports no per-user outcome: the import succeeds or fails as a whole.
	if _, err := a.runPS(ctx, op, server, script, []byte(base64.StdEncoding.EncodeToString(data))); err != nil {
		return nil, err
	}
	for i := range results {
		if ValidateSIP(results[i].SIP) == nil {
			results[i].OK = true
		}
	}
	return results, nil
}

// ExportConfiguration implements Agent.
func (a *agent) ExportConfiguration(ctx context.Context, server string) ([]ConfigFile, error) {
	const op = OpExportConfiguration
	s, err := a.server(op, server)
	if err != nil {
		return nil, err
	}
	if a.product == ProductOCS2007R2 {
		line, err := ocsConfigCommand(s.FQDN)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		files, err := readBack(op, server, 2)(a.runOK(ctx, op, server, line, []byte{}))
		if err != nil {
			return nil, err
		}
		return []ConfigFile{
			{Name: "global-pool.xml", Data: files[0]},
			{Name: "machine-" + strings.ToLower(s.FQDN) + ".xml", Data: files[1]},
		}, nil
	}
	script, err := sfbConfigScript(tempName(".zip"))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", op, server, err)
	}
	files, err := readBack(op, server, 1)(a.runPS(ctx, op, server, script, nil))
	if err != nil {
		return nil, err
	}
	return []ConfigFile{{Name: "CsConfiguration.zip", Data: files[0]}}, nil
}

// readBack takes the files a command read back as its last n base64 lines of output, for
// f(a.run…(…)) calls.
func readBack(op, server string, n int) func(Result, error) ([][]byte, error) {
	return func(res Result, err error) ([][]byte, error) {
		if err != nil {
			return nil, err
		}
		files, err := lastBase64Lines(res.Stdout, n)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		return files, nil
	}
}
