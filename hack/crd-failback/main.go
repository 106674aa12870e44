// Command crd-failback completes the schema of UserHoming's spec.failback in the generated CRD
// (make manifests runs it after controller-gen). The field takes a string (the mode) or an object
// ({mode, stableFor}), so it has no type; CEL cannot see a node without a type
// (k8s.io/apiserver/pkg/cel/common/schemas.go, SchemaDeclType returns nil for it), and
// controller-gen has no marker for anyOf. OpenAPI value validations need no type, so the API
// server refuses, naming spec.failback:
//   - a string other than Automatic or Manual (first anyOf branch),
//   - an object whose mode or stableFor is wrong (properties: they apply to objects only),
//   - a number, a list or a boolean (the second branch has bounds no scalar or list can meet;
//     string, number and list bounds do not apply to an object).
//
// Unknown keys of the object form cannot be refused (the node preserves unknown fields); the
// controller reports them (Stalled, reason InvalidSpec).
package main

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// durationPattern is spec.failover.delay's pattern: a Go duration without sign.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`

func failbackSchema() map[string]any {
	modes := []any{"Automatic", "Manual"}
	return map[string]any{
		"properties": map[string]any{
			"mode":      map[string]any{"type": "string", "enum": modes},
			"stableFor": map[string]any{"type": "string", "pattern": durationPattern, "maxLength": 64},
		},
		"anyOf": []any{
			map[string]any{"enum": modes},
			map[string]any{
				"minLength": 1, "maxLength": 0,
				"minimum": 1, "maximum": 0,
				"minItems": 1, "maxItems": 0,
				"not": map[string]any{"enum": []any{true, false}},
			},
		},
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crd-failback config/crd/bases/ocs.ocsha.io_userhomings.yaml")
		os.Exit(2)
	}
	if err := patch(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "crd-failback:", err)
		os.Exit(1)
	}
}

func patch(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	spec, _ := crd["spec"].(map[string]any)
	versions, _ := spec["versions"].([]any)
	if len(versions) == 0 {
		return fmt.Errorf("%s has no versions", path)
	}
	for _, v := range versions {
		node, err := failbackNode(v)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for k, val := range failbackSchema() {
			node[k] = val
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(data, []byte("---\n")) {
		out = append([]byte("---\n"), out...)
	}
	return os.WriteFile(path, out, 0o644)
}

// failbackNode digs schema.openAPIV3Schema.properties.spec.properties.failback out of a version.
func failbackNode(version any) (map[string]any, error) {
	node, ok := version.(map[string]any)
	for _, key := range []string{"schema", "openAPIV3Schema", "properties", "spec", "properties", "failback"} {
		if !ok {
			break
		}
		node, ok = node[key].(map[string]any)
	}
	if !ok {
		return nil, fmt.Errorf("no spec.failback in the schema")
	}
	return node, nil
}
