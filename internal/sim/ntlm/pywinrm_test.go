package ntlm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pywinrmScript opens two shells through pywinrm's Protocol (two sealed messages on one security
// context when encryption is on) and prints the shell ids.
const pywinrmScript = `
import sys
from winrm.protocol import Protocol
p = Protocol(endpoint=sys.argv[1], transport='ntlm', username=sys.argv[2], password=sys.argv[3],
             message_encryption=sys.argv[4], server_cert_validation='ignore')
print(p.open_shell())
print(p.open_shell())
`

// TestPywinrmInterop runs Debian's python3-winrm (NTLM via requests_ntlm and ntlm-auth) against
// the Authenticator when it is installed; it is skipped elsewhere.
func TestPywinrmInterop(t *testing.T) {
	python := pythonWithWinRM()
	if python == "" {
		t.Skip("no python3 on PATH has pywinrm (Debian: python3-winrm)")
	}
	tests := map[string]struct {
		useTLS     bool
		encryption string
	}{
		"sealed over HTTP": {encryption: "always"},
		"plain over HTTPS": {useTLS: true, encryption: "never"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h := &soapHandler{}
			srv, w := start(t, testAuthenticator(), h, tt.useTLS)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, "-c", pywinrmScript, srv.URL+"/wsman",
				`OCSLAB\ocsadmin`, "Domain-Pass1", tt.encryption)
			cmd.Env = pythonEnv(t)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pywinrm: %v\n%s", err, out)
			}
			if got := strings.Count(string(out), "3F9A6C1E-84B2-4D7A-9E05-B1C47D2A8F63"); got != 2 {
				t.Fatalf("pywinrm printed %q", out)
			}
			if _, users, _ := h.calls(); len(users) != 2 || users[1] != `OCSLAB\ocsadmin` {
				t.Fatalf("handler saw %q", users)
			}
			if !tt.useTLS && strings.Contains(string(w.bytes()), "Envelope") {
				t.Error("plaintext SOAP on the wire")
			}
		})
	}
}

// opensslLegacy enables OpenSSL 3's legacy provider, where MD4 lives: without it ntlm-auth cannot
// compute NTOWF ("unsupported" from hashlib).
const opensslLegacy = `openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
`

// pythonEnv is the test's environment with MD4 enabled and without CA bundle overrides, which
// requests prefers to pywinrm's server_cert_validation='ignore'.
func pythonEnv(t *testing.T) []string {
	conf := filepath.Join(t.TempDir(), "openssl.cnf")
	if err := os.WriteFile(conf, []byte(opensslLegacy), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"OPENSSL_CONF=" + conf}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "OPENSSL_CONF" && k != "REQUESTS_CA_BUNDLE" && k != "CURL_CA_BUNDLE" {
			env = append(env, kv)
		}
	}
	return env
}

// pythonWithWinRM returns the first python3 on PATH that imports winrm: a version manager's
// python3 often shadows the system one that the Debian package installs into.
func pythonWithWinRM() string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "python3")
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		if exec.Command(p, "-c", "import winrm").Run() == nil {
			return p
		}
	}
	return ""
}
