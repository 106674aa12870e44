package ps

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// textReader is [Console]::In: standard input, read at most once.
type textReader struct {
	r    io.Reader
	buf  []byte
	read bool
}

func (t *textReader) fill() error {
	if t.read || t.r == nil {
		t.read = true
		return nil
	}
	t.read = true
	data, err := io.ReadAll(t.r)
	t.buf = data
	return err
}

func (t *textReader) readToEnd() (string, error) {
	if err := t.fill(); err != nil {
		return "", err
	}
	// .NET's console reader drops a UTF-8 byte-order mark.
	s := strings.TrimPrefix(string(t.buf), "\uFEFF")
	t.buf = nil
	return s, nil
}

func (t *textReader) readLine() (any, error) {
	if err := t.fill(); err != nil {
		return nil, err
	}
	if len(t.buf) == 0 {
		return nil, nil
	}
	line, rest, found := strings.Cut(string(t.buf), "\n")
	if found {
		t.buf = []byte(rest)
	} else {
		t.buf = nil
	}
	return strings.TrimSuffix(line, "\r"), nil
}

// normType maps a type literal to the short lower-case name used below.
func normType(name string) string {
	return strings.TrimPrefix(strings.ToLower(name), "system.")
}

func (in *interp) staticMember(typ, name string) (any, error) {
	t := normType(typ)
	if t == "console" && strings.EqualFold(name, "In") {
		return in.stdin, nil
	}
	if !knownType(t) {
		return cast(typ, nil)
	}
	switch t + "::" + strings.ToLower(name) {
	case "text.encoding::utf8":
		return textEncoding("UTF8"), nil
	case "text.encoding::unicode":
		return textEncoding("Unicode"), nil
	case "base64formattingoptions::insertlinebreaks":
		return "InsertLineBreaks", nil
	case "base64formattingoptions::none":
		return "None", nil
	case "io.compression.compressionmode::decompress":
		return "Decompress", nil
	case "io.compression.compressionmode::compress":
		return "Compress", nil
	}
	return nil, nil
}

func knownType(t string) bool {
	switch t {
	case "console", "convert", "io.file", "io.path", "environment", "text.encoding", "base64formattingoptions",
		"io.compression.compressionmode":
		return true
	}
	return false
}

func (in *interp) staticCall(typ, name string, args []any) (any, error) {
	t, m := normType(typ), strings.ToLower(name)
	if !knownType(t) {
		_, err := cast(typ, nil)
		return nil, err
	}
	res, err := in.dotnet(t, m, args)
	if errors.Is(err, errNoMethod) {
		return nil, runtimeError("MethodNotFound",
			"Method invocation failed because [%s] doesn't contain a method named '%s'.", typ, name)
	}
	if err != nil {
		return nil, methodError(name, len(args), err)
	}
	return res, nil
}

var errNoMethod = errors.New("no such method")

