package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// Each recorded object (testdata/<name>.yaml, written by the e2e suite and by the controllers'
// envtest specs with OCSHA_RECORD_OBJECTS set) and what Argo CD and kstatus must make of it. The
// two tools agree: what Argo CD calls Degraded is never Current in kstatus.
var recorded = map[string]struct {
	argo    string
	kstatus status.Status
}{
	"ocspool-healthy": {"Healthy", status.CurrentStatus},
	// kstatus reads Ready=False as still in progress: a pool with a dead server is not Current.
	"ocspool-degraded": {"Degraded", status.InProgressStatus},
	// Maintenance is desired state: in progress while the server drains, then Healthy/Current.
	"ocspool-draining":       {"Progressing", status.InProgressStatus},
	"ocspool-drained":        {"Healthy", status.CurrentStatus},
	"userhoming-draining":    {"Progressing", status.InProgressStatus},
	"userhoming-drained":     {"Healthy", status.CurrentStatus},
	"userhoming-healthy":     {"Healthy", status.CurrentStatus},
	"userhoming-progressing": {"Progressing", status.InProgressStatus},
	// A server down with its users failed over, or users held on their failover home.
	"userhoming-degraded":             {"Degraded", status.InProgressStatus},
	"userhoming-failed-over":          {"Degraded", status.InProgressStatus},
	"userhoming-failback-held":        {"Degraded", status.InProgressStatus},
	"userhoming-waiting-for-approval": {"Degraded", status.InProgressStatus},
	"userhoming-outside-window":       {"Degraded", status.InProgressStatus},
	"userhoming-suspended":            {"Suspended", status.InProgressStatus},
	"contactbackup-healthy":           {"Healthy", status.CurrentStatus},
	"ocspool-stalled":                 {"Degraded", status.FailedStatus},
	"userhoming-new-generation":       {"Progressing", status.InProgressStatus},
	// A lost redundant PSTN path: Degraded to Argo CD, Current (not in progress) to kstatus.
	"ocspool-path-degraded": {"Degraded", status.CurrentStatus},
}

func loadObject(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatalf("reading the recorded object: %v", err)
	}
	// Decoded as the API machinery does (integers as int64), not as plain JSON floats.
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(jsonData); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return u.Object
}

// argoHealth runs config/argocd/health.lua the way Argo CD does: the object as the global obj,
// the script's return value a table with status and message.
func argoHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %v, want a table", L.Get(-1))
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	default:
		panic("unexpected JSON value")
	}
}

func TestArgoCDHealth(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range recorded {
		t.Run(name, func(t *testing.T) {
			got, msg := argoHealth(t, string(script), loadObject(t, name))
			if got != want.argo {
				t.Errorf("health = %s (%q), want %s", got, msg, want.argo)
			}
			if msg == "" {
				t.Errorf("health %s has no message", got)
			}
		})
	}
}

func TestKstatus(t *testing.T) {
	for name, want := range recorded {
		t.Run(name, func(t *testing.T) {
			res, err := status.Compute(&unstructured.Unstructured{Object: loadObject(t, name)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != want.kstatus {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, want.kstatus)
			}
		})
	}
}

// The argocd-cm snippet users paste must carry exactly the tested script, for every kind.
func TestArgoCDConfigMapEmbedsTheScript(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
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
	for _, kind := range []string{"OCSPool", "UserHoming", "ContactBackup"} {
		key := "resource.customizations.health.ocs.ocsha.io_" + kind
		if strings.TrimSpace(cm.Data[key]) != strings.TrimSpace(string(script)) {
			t.Errorf("%s in argocd-cm.yaml differs from health.lua", key)
		}
	}
}
