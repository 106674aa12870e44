package sim

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/masterzen/winrm"
)

// TestAuthSchemes drives each of masterzen's own authentication transports against endpoints
// configured as the ocs-sim flags allow: the lab default (Basic and NTLM, unencrypted bodies
// allowed), Windows' default (unencrypted bodies refused over HTTP), one scheme only, another
// NetBIOS domain.
func TestAuthSchemes(t *testing.T) {
	ntlmT := func(*testing.T) winrm.Transporter { return &winrm.ClientNTLM{} }
	sealed := func(t *testing.T) winrm.Transporter {
		enc, err := winrm.NewEncryption("ntlm")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	windowsDefault := func(c *Config) { c.RequireEncryption = true }
	windowsDefaultTLS := func(c *Config) { c.RequireEncryption, c.TLS = true, true }
	ntlmOnly := func(c *Config) { c.Auth = []string{"ntlm"} }
	otherDomain := func(c *Config) { c.NetBIOSDomain = "LAB" }
	tests := []struct {
		name, user, password string
		cfg                  func(*Config)
		transport            func(*testing.T) winrm.Transporter
		ok                   bool
	}{
		{"basic", DefaultUsername, DefaultPassword, nil, nil, true},
		{"basic wrong password", DefaultUsername, "nope", nil, nil, false},
		{"basic refuses a domain account", `CORP\` + DefaultUsername, DefaultPassword, nil, nil, false},
		{"ntlm", DefaultUsername, DefaultPassword, nil, ntlmT, true},
		{"ntlm domain account", `CORP\` + DefaultUsername, DefaultPassword, nil, ntlmT, true},
		{"ntlm UPN", DefaultUsername + "@corp.example.com", DefaultPassword, nil, ntlmT, true},
		{"ntlm wrong password", DefaultUsername, "nope", nil, ntlmT, false},
		{"ntlm message encryption", DefaultUsername, DefaultPassword, nil, sealed, true},

		{"unencrypted refused: basic over HTTP", DefaultUsername, DefaultPassword, windowsDefault, nil, false},
		{"unencrypted refused: unsealed ntlm over HTTP", `CORP\` + DefaultUsername, DefaultPassword, windowsDefault, ntlmT, false},
		{"unencrypted refused: sealed ntlm over HTTP", `CORP\` + DefaultUsername, DefaultPassword, windowsDefault, sealed, true},
		{"unencrypted refused: sealed ntlm wrong password", `CORP\` + DefaultUsername, "nope", windowsDefault, sealed, false},
		{"unencrypted refused: ntlm over HTTPS", `CORP\` + DefaultUsername, DefaultPassword, windowsDefaultTLS, ntlmT, true},
		{"unencrypted refused: basic over HTTPS", DefaultUsername, DefaultPassword, windowsDefaultTLS, nil, true},

		{"ntlm only: basic refused", DefaultUsername, DefaultPassword, ntlmOnly, nil, false},
		{"ntlm only: ntlm", `CORP\` + DefaultUsername, DefaultPassword, ntlmOnly, ntlmT, true},
		{"other domain: its account", `LAB\` + DefaultUsername, DefaultPassword, otherDomain, ntlmT, true},
		// go-ntlmssp (under masterzen's ClientNTLM) drops the domain the user wrote and sends the
		// server's instead, so even a wrong domain logs on; the operator's transport sends it as written.
		{"other domain: go-ntlmssp sends the server's", `CORP\` + DefaultUsername, DefaultPassword, otherDomain, ntlmT, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startStub(t, tt.cfg)
			u, _ := url.Parse(e.Endpoint("ocs1"))
			port, _ := strconv.Atoi(u.Port())
			params := *winrm.DefaultParameters
			if tt.transport != nil {
				params.TransportDecorator = func() winrm.Transporter { return tt.transport(t) }
			}
			ep := winrm.NewEndpoint(u.Hostname(), port, u.Scheme == "https", false, e.CACertPEM(), nil, nil, 30*time.Second)
			c, err := winrm.NewClientWithParameters(ep, tt.user, tt.password, &params)
			if err != nil {
				t.Fatal(err)
			}
			out, errs, code, err := c.RunCmdWithContext(context.Background(), "echo auth")
			if tt.ok && (err != nil || code != 0 || out != "auth\r\n") {
				t.Errorf("got %q %q %d %v", out, errs, code, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "401")) {
				t.Errorf("err = %v, want a 401", err)
			}
		})
	}
}

func TestStartRejectsAnUnknownAuthScheme(t *testing.T) {
	_, err := Start(context.Background(), Config{Admin: "127.0.0.1:0", Auth: []string{"kerberos"}, NewWorld: newStubWorld})
	if err == nil {
		t.Fatal("Start accepted auth scheme kerberos")
	}
}

// TestParallelBasicThroughAuthenticator runs 20 commands at once through the authenticating
// front of an endpoint.
func TestParallelBasicThroughAuthenticator(t *testing.T) {
	e := startStub(t, nil)
	c := client(t, e, "ocs2", nil)
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			out, _, code, err := c.RunCmdWithContext(context.Background(), "echo "+strconv.Itoa(i))
			if err == nil && (code != 0 || out != strconv.Itoa(i)+"\r\n") {
				err = fmt.Errorf("command %d: %q %d", i, out, code)
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
