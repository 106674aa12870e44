package controllers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// logKeys is the one set of structured log keys of the manager. A kind is an UpperCamelCase key
// whose value is the object's namespace/name (klog.KObj); every other key is lowerCamelCase.
// loggercheck (make lint) keeps the key/value pairs balanced and the keys constant strings; this
// test keeps them to one vocabulary, so that a log query by key finds every line. Add a key here
// when no existing one fits.
var logKeys = map[string]bool{
	// Kinds.
	"OCSPool": true, "UserHoming": true, "ContactBackup": true, "Secret": true,
	// What a line is about.
	"server": true, "servers": true, "role": true, "user": true, "operation": true, "snapshot": true,
	"from": true, "to": true, "forced": true,
	// Numbers and sizes.
	"count": true, "moved": true, "contacts": true, "bytes": true, "configuration": true,
	// Timings of a backup run.
	"export": true, "write": true, "retention": true,
	// Why.
	"reason": true, "error": true,
}

// TestLogKeysAreOneSet reads every logr call of the manager (Info, Error, WithValues) and checks
// its keys against logKeys.
func TestLogKeysAreOneSet(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "main.go"))
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for _, key := range logCallKeys(call) {
				checked++
				s, ok := key.(*ast.BasicLit)
				v, err := strconv.Unquote(litValue(s, ok))
				if !ok || s.Kind != token.STRING || err != nil {
					t.Errorf("%s: a log key that is not a string literal", fset.Position(key.Pos()))
					continue
				}
				if !logKeys[v] {
					t.Errorf("%s: log key %q is not in logKeys", fset.Position(key.Pos()), v)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no log key found: the scan is broken")
	}
}

// logCallKeys returns the key expressions of a logr call, nil for any other call.
func logCallKeys(call *ast.CallExpr) []ast.Expr {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	var first int
	switch sel.Sel.Name {
	case "Info":
		first = 1 // msg, then key/values
	case "Error":
		first = 2 // err, msg, then key/values
	case "WithValues":
		first = 0
	default:
		return nil
	}
	if sel.Sel.Name != "WithValues" && (len(call.Args) < first || !isStringLit(call.Args[first-1])) {
		// Not a logr call: its message is not a literal (e.g. the Error method of an error).
		return nil
	}
	var keys []ast.Expr
	for i := first; i < len(call.Args); i += 2 {
		keys = append(keys, call.Args[i])
	}
	return keys
}

func isStringLit(e ast.Expr) bool {
	s, ok := e.(*ast.BasicLit)
	return ok && s.Kind == token.STRING
}

func litValue(s *ast.BasicLit, ok bool) string {
	if !ok {
		return ""
	}
	return s.Value
}
