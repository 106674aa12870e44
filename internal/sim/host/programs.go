package host

import (
	"context"
	"encoding/xml"
	"io"
	"sort"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

func write(w io.Writer, s string) { _, _ = io.WriteString(w, s) }

// scProgram is sc.exe: `sc query <service>`.
func (w *World) scProgram(s *server) cmdexe.Program {
	return func(_ context.Context, p *cmdexe.Proc) int {
		if len(p.Args) != 2 || !strings.EqualFold(p.Args[0], "query") {
			write(p.Stdout, scUsage)
			return 1
		}
		w.mu.Lock()
		name, ok := s.service(p.Args[1])
		running := ok && s.serviceRunning(name)
		w.mu.Unlock()
		if !ok {
			write(p.Stdout, scNotFound)
			return scNotFoundCode
		}
		write(p.Stdout, scQuery(name, running))
		return 0
	}
}

// slashArgs parses `/name:value` and `/flag` arguments (also with `-`), names lower-cased.
// ok is false for an argument without a slash or dash.
func slashArgs(args []string) (map[string]string, bool) {
	out := map[string]string{}
	for _, a := range args {
		if len(a) < 2 || a[0] != '/' && a[0] != '-' {
			return nil, false
		}
		name, value, _ := strings.Cut(a[1:], ":")
		out[strings.ToLower(name)] = value
	}
	return out, true
}

// dbimpexpProgram is DBImpExp.exe for homed resources (§5, §11).
func (w *World) dbimpexpProgram(s *server) cmdexe.Program {
	return func(ctx context.Context, p *cmdexe.Proc) int {
		opts, ok := slashArgs(p.Args)
		file := opts["hrxmlfile"]
		if !ok || file == "" {
			write(p.Stdout, dbimpexpUsage)
			return 1
		}
		for k := range opts {
			switch k {
			case "hrxmlfile", "sqlserver", "restype", "user", "import":
			default:
				write(p.Stdout, dbimpexpUsage)
				return 1
			}
		}
		if rt, ok := opts["restype"]; ok && !strings.EqualFold(rt, "user") {
			write(p.Stdout, dbimpexpUsage)
			return 1
		}
		if sql, ok := opts["sqlserver"]; ok {
			if !sqlServerIsLocal(s, sql) {
				write(p.Stdout, dbimpexpSQLError(sql))
				return 1
			}
		}
		if !winfs.ValidPath(file) {
			write(p.Stdout, dbimpexpFileError(file))
			return 1
		}
		if _, ok := opts["import"]; ok {
			return w.dbImport(ctx, s, p, file, opts["user"])
		}
		return w.dbExport(ctx, s, p, file, opts["user"])
	}
}

// homedResources returns the resources of the users homed on s (all, or only one), sorted.
func (w *World) homedResources(s *server, only string) ([]contacts.Resource, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	users := w.users
	if only != "" {
		// One user: a map lookup, not a scan of the directory (the read-back after an import
		// exports users one by one).
		users = map[string]*user{}
		if u, ok := w.users[sipKey(only)]; ok {
			users[sipKey(only)] = u
		}
	}
	var out []contacts.Resource
	for _, u := range users {
		if u.home != s {
			continue
		}
		r, ok := s.db[atHost(u.sip)]
		if !ok {
			r = contacts.Resource{UserAtHost: atHost(u.sip)}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserAtHost < out[j].UserAtHost })
	return out, only == "" || len(out) == 1
}

func (w *World) dbExport(ctx context.Context, s *server, p *cmdexe.Proc, file, only string) int {
	res, ok := w.homedResources(s, only)
	if !ok {
		write(p.Stdout, dbimpexpUserNotHomed(only))
		return 1
	}
	data, err := w.renderExport(ctx, len(res), func() ([]byte, error) {
		return contacts.MarshalHomedResources(&contacts.Document{Resources: res})
	})
	if ctx.Err() != nil {
		return 1
	}
	// The file keeps the rendered bytes themselves: nothing else holds them.
	if err != nil || s.fs.WriteFileOwned(file, data) != nil {
		write(p.Stdout, dbimpexpWriteError(file))
		return 1
	}
	write(p.Stdout, dbimpexpExported(len(res), file))
	return 0
}

func (w *World) dbImport(ctx context.Context, s *server, p *cmdexe.Proc, file, only string) int {
	data, err := s.fs.ReadFileShared(file) // only parsed
	if err != nil {
		write(p.Stdout, dbimpexpFileError(file))
		return 1
	}
	doc, err := contacts.ParseHomedResources(data)
	if err != nil {
		write(p.Stdout, dbimpexpFileError(file))
		return 1
	}
	imported, total := 0, 0
	for _, r := range doc.Resources {
		if only != "" && atHost(only) != strings.ToLower(r.UserAtHost) {
			continue
		}
		total++
		if !w.homedOn(r.UserAtHost, s) {
			write(p.Stdout, dbimpexpSkipped(r.UserAtHost))
			continue
		}
		if err := spend(ctx, w.importCost); err != nil {
			return 1
		}
		w.mu.Lock()
		// Re-checked: the user may have moved while the cost was spent.
		ok := w.homedOnLocked(r.UserAtHost, s)
		if ok {
			// dbimpexp merges (inferred.go): what the user has stays, what the file adds joins it.
			r.UserAtHost = atHost(r.UserAtHost)
			s.db[r.UserAtHost] = contacts.Merge(s.db[r.UserAtHost], r)
		}
		w.mu.Unlock()
		if !ok {
			write(p.Stdout, dbimpexpSkipped(r.UserAtHost))
			continue
		}
		imported++
		write(p.Stdout, dbimpexpImported(r.UserAtHost))
	}
	write(p.Stdout, dbimpexpSummary(imported, total))
	return 0
}

func (w *World) homedOn(userAtHost string, s *server) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.homedOnLocked(userAtHost, s)
}

