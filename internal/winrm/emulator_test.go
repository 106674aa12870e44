package winrm_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/contacts"
	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// protoWorld is a deployment with two programs, enough to test the transport against the
// emulator's WS-Management server: "stdinlen" prints how many stdin bytes it read, "exit3"
// writes to stderr and exits 3.
type protoWorld struct{ servers []sim.ServerSpec }

func (w *protoWorld) Programs(string) map[string]cmdexe.Program {
	return map[string]cmdexe.Program{
		"stdinlen": func(_ context.Context, p *cmdexe.Proc) int {
			n, _ := io.Copy(io.Discard, p.Stdin)
			fmt.Fprintf(p.Stdout, "%d\r\n", n)
			return 0
		},
		"echolines": func(_ context.Context, p *cmdexe.Proc) int {
			sc := bufio.NewScanner(p.Stdin)
			for sc.Scan() {
				fmt.Fprintf(p.Stdout, "%s\r\n", sc.Text())
			}
			return 0
		},
		"exit3": func(_ context.Context, p *cmdexe.Proc) int {
			fmt.Fprint(p.Stderr, "bad\r\n")
			return 3
		},
	}
}
func (w *protoWorld) SetState(string, string) error { return nil }
func (w *protoWorld) Servers() []sim.ServerView {
	var out []sim.ServerView
	for _, s := range w.servers {
		out = append(out, sim.ServerView{Name: s.Name, FQDN: s.FQDN, State: sim.StateUp})
	}
	return out
}
func (w *protoWorld) Users() []sim.UserView { return nil }
func (w *protoWorld) UserContacts(string) (contacts.Resource, bool) {
	return contacts.Resource{}, false
}
func (w *protoWorld) AddUser(string, string) error                { return errors.New("not supported") }
func (w *protoWorld) SetContacts(string, contacts.Resource) error { return errors.New("not supported") }

func startProto(t *testing.T, tls bool) *sim.Emulator {
	t.Helper()
	return startProtoWith(t, sim.Config{TLS: tls})
}

// startProtoWith starts a one-server emulator of protoWorld with cfg's TLS and authentication
// settings.
func startProtoWith(t *testing.T, cfg sim.Config) *sim.Emulator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg.Servers, cfg.Admin = []string{"ocs1"}, "127.0.0.1:0"
	cfg.NewWorld = func(wc sim.WorldConfig) (sim.World, error) { return &protoWorld{servers: wc.Servers}, nil }
	e, err := sim.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func poolFor(t *testing.T, e *sim.Emulator, password string) *winrm.Pool {
	t.Helper()
	p := winrm.NewPool(winrm.Options{Backoff: time.Millisecond})
	t.Cleanup(p.Close)
	if err := p.SetTargets([]winrm.Target{{Server: "ocs1", Endpoint: e.Endpoint("ocs1"), Username: sim.DefaultUsername, Password: password, CACert: e.CACertPEM(),
		AllowUnencryptedBasic: true}}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmulatorTransport(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			e := startProto(t, tls)
			p := poolFor(t, e, sim.DefaultPassword)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			payload := strings.Repeat("0123456789", 35_000) // 350 KB: several Sends
			res, err := p.Run(ctx, "ocs1", "stdinlen", []byte(payload))
			if err != nil || strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(len(payload)) || res.ExitCode != 0 {
				t.Fatalf("stdin: %q, %d, %v", res.Stdout, res.ExitCode, err)
			}
			res, err = p.Run(ctx, "ocs1", "exit3", nil)
			if err != nil || res.ExitCode != 3 || string(res.Stderr) != "bad\r\n" {
				t.Fatalf("exit3: %+v, %v", res, err)
			}
			res, err = p.Run(ctx, "ocs1", "nosuchprogram", nil)
			if err != nil || res.ExitCode != 9009 {
				t.Fatalf("unknown program: %+v, %v", res, err)
			}

			bad := poolFor(t, e, "wrong-"+sim.DefaultPassword)
			_, err = bad.Run(ctx, "ocs1", "exit3", nil)
			if !errors.Is(err, winrm.ErrUnauthorized) || strings.Contains(err.Error(), sim.DefaultPassword) {
				t.Fatalf("wrong password: %v", err)
			}

			resp, err := http.Post(e.AdminURL()+"/servers/ocs1/crash", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			_, err = p.Run(ctx, "ocs1", "exit3", nil)
			if !errors.Is(err, winrm.ErrUnreachable) {
				t.Fatalf("crashed server: %v", err)
			}
		})
	}
}
