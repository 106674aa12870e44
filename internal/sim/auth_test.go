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

// TestAuthSchemes drives each of masterzen's authentication transports against an endpoint.
func TestAuthSchemes(t *testing.T) {
	e := startStub(t, nil)
	u, _ := url.Parse(e.Endpoint("ocs1"))
	port, _ := strconv.Atoi(u.Port())
	ntlmT := func() winrm.Transporter { return &winrm.ClientNTLM{} }
	sealed := func() winrm.Transporter {
		enc, err := winrm.NewEncryption("ntlm")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	tests := []struct {
		name, user, password string
		transport            func() winrm.Transporter
		ok                   bool
	}{
		{"basic", DefaultUsername, DefaultPassword, nil, true},
		{"basic wrong password", DefaultUsername, "nope", nil, false},
		{"ntlm", DefaultUsername, DefaultPassword, ntlmT, true},
		{"ntlm domain account", `CORP\` + DefaultUsername, DefaultPassword, ntlmT, true},
		{"ntlm wrong password", DefaultUsername, "nope", ntlmT, false},
		{"ntlm message encryption", DefaultUsername, DefaultPassword, sealed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := *winrm.DefaultParameters
			params.TransportDecorator = tt.transport
			c, err := winrm.NewClientWithParameters(winrm.NewEndpoint(u.Hostname(), port, false, false, nil, nil, nil, 30*time.Second),
				tt.user, tt.password, &params)
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