func (w *World) homedOnLocked(userAtHost string, s *server) bool {
	u := w.users[sipKey(userAtHost)]
	return u != nil && u.home == s
}

// lcscmdProgram is LCSCmd.exe /Config (§7.1, emulator-defined format; the argument rules are in
// inferred.go).
func (w *World) lcscmdProgram(s *server) cmdexe.Program {
	return func(_ context.Context, p *cmdexe.Proc) int {
		opts, ok := slashArgs(p.Args)
		if _, cfg := opts["config"]; !ok || !cfg {
			write(p.Stdout, lcscmdUsage)
			return 1
		}
		for k := range opts {
			switch k {
			case "config", "action", "level", "configfile", "poolname", "l":
			default:
				write(p.Stdout, lcscmdFailed(lcscmdUnknownParameter(k)))
				return 1
			}
		}
		file := opts["configfile"]
		if file == "" || !winfs.ValidPath(file) {
			write(p.Stdout, lcscmdFailed("missing or invalid /ConfigFile."))
			return 1
		}
		switch strings.ToLower(opts["action"]) {
		case "export":
			return w.lcsExport(s, p, opts, file)
		case "import":
			data, err := s.fs.ReadFile(file)
			var doc lcsConfig
			if err != nil || xml.Unmarshal(data, &doc) != nil || doc.Xmlns != lcscmdNamespace {
				write(p.Stdout, lcscmdFailed("cannot read configuration from "+file+"."))
				return 1
			}
			write(p.Stdout, lcscmdImported(file))
			return 0
		}
		write(p.Stdout, lcscmdFailed("unknown action "+opts["action"]+"."))
		return 1
	}
}

