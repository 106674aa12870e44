package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// actionsDir holds the Argo CD resource actions: <Kind>/discovery.lua and <Kind>/<action>/action.lua.
var actionsDir = filepath.Join("..", "..", "config", "argocd", "actions")

func readScript(t *testing.T, parts ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{actionsDir}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// argoLua is a Lua state with the libraries Argo CD opens for actions (base, table, package and
// os; no string library), the object as obj and the parameters as actionParams.
func argoLua(t *testing.T, obj map[string]any, params map[string]string) *lua.LState {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.OsLibName, lua.OpenOs}} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatal(err)
		}
	}
	L.PreloadModule(lua.OsLibName, lua.OpenOs)
	p := L.NewTable()
	for k, v := range params {
		p.RawSetString(k, lua.LString(v))
	}
	L.SetGlobal("actionParams", p)
	L.SetGlobal("obj", toLua(L, obj))
	return L
}

// runAction runs an action.lua and returns the object it returns, or its error.
func runAction(t *testing.T, kind, action string, obj map[string]any, params map[string]string) (map[string]any, error) {
	t.Helper()
	L := argoLua(t, obj, params)
	defer L.Close()
	if err := L.DoString(readScript(t, kind, action, "action.lua")); err != nil {
		return nil, err
	}
	out, ok := fromLua(L.Get(-1)).(map[string]any)
	if !ok {
		t.Fatalf("%s/%s returned %v, want the object", kind, action, L.Get(-1))
	}
	return out, nil
}

// discover runs a discovery.lua and returns, per action, whether it is enabled.
func discover(t *testing.T, kind string, obj map[string]any) map[string]bool {
	t.Helper()
	L := argoLua(t, obj, nil)
	defer L.Close()
	if err := L.DoString(readScript(t, kind, "discovery.lua")); err != nil {
		t.Fatalf("%s discovery: %v", kind, err)
	}
	actions, ok := fromLua(L.Get(-1)).(map[string]any)
	if !ok {
		t.Fatalf("%s discovery returned %v", kind, L.Get(-1))
	}
	out := map[string]bool{}
	for name, a := range actions {
		disabled, _ := a.(map[string]any)["disabled"].(bool)
		out[name] = !disabled
	}
	return out
}

// fromLua converts a Lua value back to JSON-like Go values (a table with a sequence is a list).
func fromLua(v lua.LValue) any {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LBool:
		return bool(v)
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				out = append(out, fromLua(v.RawGetInt(i)))
			}
			return out
		}
		out := map[string]any{}
		v.ForEach(func(k, e lua.LValue) { out[lua.LVAsString(k)] = fromLua(e) })
		return out
	default:
		return v.String()
	}
}

func path(obj map[string]any, keys ...any) any {
	var cur any = obj
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := cur.(map[string]any)
			cur = m[k]
		case int:
			l, _ := cur.([]any)
			if k >= len(l) {
				return nil
			}
			cur = l[k]
		}
	}
	return cur
}

func TestArgoCDActionDiscovery(t *testing.T) {
	tests := map[string]struct {
		kind, object string
		want         map[string]bool
	}{
		"a backup can always be taken now":                               {"ContactBackup", "contactbackup-healthy", map[string]bool{"backup-now": true}},
		"a pool with both servers serving can put one in maintenance":    {"OCSPool", "ocspool-healthy", map[string]bool{"maintenance-on": true, "maintenance-off": false}},
		"a pool with a drained server can return it, not drain the last": {"OCSPool", "ocspool-drained", map[string]bool{"maintenance-on": false, "maintenance-off": true}},
		"a homing waiting for approval can be approved":                  {"UserHoming", "userhoming-waiting-for-approval", map[string]bool{"approve": true}},
		"a homing without a proposal has nothing to approve":             {"UserHoming", "userhoming-healthy", map[string]bool{"approve": false}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := discover(t, tc.kind, loadObject(t, tc.object))
			for action, enabled := range tc.want {
				if got[action] != enabled {
					t.Errorf("%s enabled = %v, want %v (all: %v)", action, got[action], enabled, got)
				}
			}
		})
	}
}

