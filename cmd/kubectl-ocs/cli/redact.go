package cli

import (
	"encoding/json"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// redacted replaces every value that looks like a credential in a support bundle.
const redacted = "REDACTED"

// credentialWords mark a field name whose scalar value is a credential. A field whose value is an
// object (credentialsSecretRef: {name: …}) is walked instead: a Secret's name is no secret, and
// it is what support needs to see.
var credentialWords = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "accesskey",
	"access_key", "privatekey", "private_key", "credential", "authorization", "bearer",
}

// isCredentialKey says whether a field name looks like it holds a credential.
func isCredentialKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "ref") || strings.HasSuffix(k, "refs") {
		return false
	}
	for _, w := range credentialWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Patterns of credentials in free text (messages, log lines).
var (
	// key=value and "key":"value" after a credential word.
	credentialAssignment = regexp.MustCompile(`(?i)\b(password|passwd|pwd|passphrase|secret|token|api[_-]?key|access[_-]?key|secret[_-]?access[_-]?key)(\s*["']?\s*[:=]\s*["']?)([^\s"',;}&]+)`)
	// An Authorization header: everything up to the end of its value.
	authorizationHeader = regexp.MustCompile(`(?i)\b(authorization\s*["']?\s*[:=]\s*["']?)[^"'\n]*`)
	// A Basic or Bearer token: long base64 runs only, so that prose such as "Basic over http" stays.
	schemeToken = regexp.MustCompile(`(?i)\b(basic|bearer)\s+[A-Za-z0-9+/._-]{16,}={0,2}`)
	// user:password@ in a URL.
	urlUserInfo = regexp.MustCompile(`(://)[^/\s:@]+:[^/\s@]+@`)
)

// redactText removes what looks like a credential from free text.
func redactText(s string) string {
	s = authorizationHeader.ReplaceAllString(s, "${1}"+redacted)
	s = credentialAssignment.ReplaceAllString(s, "${1}${2}"+redacted)
	s = schemeToken.ReplaceAllStringFunc(s, func(m string) string {
		fields := strings.Fields(m)
		if !strings.ContainsAny(fields[len(fields)-1], "0123456789+/=") {
			return m
		}
		return fields[0] + " " + redacted
	})
	return urlUserInfo.ReplaceAllString(s, "${1}"+redacted+"@")
}

// lastApplied is the annotation kubectl apply stores the whole applied object in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// redactObject returns a copy of a raw object fit for a support bundle: managedFields dropped,
// credential-looking fields and text redacted, the last-applied copy redacted the same way.
func redactObject(obj map[string]any) map[string]any {
	applied, _, _ := nestedAnnotation(obj, lastApplied)
	out, _ := redactValue("", obj).(map[string]any)
	if md, ok := out["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok && applied != "" {
			ann[lastApplied] = redactEmbeddedJSON(applied)
		}
	}
	return out
}

// nestedAnnotation reads metadata.annotations[key] of a raw object.
func nestedAnnotation(obj map[string]any, key string) (string, bool, error) {
	return unstructured.NestedString(obj, "metadata", "annotations", key)
}

func redactValue(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = redactValue(k, val)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, val := range x {
			l[i] = redactValue(key, val)
		}
		return l
	case string:
		if isCredentialKey(key) {
			return redacted
		}
		return redactText(x)
	case nil, bool:
		return x
	default:
		if isCredentialKey(key) {
			return redacted
		}
		return x
	}
}

// redactEmbeddedJSON redacts an object stored as JSON text; text that does not parse is dropped
// rather than kept unread.
func redactEmbeddedJSON(s string) string {
	var obj map[string]any
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return redacted
	}
	b, err := json.Marshal(redactObject(obj))
	if err != nil {
		return redacted
	}
	return string(b)
}
