package host

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ps"
)

// WMI classes of OCS 2007 R2 (§3.1), properties in documented order.
var (
	poolProps   = []string{"BackEndDBPath", "InstanceID", "MajorVersion", "MinorVersion", "PoolDN", "PoolFQDN", "PoolMemberList", "PoolType"}
	esSrvProps  = []string{"ESInstalled", "FQDN", "HomeServerDN", "HomeUsers", "InstanceID", "MajorVersion", "MinorVersion", "PoolDN"}
	esUserProps = []string{"AllowOrganizeMeetingWithAnonymousParticipants", "ArchiveFederatedCommunications",
		"ArchiveInternalCommunications", "ContactType", "DisplayName", "Enabled", "EnabledForEnhancedPresence",
		"EnabledForFederation", "EnabledForInternetAccess", "HomeServerDN", "InstanceID", "IPPBXSoftPhoneRoutingEnabled",
		"LineServerURI", "LineURI", "MeetingPolicy", "PrimaryURI", "PublicNetworkEnabled",
		"RemoteCallControlTelephonyEnabled", "TargetServerDNIfMoving", "UCEnabled", "UCPolicy", "UserCategory", "UserDN"}
	wmiClasses = map[string][]string{
		"msft_sippoolsetting":     poolProps,
		"msft_sipesserversetting": esSrvProps,
		"msft_sipesusersetting":   esUserProps,
	}
	wmiClassNames = map[string]string{
		"msft_sippoolsetting":     "MSFT_SIPPoolSetting",
		"msft_sipesserversetting": "MSFT_SIPESServerSetting",
		"msft_sipesusersetting":   "MSFT_SIPESUserSetting",
	}
)

func wmiError(msg string) *ps.ErrorRecord {
	return errorf("InvalidOperation", "ManagementException", wmiFQID, "%s", msg)
}

func (w *World) addWMI(r ps.Registry, s *server) {
	r.Add(&ps.Cmdlet{
		Name:     "Get-WmiObject",
		Params:   []string{"Class", "Namespace", "Filter", "Query", "ComputerName", "Property"},
		Switches: []string{"List", "Recurse"},
		Run: func(ctx context.Context, c *ps.Call) ([]any, error) {
			return w.getWmiObject(ctx, s, c)
		},
	})
}

func (w *World) getWmiObject(ctx context.Context, s *server, c *ps.Call) ([]any, error) {
	if ns, ok := c.Get("Namespace", -1); ok && !strings.EqualFold(ps.ToString(ns), `root\cimv2`) {
		return nil, wmiError(wmiInvalidNamespace)
	}
	q, err := wmiQueryOf(c)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(q.Class)
	props, ok := wmiClasses[key]
	if !ok || w.product != ProductOCS2007R2 || s.profile.MissingModule {
		return nil, wmiError(wmiInvalidClass)
	}
	known := map[string]bool{}
	for _, p := range props {
		known[strings.ToLower(p)] = true
	}
	for _, p := range q.Props {
		if !known[strings.ToLower(p)] {
			return nil, wmiError(wmiInvalidQuery)
		}
	}
	for _, cond := range q.Where {
		if !known[strings.ToLower(cond.Prop)] {
			return nil, wmiError(wmiInvalidQuery)
		}
	}
	if key == "msft_sipesusersetting" && w.directoryAccess(ctx) != nil {
		return nil, wmiDirectoryDenied()
	}
	var objs []*ps.Object
	w.mu.Lock()
	switch key {
	case "msft_sippoolsetting":
		for _, sv := range w.servers {
			objs = append(objs, poolObject(sv))
		}
	case "msft_sipesserversetting":
		objs = append(objs, w.serverObjectLocked(s))
	case "msft_sipesusersetting":
		// A PrimaryURI condition is a key lookup: batch scripts query one user at a time.
		if uri, ok := primaryURI(q.Where); ok {
			if u := w.users[strings.ToLower(uri)]; u != nil {
				objs = append(objs, w.userObject(u))
			}
			break
		}
		for _, u := range w.users {
			objs = append(objs, w.userObject(u))
		}
	}
	w.mu.Unlock()
	var out []any
	for _, o := range objs {
		if !matches(o, q.Where) {
			continue
		}
		if q.Props != nil {
			keep := map[string]bool{}
			for _, p := range q.Props {
				keep[strings.ToLower(p)] = true
			}
			for _, n := range o.Names() {
				if !keep[strings.ToLower(n)] {
					o.Set(n, nil)
				}
			}
		}
		out = append(out, o)
	}
	sortObjects(out, key)
	return out, nil
}

// wmiQueryOf reads the query of a Get-WmiObject call: -Query, or -Class with -Filter.
func wmiQueryOf(c *ps.Call) (*wqlQuery, error) {
	if query, ok := c.Get("Query", -1); ok {
		q, err := parseWQL(ps.ToString(query))
		if err != nil {
			return nil, wmiError(wmiInvalidQuery)
		}
		return q, nil
	}
	q := &wqlQuery{Class: c.String("Class", 0)}
	if f, ok := c.Get("Filter", -1); ok {
		var err error
		if q.Where, err = parseWQLWhere(ps.ToString(f)); err != nil {
			return nil, wmiError(wmiInvalidQuery)
		}
	}
	return q, nil
}

