package host

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"regexp"
	"sort"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// Skype for Business Server cmdlets (§3.2, §4.2, §6, §7.2, §8.3), served by every emulated
// server so that one emulator covers both products.

const csNamespace = "Microsoft.Rtc.Management"

func csError(category, cmdlet, format string, args ...any) *ps.ErrorRecord {
	return errorf(category, "ManagementException", "Microsoft.Rtc.Management."+cmdlet, format, args...)
}

func (w *World) addCs(r ps.Registry, s *server) {
	r.Add(&ps.Cmdlet{Name: "Get-CsUser", Params: []string{"Identity", "Filter", "LdapFilter", "ResultSize", "DomainController"},
		Switches: []string{"OnLyncServer", "OnOfficeCommunicationServer", "UnAssignedUser"},
		Run:      func(ctx context.Context, c *ps.Call) ([]any, error) { return w.getCsUser(ctx, c) }})
	r.Add(&ps.Cmdlet{Name: "Move-CsUser", Params: []string{"Identity", "Target", "DomainController", "ProxyPool", "Report"},
		Switches: []string{"Force", "MoveConferenceData", "PassThru", "IgnoreBackendStoreException"},
		Run:      w.moveCsUser})
	r.Add(&ps.Cmdlet{Name: "Export-CsUserData", Params: []string{"PoolFqdn", "FileName", "UserFilter", "DomainController"},
		Switches: []string{"Force", "LegacyFormat"},
		Run:      func(ctx context.Context, c *ps.Call) ([]any, error) { return w.exportCsUserData(ctx, s, c) }})
	r.Add(&ps.Cmdlet{Name: "Update-CsUserData", Params: []string{"FileName", "UserFilter", "TargetPoolFqdn", "DomainController"},
		Switches: []string{"Force", "TestMode"},
		Run:      func(ctx context.Context, c *ps.Call) ([]any, error) { return w.importCsUserData(ctx, s, c, false) }})
	r.Add(&ps.Cmdlet{Name: "Import-CsUserData", Params: []string{"PoolFqdn", "FileName", "UserFilter", "DomainController"},
		Switches: []string{"Force", "LegacyFormat"},
		Run:      func(ctx context.Context, c *ps.Call) ([]any, error) { return w.importCsUserData(ctx, s, c, true) }})
	r.Add(&ps.Cmdlet{Name: "Export-CsConfiguration", Params: []string{"FileName"}, Switches: []string{"Force", "LocalStore", "AsBytes"},
		Run: func(_ context.Context, c *ps.Call) ([]any, error) { return w.exportCsConfiguration(s, c) }})
	r.Add(&ps.Cmdlet{Name: "Get-CsWindowsService", Params: []string{"Name", "ComputerName", "Report"}, Switches: []string{"ExcludeActivityLevel"},
		Run: func(_ context.Context, c *ps.Call) ([]any, error) { return w.getCsWindowsService(s, c) }})
}

func (w *World) csUserObject(u *user) *ps.Object {
	o := ps.NewObject(csNamespace + ".ADConnect.Schema.ADUser")
	o.Set("Identity", u.dn)
	o.Set("SipAddress", u.sip)
	var pool, home any
	if h := u.visibleHome(); h != nil {
		pool, home = h.fqdn, h.dn
	}
	o.Set("RegistrarPool", pool)
	o.Set("HomeServer", home)
	o.Set("DisplayName", u.display)
	o.Set("Enabled", u.enabled)
	o.Set("EnterpriseVoiceEnabled", false)
	o.Set("LineURI", "")
	return o
}

// registrarFilter is the one -Filter shape the operator sends.
var registrarFilter = regexp.MustCompile(`(?i)^\s*RegistrarPool\s+-eq\s+(?:"([^"]*)"|'([^']*)')\s*$`)

func (w *World) getCsUser(ctx context.Context, c *ps.Call) ([]any, error) {
	if w.directoryAccess(ctx) != nil {
		return nil, w.csDirectoryDenied("GetUserCmdlet")
	}
	var pool string
	filtered := false
	if f, ok := c.Get("Filter", -1); ok {
		text := ps.ToString(f)
		m := registrarFilter.FindStringSubmatch(text)
		if m == nil {
			return nil, csError("InvalidArgument", "GetUserCmdlet", "%s", errCsFilterUnsupported(strings.TrimSpace(text)))
		}
		pool, filtered = m[1]+m[2], true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := c.Get("Identity", 0); ok {
		u := w.userByIdentity(ps.ToString(id))
		if u == nil {
			return nil, csError("ObjectNotFound", "GetUserCmdlet", "%s", errCsIdentityNotFound(ps.ToString(id)))
		}
		return []any{w.csUserObject(u)}, nil
	}
	var users []*user
	for _, u := range w.users {
		if h := u.visibleHome(); !filtered || h != nil && strings.EqualFold(h.fqdn, pool) {
			users = append(users, u)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].sip < users[j].sip })
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = w.csUserObject(u)
	}
	return out, nil
}

