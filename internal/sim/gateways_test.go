package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

func TestGatewaysAdminAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := Start(ctx, Config{Admin: "127.0.0.1:0", Gateways: 2, NewWorld: newStubWorld})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	call := func(method, path string) []gatewayJSON {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, e.AdminURL()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out []gatewayJSON
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return out
	}
	gws := call(http.MethodGet, "/gateways")
	if len(gws) != 2 || gws[1].Name != "gw2" || gws[1].State != "up" || gws[1].Transport != "TCP" || gws[1].Port == 0 {
		t.Fatalf("GET /gateways = %+v", gws)
	}
	if gws = call(http.MethodPost, "/gateways/gw2/stop"); gws[1].State != "silent" {
		t.Fatalf("after stop: %+v", gws)
	}
	if gws = call(http.MethodPost, "/gateways/gw2/crash"); gws[1].State != "down" {
		t.Fatalf("after crash: %+v", gws)
	}
	if gws = call(http.MethodPost, "/gateways/gw2/start"); gws[1].State != "up" {
		t.Fatalf("after start: %+v", gws)
	}
}
