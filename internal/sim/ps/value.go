package ps

import (
	"context"
	"strconv"
	"strings"
)

// Values flowing through the interpreter are plain Go values: nil, string, int, bool, []byte,
// []any (a PowerShell array), *Object (a WMI object or a PSCustomObject), *ScriptBlock,
// *ErrorRecord and the few .NET helper objects of builtins.go.

// Object is a property bag: a WMI instance (with methods such as Put) or a PSCustomObject.
type Object struct {
	// TypeName is the WMI class name, or "System.Management.Automation.PSCustomObject".
	TypeName string
	names    []string
	vals     map[string]any
	// Methods are invoked by name (lower-case keys) with the evaluated arguments; ctx is the
	// running command's.
	Methods map[string]func(ctx context.Context, args []any) (any, error)
	// ReadOnly properties refuse assignment (lower-case keys).
	ReadOnly map[string]bool
	// Text, when set, is what ToString returns instead of the @{…} form (a PathInfo's path).
	Text string
	// Table, when set, lists the properties the console shows as a table when the object is
	// output (Get-Location's Path); otherwise the object prints as its string.
	Table []string
}

// CustomTypeName is the type name of Select-Object results.
const CustomTypeName = "System.Management.Automation.PSCustomObject"

// NewObject returns an empty object of the given type.
func NewObject(typeName string) *Object {
	return &Object{TypeName: typeName, vals: map[string]any{}}
}

// Set sets a property, adding it at the end of the property order when new.
func (o *Object) Set(name string, v any) {
	k := strings.ToLower(name)
	if _, ok := o.vals[k]; !ok {
		o.names = append(o.names, name)
	}
	o.vals[k] = v
}

// Get returns a property by case-insensitive name.
func (o *Object) Get(name string) (any, bool) {
	v, ok := o.vals[strings.ToLower(name)]
	return v, ok
}

// Names returns the property names in order.
func (o *Object) Names() []string { return append([]string(nil), o.names...) }

// String renders the object as PowerShell's ToString does: Text, else hashtable-like.
func (o *Object) String() string {
	if o.Text != "" {
		return o.Text
	}
	var b strings.Builder
	b.WriteString("@{")
	for i, n := range o.names {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(n + "=" + ToString(o.vals[strings.ToLower(n)]))
	}
	b.WriteString("}")
	return b.String()
}

// ScriptBlock is an unevaluated { … } block; cmdlets such as Get-CsUser read its text.
type ScriptBlock struct {
	Text string
	Body *Block
}

// voidValue is what a method without a return value yields; it is never written to output.
type voidValue struct{}

var void = voidValue{}

// ToString converts a value as PowerShell's string conversion does for the shapes used.
func ToString(v any) string {
	switch x := v.(type) {
	case nil, voidValue:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case []byte:
		parts := make([]string, len(x))
		for i, c := range x {
			parts[i] = strconv.Itoa(int(c))
		}
		return strings.Join(parts, " ")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = ToString(e)
		}
		return strings.Join(parts, " ")
	case *Object:
		return x.String()
	case *ScriptBlock:
		return x.Text
	case *ErrorRecord:
		return x.Message
	case *exception:
		return x.Message
	default:
		return ""
	}
}

// toInt converts to an integer; ok is false when PowerShell would fail the conversion.
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case int:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// truthy is PowerShell's conversion to bool.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, voidValue:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int:
		return x != 0
	case []any:
		switch len(x) {
		case 0:
			return false
		case 1:
			return truthy(x[0])
		}
		return true
	case []byte:
		switch len(x) {
		case 0:
			return false
		case 1:
			return x[0] != 0
		}
		return true
	}
	return true
}

// enumerate lists what a pipeline or foreach sees of a value: arrays one level deep.
func enumerate(v any) []any {
	switch x := v.(type) {
	case voidValue:
		return nil
	case []any:
		return x
	case []byte:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = int(c)
		}
		return out
	}
	return []any{v}
}

// collapse turns pipeline output into the value an assignment stores.
func collapse(items []any) any {
	switch len(items) {
	case 0:
		return nil
	case 1:
		return items[0]
	}
	return items
}

// equal is -eq for scalars: the right side converts to the left side's type; strings ignore case.
func equal(l, r any) bool {
	switch x := l.(type) {
	case nil:
		return r == nil
	case string:
		if r == nil {
			return false
		}
		return strings.EqualFold(x, ToString(r))
	case int:
		n, ok := toInt(r)
		return ok && r != nil && n == x
	case bool:
		return x == truthy(r)
	case *Object:
		o, ok := r.(*Object)
		return ok && o == x
	}
	return false
}