// userByIdentity accepts a SIP address (with or without sip:), a DN or a display name.
func (w *World) userByIdentity(id string) *user {
	if u := w.users[sipKey(id)]; u != nil {
		return u
	}
	for _, u := range w.users {
		if strings.EqualFold(u.dn, id) || strings.EqualFold(u.display, id) {
			return u
		}
	}
	return nil
}

func (w *World) moveCsUser(ctx context.Context, c *ps.Call) ([]any, error) {
	if w.directoryAccess(ctx) != nil {
		return nil, w.csDirectoryDenied("MoveUserCmdlet")
	}
	if err := c.Confirmed(); err != nil {
		return nil, err
	}
	targetName := c.String("Target", 1)
	target := w.serverByFQDN(targetName)
	if target == nil {
		return nil, csError("InvalidArgument", "MoveUserCmdlet", "%s", errCsPoolNotFound(targetName))
	}
	var ids []string
	if id, ok := c.Get("Identity", 0); ok {
		ids = append(ids, ps.ToString(id))
	} else {
		for _, in := range c.Input {
			if o, ok := in.(*ps.Object); ok {
				v, _ := o.Get("SipAddress")
				ids = append(ids, ps.ToString(v))
			} else {
				ids = append(ids, ps.ToString(in))
			}
		}
	}
	kind := movePlanned
	if c.Switch("Force") {
		kind = moveDropped
	}
	for _, id := range ids {
		w.mu.Lock()
		u := w.userByIdentity(id)
		w.mu.Unlock()
		if u == nil {
			return nil, csError("ObjectNotFound", "MoveUserCmdlet", "%s", errCsIdentityNotFound(id))
		}
		err := w.move(ctx, u.sip, target, kind, func(src, tgt *server) error {
			if !tgt.running() {
				return &moveError{errCsTargetDown(tgt.fqdn)}
			}
			if kind == movePlanned && src != nil && !src.running() {
				return &moveError{errCsSourceDown(u.sip, src.fqdn)}
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, csError("InvalidOperation", "MoveUserCmdlet", "%s", err.Error())
		}
	}
	return nil, nil
}

func (w *World) exportCsUserData(ctx context.Context, s *server, c *ps.Call) ([]any, error) {
	fqdn := c.String("PoolFqdn", -1)
	pool := w.serverByFQDN(fqdn)
	if pool == nil {
		return nil, csError("InvalidArgument", "ExportUserDataCmdlet", "%s", errCsPoolNotFound(fqdn))
	}
	w.mu.Lock()
	up := pool.state != StateDown
	w.mu.Unlock()
	if !up {
		return nil, csError("ResourceUnavailable", "ExportUserDataCmdlet", "%s", errCsPoolUnavailable(fqdn))
	}
	res, _ := w.homedResources(pool, "")
	if f := c.String("UserFilter", -1); f != "" {
		var kept []contacts.Resource
		for _, r := range res {
			if strings.EqualFold(r.UserAtHost, atHost(f)) {
				kept = append(kept, r)
			}
		}
		res = kept
	}
	data, err := w.renderExport(ctx, len(res), func() ([]byte, error) {
		return userDataPackage(&contacts.Document{Resources: res}, pool.fqdn)
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, csError("WriteError", "ExportUserDataCmdlet", "%s", err.Error())
	}
	return nil, writeFile(s, c.String("FileName", -1), data, "ExportUserDataCmdlet")
}

func writeFile(s *server, path string, data []byte, cmdlet string) error {
	if !winfs.ValidPath(path) || s.fs.WriteFile(path, data) != nil {
		return csError("WriteError", cmdlet, "%s", errCsWriteFile(path))
	}
	return nil
}

// importCsUserData is Update-CsUserData (merge now) or, with staged, Import-CsUserData
// (overwrite when RtcSrv restarts on the pool, §6).
func (w *World) importCsUserData(ctx context.Context, s *server, c *ps.Call, staged bool) ([]any, error) {
	cmdlet := "UpdateUserDataCmdlet"
	if staged {
		cmdlet = "ImportUserDataCmdlet"
	} else if w.directoryAccess(ctx) != nil {
		return nil, w.csDirectoryDenied(cmdlet)
	}
	if err := c.Confirmed(); err != nil {
		return nil, err
	}
	path := c.String("FileName", 0)
	data, err := s.fs.ReadFile(path)
	if err != nil {
		return nil, csError("ObjectNotFound", cmdlet, "%s", errCsFileNotFound(path))
	}
	if missing := missingPackageParts(data); missing != "" {
		return nil, csError("InvalidData", cmdlet, "%s", errCsIncompletePackage(path, missing))
	}
	doc, err := contacts.ReadUserDataZip(data)
	if err != nil {
		return nil, csError("InvalidData", cmdlet, "%s", errCsBadPackage(path))
	}
	filter := c.String("UserFilter", -1)
	var pool *server
	if staged {
		fqdn := c.String("PoolFqdn", -1)
		if pool = w.serverByFQDN(fqdn); pool == nil {
			return nil, csError("InvalidArgument", cmdlet, "%s", errCsPoolNotFound(fqdn))
		}
	}
	for _, r := range doc.Resources {
		if filter != "" && !strings.EqualFold(r.UserAtHost, atHost(filter)) {
			continue
		}
		w.mu.Lock()
		known := w.users[sipKey(r.UserAtHost)] != nil
		w.mu.Unlock()
		if !known {
			continue // only users enabled in the target are kept (§6)
		}
		if err := spend(ctx, w.importCost); err != nil {
			return nil, err
		}
		w.mu.Lock()
		u := w.users[sipKey(r.UserAtHost)]
		r.UserAtHost = atHost(r.UserAtHost)
		switch {
		case u == nil || u.home == nil:
			// Only users enabled in the target are kept (§6 migration practice).
		case staged && u.home == pool:
			pool.staged = append(pool.staged, r)
		case !staged:
			u.home.db[r.UserAtHost] = contacts.Merge(u.home.db[r.UserAtHost], r)
		}
		w.mu.Unlock()
	}
	return nil, nil
}

func (w *World) exportCsConfiguration(s *server, c *ps.Call) ([]any, error) {
	w.mu.Lock()
	doc := lcsConfig{Xmlns: lcscmdNamespace, Levels: "global,pool", Source: s.fqdn,
		Global: &lcsGlobal{SipDomain: w.domain, Users: len(w.users)}}
	for _, sv := range w.servers {
		doc.Pools = append(doc.Pools, lcsPool{Name: sv.name, FQDN: sv.fqdn, PoolDN: sv.dn, Type: poolType})
	}
	w.mu.Unlock()
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("DocItemSet.xml")
	if err == nil {
		_, err = f.Write(append([]byte(xml.Header), body...))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, err
	}
	return nil, writeFile(s, c.String("FileName", 0), buf.Bytes(), "ExportConfigurationCmdlet")
}

func (w *World) getCsWindowsService(s *server, c *ps.Call) ([]any, error) {
	name := c.String("Name", 0)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []any
	for _, svc := range s.catalog {
		if !svc.Cs || name != "" && !strings.EqualFold(svc.Name, name) {
			continue
		}
		o := ps.NewObject(csNamespace + ".Deployment.Core.NTService")
		status := "Running"
		if !s.serviceRunning(svc.Name) {
			status = "Stopped"
		}
		o.Set("Status", status)
		o.Set("Name", svc.Name)
		o.Set("DisplayName", "Skype for Business Server "+svc.Display)
		o.Set("RoleName", svc.Role)
		o.Set("ActivityLevel", "")
		out = append(out, o)
	}
	if name != "" && len(out) == 0 {
		return nil, csError("ObjectNotFound", "GetWindowsServiceCmdlet", "%s", errCsServiceNotFound(name))
	}
	return out, nil
}

// userDataPackage is the ZIP Export-CsUserData writes: the parts of packageParts, with the
// DocItemSet of doc.
func userDataPackage(doc *contacts.Document, poolFQDN string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range packageParts(poolFQDN, len(doc.Resources)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate})
		if err == nil {
			_, err = w.Write([]byte(p.body))
		}
		if err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return contacts.WriteUserDataZipFrom(buf.Bytes(), doc)
}

// missingPackageParts names the first part of a real export that the ZIP lacks, "" if none.
func missingPackageParts(data []byte) string {
	names, err := contacts.UserDataZipParts(data)
	if err != nil {
		return ""
	}
	have := map[string]bool{}
	for _, n := range names {
		have[strings.ToLower(n)] = true
	}
	for _, p := range packageParts("", 0) {
		if !have[strings.ToLower(p.name)] {
			return p.name
		}
	}
	return ""
}
