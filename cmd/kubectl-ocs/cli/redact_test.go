package cli

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestRedactText(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"key=value":               {"login password=hunter2 failed", "login password=REDACTED failed"},
		"JSON key and value":      {`{"msg":"x","token":"abc.def"}`, `{"msg":"x","token":"REDACTED"}`},
		"YAML-like":               {"secretAccessKey: AKIAXYZ", "secretAccessKey: REDACTED"},
		"an Authorization header": {"Authorization: Basic dXNlcjpwYXNz", "Authorization: REDACTED"},
		"a bare basic token":      {"sent Basic dXNlcjpodW50ZXIyMTIz to the server", "sent Basic REDACTED to the server"},
		"prose about Basic stays": {"winrm.auth Basic over plain http sends the password readable", "winrm.auth Basic over plain http sends the password readable"},
		"URL user info":           {"dial https://admin:hunter2@ocs1:5986/wsman", "dial https://REDACTED@ocs1:5986/wsman"},
		"a Secret's name stays":   {"Secret ocs-admin has no key password", "Secret ocs-admin has no key password"},
		"a reason stays":          {"CredentialsSecretMissing", "CredentialsSecretMissing"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(redactText(tc.in)).To(Equal(tc.want))
		})
	}
}

func TestRedactObject(t *testing.T) {
	g := NewWithT(t)
	obj := map[string]any{
		"metadata": map[string]any{
			"name":          "site-a",
			"managedFields": []any{map[string]any{"manager": "kubectl"}},
			"annotations": map[string]any{
				lastApplied: `{"spec":{"password":"hunter2","winrm":{"credentialsSecretRef":{"name":"ocs-admin"}}}}`,
				"note":      "token=abc123",
			},
		},
		"spec": map[string]any{
			"password": "hunter2",
			"apiToken": int64(12345),
			"winrm":    map[string]any{"credentialsSecretRef": map[string]any{"name": "ocs-admin"}, "insecureSkipVerify": true},
			"list":     []any{map[string]any{"secret": "x"}, "plain"},
		},
	}
	out := redactObject(obj)
	g.Expect(out).To(Equal(map[string]any{
		"metadata": map[string]any{
			"name": "site-a",
			"annotations": map[string]any{
				lastApplied: `{"spec":{"password":"REDACTED","winrm":{"credentialsSecretRef":{"name":"ocs-admin"}}}}`,
				"note":      "token=REDACTED",
			},
		},
		"spec": map[string]any{
			"password": "REDACTED",
			"apiToken": "REDACTED",
			"winrm":    map[string]any{"credentialsSecretRef": map[string]any{"name": "ocs-admin"}, "insecureSkipVerify": true},
			"list":     []any{map[string]any{"secret": "REDACTED"}, "plain"},
		},
	}))
	// The input is left as it was.
	g.Expect(obj["spec"].(map[string]any)["password"]).To(Equal("hunter2"))
	g.Expect(redactEmbeddedJSON("not json")).To(Equal(redacted))
}

// FuzzRedactText: redaction never panics, is stable (redacting twice changes nothing), and a
// password given as password=<value> never survives it.
func FuzzRedactText(f *testing.F) {
	for _, s := range []string{
		"password=hunter2", `{"token":"a.b"}`, "Authorization: Bearer abcdefghijklmnop1", "https://u:p@h/x",
		"Basic dXNlcjpwYXNzd29yZDEyMw==", "", "secret: ", "pwd=\"x y\"",
	} {
		f.Add(s, "hunter2")
	}
	f.Fuzz(func(t *testing.T, text, value string) {
		once := redactText(text)
		if twice := redactText(once); twice != once {
			t.Fatalf("not stable: %q -> %q -> %q", text, once, twice)
		}
		if value == "" || strings.ContainsAny(value, " \t\r\n\"',;}&") {
			return
		}
		if out := redactText("login password=" + value + " failed"); strings.Contains(out, "="+value) {
			t.Fatalf("password %q survived: %q", value, out)
		}
	})
}