func primaryURI(where []wqlCond) (string, bool) {
	for _, c := range where {
		if strings.EqualFold(c.Prop, "PrimaryURI") && !c.Null {
			return c.Value, true
		}
	}
	return "", false
}

// matches applies WHERE conditions: string comparison ignores case, as WQL does.
func matches(o *ps.Object, where []wqlCond) bool {
	for _, c := range where {
		v, _ := o.Get(c.Prop)
		if c.Null {
			if v != nil {
				return false
			}
			continue
		}
		if v == nil || !strings.EqualFold(ps.ToString(v), c.Value) {
			return false
		}
	}
	return true
}

func sortObjects(objs []any, class string) {
	sortKey := map[string]string{"msft_sippoolsetting": "PoolFQDN", "msft_sipesusersetting": "PrimaryURI"}[class]
	if sortKey == "" {
		return
	}
	keyOf := func(i int) string {
		v, _ := objs[i].(*ps.Object).Get(sortKey)
		return ps.ToString(v)
	}
	sort.SliceStable(objs, func(i, j int) bool { return keyOf(i) < keyOf(j) })
}

func readOnly(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

func poolObject(s *server) *ps.Object {
	o := ps.NewObject("MSFT_SIPPoolSetting")
	o.Set("BackEndDBPath", s.fqdn+`\rtc`)
	o.Set("InstanceID", s.instanceID)
	o.Set("MajorVersion", ocsMajorVersion)
	o.Set("MinorVersion", ocsMinorVersion)
	o.Set("PoolDN", s.dn)
	o.Set("PoolFQDN", s.fqdn)
	o.Set("PoolMemberList", []any{s.fqdn})
	o.Set("PoolType", poolType)
	o.ReadOnly = readOnly(poolProps...)
	return o
}

func (w *World) serverObjectLocked(s *server) *ps.Object {
	o := ps.NewObject("MSFT_SIPESServerSetting")
	o.Set("ESInstalled", true)
	o.Set("FQDN", s.fqdn)
	o.Set("HomeServerDN", s.dn)
	o.Set("HomeUsers", w.homedLocked(s))
	o.Set("InstanceID", s.instanceID)
	o.Set("MajorVersion", ocsMajorVersion)
	o.Set("MinorVersion", ocsMinorVersion)
	o.Set("PoolDN", s.dn)
	o.ReadOnly = readOnly(esSrvProps...)
	return o
}

// userObject is an MSFT_SIPESUserSetting instance whose Put applies the move rules.
func (w *World) userObject(u *user) *ps.Object {
	o := ps.NewObject("MSFT_SIPESUserSetting")
	var home any
	if h := u.visibleHome(); h != nil {
		home = h.dn
	}
	for _, p := range esUserProps {
		switch p {
		case "DisplayName":
			o.Set(p, u.display)
		case "Enabled", "EnabledForEnhancedPresence":
			o.Set(p, u.enabled)
		case "HomeServerDN":
			o.Set(p, home)
		case "InstanceID":
			o.Set(p, u.instanceID)
		case "PrimaryURI":
			o.Set(p, u.sip)
		case "UserDN":
			o.Set(p, u.dn)
		case "ContactType", "UserCategory":
			o.Set(p, 0)
		case "LineServerURI", "LineURI", "MeetingPolicy", "UCPolicy", "TargetServerDNIfMoving":
			o.Set(p, nil)
		default:
			o.Set(p, false)
		}
	}
	o.ReadOnly = readOnly("InstanceID", "PrimaryURI", "UserDN")
	sip := u.sip
	o.Methods = map[string]func(context.Context, []any) (any, error){
		"put": func(ctx context.Context, _ []any) (any, error) { return w.putUser(ctx, sip, o) },
	}
	return o
}

// putUser writes back an MSFT_SIPESUserSetting: a changed HomeServerDN is a move (inferred.go).
func (w *World) putUser(ctx context.Context, sip string, o *ps.Object) (any, error) {
	if w.directoryAccess(ctx) != nil {
		return nil, errors.New(wmiAccessDenied)
	}
	dnv, _ := o.Get("HomeServerDN")
	tv, _ := o.Get("TargetServerDNIfMoving")
	dn := ps.ToString(dnv)
	target := w.serverByDN(dn)
	if target == nil {
		return nil, errors.New(errUnknownTargetDN(dn))
	}
	kind := movePlanned
	if ps.ToString(tv) != "" {
		kind = moveForced
	}
	err := w.move(ctx, sip, target, kind, func(src, tgt *server) error {
		if !tgt.running() {
			return &moveError{errTargetUnavailable(tgt.fqdn)}
		}
		if kind == movePlanned && src != nil && !src.running() {
			return &moveError{errSourceUnavailable(src.fqdn)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	path := ps.NewObject("System.Management.ManagementPath")
	path.Set("Path", `\\.\root\cimv2:MSFT_SIPESUserSetting.InstanceID="`+ps.ToString(must(o.Get("InstanceID")))+`"`)
	return path, nil
}

func must(v any, _ bool) any { return v }
