package ps

import (
	"os"
	"regexp"
	"testing"
)

// TestDocumentedScriptsParse keeps docs/admin-scripts.md and the parser in step: every
// PowerShell block of the contract must parse.
func TestDocumentedScriptsParse(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/admin-scripts.md")
	if err != nil {
		t.Skipf("contract not found: %v", err)
	}
	blocks := regexp.MustCompile("(?s)```powershell\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 4 {
		t.Fatalf("found %d PowerShell blocks", len(blocks))
	}
	for _, b := range blocks {
		if _, err := Parse(b[1]); err != nil {
			t.Errorf("%v in\n%s", err, b[1])
		}
	}
}