// lcsExport writes one level's settings of the pool /PoolName names; the machine level is the
// server running the command.
func (w *World) lcsExport(s *server, p *cmdexe.Proc, opts map[string]string, file string) int {
	level := strings.ToLower(strings.TrimSpace(opts["level"]))
	if level != "global" && level != "pool" && level != "machine" {
		write(p.Stdout, lcscmdFailed(lcscmdBadLevel(opts["level"])))
		return 1
	}
	poolName := opts["poolname"]
	pool := w.server(poolName)
	if poolName == "" || pool == nil || pool.role != "" {
		write(p.Stdout, lcscmdFailed(lcscmdUnknownPool(poolName)))
		return 1
	}
	doc := lcsConfig{Xmlns: lcscmdNamespace, Levels: level, Source: s.fqdn}
	w.mu.Lock()
	switch level {
	case "global":
		doc.Global = &lcsGlobal{SipDomain: w.domain, Users: len(w.users)}
	case "pool":
		doc.Pools = append(doc.Pools, lcsPool{Name: pool.name, FQDN: pool.fqdn, PoolDN: pool.dn, Type: poolType})
	case "machine":
		doc.Machines = append(doc.Machines, lcsMachine{FQDN: s.fqdn, InstanceID: s.instanceID, Services: strings.Join(s.services, ",")})
	}
	w.mu.Unlock()
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil || s.fs.WriteFile(file, append([]byte(xml.Header), data...)) != nil {
		write(p.Stdout, lcscmdFailed("cannot write "+file+"."))
		return 1
	}
	write(p.Stdout, lcscmdExported(doc.Levels, file))
	return 0
}

func (w *World) serverByFQDN(fqdn string) *server {
	for _, s := range w.servers {
		if strings.EqualFold(s.fqdn, fqdn) || strings.EqualFold(s.name, fqdn) {
			return s
		}
	}
	return nil
}

func (w *World) serverByDN(dn string) *server {
	for _, s := range w.servers {
		if strings.EqualFold(s.dn, dn) {
			return s
		}
	}
	return nil
}

// powershellProgram is powershell.exe with this server's WMI classes and Cs cmdlets.
func (w *World) powershellProgram(s *server) cmdexe.Program {
	return ps.NewProgram(ps.ProgramConfig{Cmdlets: func(_ *cmdexe.Proc) ps.Registry {
		// One registry per process: the module loads once per powershell.exe.
		r := ps.Registry{}
		module := &moduleLoader{w: w}
		w.addWMI(r, s)
		if w.product == ProductSkypeForBusiness && !s.profile.MissingModule {
			w.addProductCmdlets(r, s)
			module.autoload(r, csCmdlets(r))
		}
		r.Add(&ps.Cmdlet{Name: "Import-Module", Params: []string{"Name"}, Switches: []string{"Force", "Global"},
			Run: func(ctx context.Context, c *ps.Call) ([]any, error) {
				if err := w.importModule(s, c); err != nil {
					return nil, err
				}
				return nil, module.load(ctx)
			}})
		return r
	}, Sleep: w.sleep, Native: func(name string) cmdexe.Program { return cmdexe.Lookup(s.programs, name) },
		ConsoleWidth: s.profile.ConsoleWidth, DrainStdin: s.profile.PowerShell != "5.1", Version: s.profile.PowerShell})
}

func errorf(category, reason, fqid, format string, args ...any) *ps.ErrorRecord {
	return ps.NewError(category, reason, fqid, format, args...)
}

// importModule loads the product's management module: SkypeForBusiness (and Lync 2010's Lync)
// exist on Skype for Business servers only; OCS 2007 R2 has no PowerShell module (ocs-admin.md
// §2). The cmdlets of a present module are always loaded, as PowerShell 3.0+ autoloads them.
func (w *World) importModule(s *server, c *ps.Call) error {
	names := c.Positional
	if v, ok := c.Named["name"]; ok {
		names = []any{v}
	}
	for _, n := range names {
		name := strings.ToLower(ps.ToString(n))
		present := (name == "skypeforbusiness" || name == "lync") &&
			w.product == ProductSkypeForBusiness && !s.profile.MissingModule
		if !present {
			return ps.ModuleNotFound(ps.ToString(n))
		}
	}
	return nil
}
