package harness

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// placeholder is the form of a template's placeholders: @NAME@.
var placeholder = regexp.MustCompile(`@[A-Z_0-9]+@`)

// Render fills the placeholders @KEY@ of the template file src with values and writes the result
// to dst; a placeholder left unfilled is an error.
func Render(src, dst string, values map[string]string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	text := string(data)
	for k, v := range values {
		text = strings.ReplaceAll(text, "@"+k+"@", v)
	}
	if left := placeholder.FindString(text); left != "" {
		return fmt.Errorf("unfilled placeholder %s in %s", left, src)
	}
	return os.WriteFile(dst, []byte(text), 0o600)
}

// Indent prefixes every line of s with prefix (a PEM block inside a YAML literal).
func Indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}