func TestArgoCDActions(t *testing.T) {
	tests := map[string]struct {
		kind, action, object string
		params               map[string]string
		check                func(t *testing.T, out map[string]any)
		wantErr              string
	}{
		"backup-now sets the annotation to the time of the request": {
			kind: "ContactBackup", action: "backup-now", object: "contactbackup-healthy",
			check: func(t *testing.T, out map[string]any) {
				v, _ := path(out, "metadata", "annotations", "ocs.ocsha.io/backup-now").(string)
				if _, err := time.Parse(time.RFC3339, v); err != nil {
					t.Errorf("backup-now annotation %q is not a time: %v", v, err)
				}
			},
		},
		"maintenance-on drains the named server only": {
			kind: "OCSPool", action: "maintenance-on", object: "ocspool-healthy", params: map[string]string{"server": "ocs2"},
			check: func(t *testing.T, out map[string]any) {
				if path(out, "spec", "servers", 1, "maintenance") != true || path(out, "spec", "servers", 0, "maintenance") == true {
					t.Errorf("servers = %v", path(out, "spec", "servers"))
				}
			},
		},
		"maintenance-on refuses an unknown server and names the pool's": {
			kind: "OCSPool", action: "maintenance-on", object: "ocspool-healthy", params: map[string]string{"server": "ocs9"},
			wantErr: "has no server ocs9; its servers: ocs1, ocs2",
		},
		"maintenance-on refuses the last server out of maintenance": {
			kind: "OCSPool", action: "maintenance-on", object: "ocspool-drained", params: map[string]string{"server": "ocs2"},
			wantErr: "last one out of maintenance",
		},
		"maintenance-on needs the server parameter": {
			kind: "OCSPool", action: "maintenance-on", object: "ocspool-healthy",
			wantErr: "the server parameter",
		},
		"maintenance-off returns a drained server": {
			kind: "OCSPool", action: "maintenance-off", object: "ocspool-drained", params: map[string]string{"server": "ocs1"},
			check: func(t *testing.T, out map[string]any) {
				if path(out, "spec", "servers", 0, "maintenance") != false {
					t.Errorf("servers = %v", path(out, "spec", "servers"))
				}
			},
		},
		"approve copies the proposal's id into spec.approvedProposal": {
			kind: "UserHoming", action: "approve", object: "userhoming-waiting-for-approval",
			check: func(t *testing.T, out map[string]any) {
				id := path(out, "status", "proposal", "id")
				if id == nil || path(out, "spec", "approvedProposal") != id {
					t.Errorf("spec.approvedProposal = %v, want %v", path(out, "spec", "approvedProposal"), id)
				}
			},
		},
		"approve refuses a homing without a proposal": {
			kind: "UserHoming", action: "approve", object: "userhoming-healthy",
			wantErr: "has no proposal to approve",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := runAction(t, tc.kind, tc.action, loadObject(t, tc.object), tc.params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q in it", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, out)
		})
	}
}

// The argocd-cm snippet users paste must carry exactly the tested action scripts.
func TestArgoCDConfigMapEmbedsTheActions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	for kind, actions := range map[string][]string{
		"ContactBackup": {"backup-now"}, "OCSPool": {"maintenance-on", "maintenance-off"}, "UserHoming": {"approve"},
	} {
		var custom struct {
			Discovery   string `json:"discovery.lua"`
			Definitions []struct {
				Name   string `json:"name"`
				Action string `json:"action.lua"`
			} `json:"definitions"`
		}
		key := "resource.customizations.actions.ocs.ocsha.io_" + kind
		if err := yaml.Unmarshal([]byte(cm.Data[key]), &custom); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if strings.TrimSpace(custom.Discovery) != strings.TrimSpace(readScript(t, kind, "discovery.lua")) {
			t.Errorf("%s discovery.lua differs from config/argocd/actions/%s/discovery.lua", key, kind)
		}
		got := map[string]string{}
		for _, d := range custom.Definitions {
			got[d.Name] = d.Action
		}
		for _, a := range actions {
			if strings.TrimSpace(got[a]) != strings.TrimSpace(readScript(t, kind, a, "action.lua")) {
				t.Errorf("%s action %s differs from config/argocd/actions/%s/%s/action.lua", key, a, kind, a)
			}
		}
		if len(got) != len(actions) {
			t.Errorf("%s defines %d actions, want %d", key, len(got), len(actions))
		}
	}
}

// maintenance-on and maintenance-off are rendered from one template (make argocd-actions, run by
// make manifests): an edit of one rendered copy alone fails here.
func TestMaintenanceActionsAreRenderedFromTheTemplate(t *testing.T) {
	tmpl := readScript(t, "OCSPool", "maintenance.lua.tmpl")
	if !strings.Contains(tmpl, "@MAINTENANCE@") {
		t.Fatal("maintenance.lua.tmpl has no @MAINTENANCE@ placeholder")
	}
	for action, value := range map[string]string{"maintenance-on": "true", "maintenance-off": "false"} {
		if got, want := readScript(t, "OCSPool", action, "action.lua"), strings.ReplaceAll(tmpl, "@MAINTENANCE@", value); got != want {
			t.Errorf("config/argocd/actions/OCSPool/%s/action.lua is not the rendered template: run make argocd-actions", action)
		}
	}
}