// dotnet implements the static .NET methods of the subset.
func (in *interp) dotnet(t, m string, args []any) (any, error) {
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	switch t + "::" + m {
	case "convert::tobase64string":
		b, err := toBytes(arg(0))
		if err != nil {
			return nil, err
		}
		if len(args) == 2 && strings.EqualFold(ToString(arg(1)), "InsertLineBreaks") {
			return base64Lines(b), nil
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case "convert::frombase64string":
		s := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, ToString(arg(0)))
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errors.New("Invalid character in a Base-64 string.")
		}
		return b, nil
	case "io.file::readallbytes":
		p, err := in.path(arg(0))
		if err != nil {
			return nil, err
		}
		// Shared, not copied: the interpreter never changes a byte array in place.
		data, err := in.s.FS.ReadFileShared(p)
		if err != nil {
			return nil, fmt.Errorf("Could not find file '%s'.", p)
		}
		return data, nil
	case "io.file::writeallbytes":
		p, err := in.path(arg(0))
		if err != nil {
			return nil, err
		}
		b, err := toBytes(arg(1))
		if err != nil {
			return nil, err
		}
		if err := in.s.FS.WriteFile(p, b); err != nil {
			return nil, fmt.Errorf("The given path's format is not supported.")
		}
		return void, nil
	case "io.file::readalltext":
		p, err := in.path(arg(0))
		if err != nil {
			return nil, err
		}
		data, err := in.s.FS.ReadFileShared(p)
		if err != nil {
			return nil, fmt.Errorf("Could not find file '%s'.", p)
		}
		// .NET detects a BOM and otherwise reads UTF-8.
		return decodeFileText(data), nil
	case "io.file::writealltext":
		p, err := in.path(arg(0))
		if err != nil {
			return nil, err
		}
		data := []byte(ToString(arg(1)))
		if enc, ok := arg(2).(*Object); ok && enc.TypeName == "System.Text.UnicodeEncoding" {
			b, _ := enc.Methods["getbytes"](context.Background(), []any{ToString(arg(1))})
			data = append([]byte{0xFF, 0xFE}, b.([]byte)...)
		}
		if err := in.s.FS.WriteFile(p, data); err != nil {
			return nil, fmt.Errorf("The given path's format is not supported.")
		}
		return void, nil
	case "io.file::exists":
		p := ToString(arg(0))
		return winfs.ValidPath(p) && in.s.FS.Exists(p), nil
	case "environment::expandenvironmentvariables":
		if len(args) != 1 {
			return nil, errNoMethod
		}
		return expandEnv(ToString(arg(0)), in.s.Env), nil
	case "io.path::combine":
		if len(args) == 0 {
			return nil, errNoMethod
		}
		out := ""
		for _, a := range args {
			s := ToString(a)
			if winfs.ValidPath(s) || out == "" {
				out = s
				continue
			}
			out = strings.TrimRight(out, `\`) + `\` + s
		}
		return out, nil
	}
	return nil, errNoMethod
}

func (in *interp) path(v any) (string, error) {
	p := ToString(v)
	if p == "" {
		return "", errors.New("Empty path name is not legal.")
	}
	if !winfs.ValidPath(p) {
		return "", errors.New("The given path's format is not supported.")
	}
	return p, nil
}

func toBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case nil:
		return nil, errors.New("Value cannot be null.\r\nParameter name: inArray")
	case []any:
		out := make([]byte, len(x))
		for i, e := range x {
			n, ok := toInt(e)
			if !ok || n < 0 || n > 255 {
				return nil, errors.New("Value was either too large or too small for an unsigned byte.")
			}
			out[i] = byte(n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("Cannot convert argument to \"System.Byte[]\".")
}

// callMethod invokes an instance method of the subset.
func callMethod(ctx context.Context, v any, name string, args []any) (any, error) {
	m := strings.ToLower(name)
	str := func(i int) string {
		if i < len(args) {
			return ToString(args[i])
		}
		return ""
	}
	switch x := v.(type) {
	case nil:
		return nil, runtimeError("InvokeMethodOnNull", "You cannot call a method on a null-valued expression.")
	case string:
		switch m {
		case "trim":
			if len(args) > 0 {
				return strings.Trim(x, str(0)), nil
			}
			return strings.TrimSpace(x), nil
		case "trimend":
			if len(args) > 0 {
				return strings.TrimRight(x, str(0)), nil
			}
			return strings.TrimRight(x, " \t\r\n"), nil
		case "trimstart":
			if len(args) > 0 {
				return strings.TrimLeft(x, str(0)), nil
			}
			return strings.TrimLeft(x, " \t\r\n"), nil
		case "tolower":
			return strings.ToLower(x), nil
		case "toupper":
			return strings.ToUpper(x), nil
		case "tostring":
			return x, nil
		case "split":
			// PowerShell passes a string argument as char[]: split on any of its characters.
			seps := str(0)
			if seps == "" {
				seps = " \t\r\n"
			}
			parts := splitAny(x, seps)
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		case "startswith":
			return strings.HasPrefix(x, str(0)), nil
		case "endswith":
			return strings.HasSuffix(x, str(0)), nil
		case "contains":
			return strings.Contains(x, str(0)), nil
		case "indexof":
			return strings.Index(x, str(0)), nil
		case "replace":
			return strings.ReplaceAll(x, str(0), str(1)), nil
		case "substring":
			return substring(x, args)
		}
	case *textReader:
		switch m {
		case "readtoend":
			return x.readToEnd()
		case "readline":
			return x.readLine()
		}
	case *Object:
		if fn, ok := x.Methods[m]; ok {
			res, err := fn(ctx, args)
			if err != nil {
				return nil, methodError(name, len(args), err)
			}
			return res, nil
		}
	case *ErrorRecord, *exception:
		if m == "tostring" {
			return ToString(v), nil
		}
	}
	return nil, runtimeError("MethodNotFound",
		"Method invocation failed because [%s] doesn't contain a method named '%s'.", typeName(v), name)
}

func splitAny(s, seps string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if strings.ContainsRune(seps, r) {
			out = append(out, s[start:i])
			start = i + len(string(r))
		}
	}
	return append(out, s[start:])
}

func substring(s string, args []any) (any, error) {
	r := []rune(s)
	start, ok := toInt(argAt(args, 0))
	if !ok || start < 0 || start > len(r) {
		return nil, methodError("Substring", len(args), errors.New("startIndex cannot be larger than length of string.\r\nParameter name: startIndex"))
	}
	if len(args) < 2 {
		return string(r[start:]), nil
	}
	n, ok := toInt(args[1])
	if !ok || n < 0 || start+n > len(r) {
		return nil, methodError("Substring", len(args), errors.New("Index and length must refer to a location within the string.\r\nParameter name: length"))
	}
	return string(r[start : start+n]), nil
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// Builtins returns the generic cmdlets of the subset.
func Builtins() Registry {
	r := Registry{}
	r.Add(&Cmdlet{Name: "Write-Output", Params: []string{"InputObject"}, Run: writeOutput})
	r.Add(&Cmdlet{Name: "Select-Object", Params: []string{"Property", "First", "ExpandProperty", "InputObject"}, Run: selectObject})
	r.Add(&Cmdlet{Name: "ConvertTo-Csv", Params: []string{"InputObject", "Delimiter"}, Switches: []string{"NoTypeInformation"}, Run: convertToCsv})
	r.Add(&Cmdlet{Name: "Join-Path", Params: []string{"Path", "ChildPath"}, Switches: []string{"Resolve"}, Run: joinPath})
	r.Add(&Cmdlet{Name: "Remove-Item", Params: []string{"LiteralPath", "Path"}, Switches: []string{"Force", "Recurse"}, Run: removeItem})
	r.Add(&Cmdlet{Name: "Import-Module", Params: []string{"Name"}, Switches: []string{"Force", "Global"}, Run: importModule})
	r.Add(newObjectCmdlet())
	addConsoleCmdlets(r)
	return r
}

func writeOutput(_ context.Context, c *Call) ([]any, error) {
	if v, ok := c.Get("InputObject", -1); ok {
		return enumerate(v), nil
	}
	if len(c.Positional) > 0 {
		var out []any
		for _, p := range c.Positional {
			out = append(out, enumerate(p)...)
		}
		return out, nil
	}
	return c.Input, nil
}

func inputOf(c *Call) []any {
	if v, ok := c.Get("InputObject", -1); ok {
		return enumerate(v)
	}
	return c.Input
}

func selectObject(_ context.Context, c *Call) ([]any, error) {
	in := inputOf(c)
	if v, ok := c.Get("First", -1); ok {
		n, _ := toInt(v)
		if n < len(in) {
			in = in[:max(n, 0)]
		}
	}
	if v, ok := c.Get("ExpandProperty", -1); ok {
		name := ToString(v)
		var out []any
		for _, it := range in {
			if o, ok := it.(*Object); ok {
				if _, has := o.Get(name); !has {
					return out, NewError("InvalidArgument", "PSArgumentException",
						"ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
						"Property \"%s\" cannot be found.", name)
				}
			}
			out = append(out, enumerate(member(it, name))...)
		}
		return out, nil
	}
	pv, ok := c.Get("Property", 0)
	if !ok {
		return in, nil
	}
	var props []string
	for _, p := range enumerate(pv) {
		props = append(props, ToString(p))
	}
	out := make([]any, 0, len(in))
	for _, it := range in {
		o := NewObject("Selected." + typeName(it))
		for _, p := range props {
			o.Set(p, member(it, p))
		}
		out = append(out, o)
	}
	return out, nil
}

func convertToCsv(_ context.Context, c *Call) ([]any, error) {
	in := inputOf(c)
	delim := ","
	if d := c.String("Delimiter", -1); d != "" {
		delim = d
	}
	var out []any
	var header []string
	for _, it := range in {
		if it == nil {
			continue
		}
		if header == nil {
			if !c.Switch("NoTypeInformation") {
				out = append(out, "#TYPE "+typeName(it))
			}
			header = propertyNames(it)
			out = append(out, csvRow(header, delim, func(n string) any { return n }))
		}
		out = append(out, csvRow(header, delim, func(n string) any { return member(it, n) }))
	}
	return out, nil
}

func propertyNames(v any) []string {
	if o, ok := v.(*Object); ok {
		return o.Names()
	}
	if _, ok := v.(string); ok {
		return []string{"Length"}
	}
	return nil
}

// csvRow quotes every field, doubling quotes; a null field stays empty and unquoted.
func csvRow(names []string, delim string, val func(string) any) string {
	fields := make([]string, len(names))
	for i, n := range names {
		v := val(n)
		if v == nil {
			continue
		}
		fields[i] = `"` + strings.ReplaceAll(ToString(v), `"`, `""`) + `"`
	}
	return strings.Join(fields, delim)
}

func joinPath(_ context.Context, c *Call) ([]any, error) {
	child := strings.TrimLeft(c.String("ChildPath", 1), `\/`)
	pv, _ := c.Get("Path", 0)
	var out []any
	for _, p := range enumerate(pv) {
		out = append(out, strings.TrimRight(ToString(p), `\/`)+`\`+child)
	}
	return out, nil
}

func removeItem(_ context.Context, c *Call) ([]any, error) {
	pv, ok := c.Get("LiteralPath", -1)
	if !ok {
		pv, _ = c.Get("Path", 0)
	}
	for _, p := range enumerate(pv) {
		path := ToString(p)
		if err := c.Session.FS.Remove(path); err != nil {
			rec := NewError("ObjectNotFound", "ItemNotFoundException",
				"PathNotFound,Microsoft.PowerShell.Commands.RemoveItemCommand",
				"Cannot find path '%s' because it does not exist.", path)
			rec.Target = path + ":String"
			if !errors.Is(err, fs.ErrNotExist) {
				rec.Message = err.Error()
			}
			return nil, rec
		}
	}
	return nil, nil
}

// Modules the emulated servers accept; their cmdlets are always loaded.
var knownModules = map[string]bool{"lync": true, "skypeforbusiness": true}

func importModule(_ context.Context, c *Call) ([]any, error) {
	names := c.Positional
	if v, ok := c.Named["name"]; ok {
		names = enumerate(v)
	}
	for _, n := range names {
		if !knownModules[strings.ToLower(ToString(n))] {
			return nil, moduleNotFound(ToString(n))
		}
	}
	return nil, nil
}

// ModuleNotFound is Import-Module's error for a module that is not installed.
func ModuleNotFound(name string) *ErrorRecord { return moduleNotFound(name) }

func moduleNotFound(name string) *ErrorRecord {
	rec := NewError("ResourceUnavailable", "FileNotFoundException",
		"Modules_ModuleNotFound,Microsoft.PowerShell.Commands.ImportModuleCommand",
		"The specified module '%s' was not loaded because no valid module file was found in any module directory.", name)
	rec.Target = name + ":String"
	return rec
}

// expandEnv replaces each %NAME% naming a variable of env (keys in upper case) with its value and
// leaves the rest as written, as Environment.ExpandEnvironmentVariables does.
func expandEnv(s string, env map[string]string) string {
	var sb strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			sb.WriteString(s)
			return sb.String()
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			sb.WriteString(s)
			return sb.String()
		}
		name := s[i+1 : i+1+j]
		if v, ok := env[strings.ToUpper(name)]; ok && name != "" {
			sb.WriteString(s[:i] + v)
			s = s[i+j+2:]
			continue
		}
		// Not a variable: keep the first % and look again from the second.
		sb.WriteString(s[:i+1+j])
		s = s[i+1+j:]
	}
}

// base64Lines is Convert.ToBase64String with Base64FormattingOptions.InsertLineBreaks: CRLF
// after every 76 characters, none at the end. It encodes 57 bytes (76 characters) at a time into
// a string grown once to its final length: an export is tens of megabytes of base64.
func base64Lines(data []byte) string {
	const lineChars, lineBytes = 76, 57
	n := base64.StdEncoding.EncodedLen(len(data))
	if n > lineChars {
		n += 2 * ((n - 1) / lineChars)
	}
	var sb strings.Builder
	sb.Grow(n)
	var line [lineChars]byte
	for len(data) > 0 {
		k := min(len(data), lineBytes)
		if sb.Len() > 0 {
			sb.WriteString("\r\n")
		}
		base64.StdEncoding.Encode(line[:], data[:k])
		sb.Write(line[:base64.StdEncoding.EncodedLen(k)])
		data = data[k:]
	}
	return sb.String()
}

// textEncoding is [Text.Encoding]::UTF8 or ::Unicode (UTF-16LE): GetBytes without a preamble,
// GetString without dropping one, as .NET's do.
func textEncoding(name string) *Object {
	o := NewObject("System.Text." + name + "Encoding")
	o.Set("EncodingName", name)
	o.Text = "System.Text." + name + "Encoding"
	o.Methods = map[string]func(context.Context, []any) (any, error){
		"getbytes": func(_ context.Context, args []any) (any, error) {
			if len(args) != 1 {
				return nil, errors.New("GetBytes takes one argument.")
			}
			s := ToString(args[0])
			if name == "UTF8" {
				return []byte(s), nil
			}
			u := utf16.Encode([]rune(s))
			out := make([]byte, 2*len(u))
			for i, c := range u {
				out[2*i], out[2*i+1] = byte(c), byte(c>>8)
			}
			return out, nil
		},
		"getstring": func(_ context.Context, args []any) (any, error) {
			if len(args) != 1 {
				return nil, errors.New("GetString takes one argument.")
			}
			data, err := toBytes(args[0])
			if err != nil {
				return nil, err
			}
			if name == "UTF8" {
				return strings.ToValidUTF8(string(data), "\uFFFD"), nil
			}
			u := make([]uint16, len(data)/2)
			for i := range u {
				u[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
			}
			return string(utf16.Decode(u)), nil
		},
	}
	return o
}

// decodeFileText is File.ReadAllText's decoding: UTF-16LE after its BOM, else UTF-8 without a BOM.
func decodeFileText(data []byte) string {
	if len(data) >= 2 && data[0] == 0xFF && data[1] == 0xFE {
		u := make([]uint16, (len(data)-2)/2)
		for i := range u {
			u[i] = uint16(data[2+2*i]) | uint16(data[3+2*i])<<8
		}
		return string(utf16.Decode(u))
	}
	return strings.TrimPrefix(string(data), "\uFEFF")
}
