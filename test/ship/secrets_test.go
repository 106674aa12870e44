package ship

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// passwordValue finds a password given as a YAML value (password: something).
var passwordValue = regexp.MustCompile(`(?m)^\s*-?\s*"?password"?\s*:\s*(\S.*)$`)

// allowedPasswordValue is what may stand where a password would: a SOPS ciphertext, an External
// Secrets reference, or the dev environment's placeholder substituted at run time.
var allowedPasswordValue = regexp.MustCompile(`^(ENC\[AES256_GCM,.*\]|\{remoteRef: .*\}|"@[A-Z_]+@")$`)

// TestNoPasswordInSamples: the samples, the README's examples and the chart never embed a
// password (the README's "Secrets under GitOps" explains how to provide one).
func TestNoPasswordInSamples(t *testing.T) {
	var files []string
	for _, pattern := range []string{"config/*/*.yaml", "config/*/*/*.yaml", "charts/ocs-ha-operator/*.yaml", "charts/ocs-ha-operator/templates/*", "README.md", "charts/ocs-ha-operator/README.md", "docs/*.md"} {
		m, err := filepath.Glob(repoPath(pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d files to check", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range passwordValue.FindAllStringSubmatch(string(data), -1) {
			v := strings.TrimSpace(m[1])
			if allowedPasswordValue.MatchString(v) || strings.HasPrefix(v, "#") {
				continue
			}
			rel, _ := filepath.Rel(repoRoot, f)
			t.Errorf("%s holds a password value %q", rel, v)
		}
	}
}

func TestPasswordPatterns(t *testing.T) {
	for text, leak := range map[string]bool{
		"stringData:\n  password: hunter2\n":                        true,
		"  password: \"Winter2026!\"\n":                             true,
		"  password: ENC[AES256_GCM,data:abc,type:str]\n":           false,
		"  password: \"@SIM_PASSWORD@\"\n":                          false,
		"- secretKey: password\n  remoteRef: {key: a, property: b}": false,
		"  username: admin\n":                                       false,
	} {
		found := false
		for _, m := range passwordValue.FindAllStringSubmatch(text, -1) {
			found = found || !allowedPasswordValue.MatchString(strings.TrimSpace(m[1]))
		}
		if found != leak {
			t.Errorf("%q: leak %v, want %v", text, found, leak)
		}
	}
}
