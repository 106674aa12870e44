package ps

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// New-Object and the .NET Framework 2.0 stream classes of the subset: IO.MemoryStream,
// IO.Compression.GZipStream (Decompress) and IO.StreamReader, enough for the agent's compressed
// uploads (internal/ocs/inferred.go, "Compressed uploads").

// readRest is the internal method of a readable stream object that reads what is left of it; its
// name holds a byte no script can write, so scripts cannot call it.
const readRest = "\x00readrest"

func newObjectCmdlet() *Cmdlet {
	return &Cmdlet{Name: "New-Object", Params: []string{"TypeName", "ArgumentList"}, Run: newObject}
}

func newObject(_ context.Context, c *Call) ([]any, error) {
	tv, ok := c.Get("TypeName", 0)
	if !ok {
		return nil, NewError("InvalidArgument", "ParameterBindingException",
			"MissingMandatoryParameter,Microsoft.PowerShell.Commands.NewObjectCommand",
			"Cannot process command because of one or more missing mandatory parameters: TypeName.").Terminating()
	}
	var args []any
	switch av, _ := c.Get("ArgumentList", 1); v := av.(type) {
	case nil:
	case []any:
		args = v
	default:
		args = []any{v}
	}
	typ := ToString(tv)
	var (
		o   *Object
		err error
	)
	switch normType(typ) {
	case "io.memorystream":
		o, err = newMemoryStream(args)
	case "io.compression.gzipstream":
		o, err = newGZipStream(args)
	case "io.streamreader":
		o, err = newStreamReader(args)
	default:
		return nil, NewError("InvalidType", "PSArgumentException",
			"TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand",
			"Cannot find type [%s]: make sure the assembly containing this type is loaded.", typ).Terminating()
	}
	if err != nil {
		return nil, NewError("InvalidOperation", "MethodException",
			"ConstructorInvokedThrowException,Microsoft.PowerShell.Commands.NewObjectCommand",
			"%s", err.Error()).Terminating()
	}
	return []any{o}, nil
}

type methods = map[string]func(context.Context, []any) (any, error)

// newMemoryStream is a MemoryStream without arguments: Write at Position, Seek, ToArray.
func newMemoryStream(args []any) (*Object, error) {
	if len(args) != 0 {
		return nil, fmt.Errorf("Cannot find an overload for \"MemoryStream\" and the argument count: \"%d\".", len(args))
	}
	o := NewObject("System.IO.MemoryStream")
	o.Set("Position", 0)
	o.Set("Length", 0)
	o.ReadOnly = map[string]bool{"length": true}
	var buf []byte
	pos := func() (int, error) {
		p, ok := toInt(member(o, "Position"))
		if !ok || p < 0 {
			return 0, errors.New("Non-negative number required.")
		}
		return p, nil
	}
	set := func(p int) { o.Set("Position", p); o.Set("Length", len(buf)) }
	o.Methods = methods{
		"write": func(_ context.Context, a []any) (any, error) {
			if len(a) != 3 {
				return nil, fmt.Errorf("Cannot find an overload for \"Write\" and the argument count: \"%d\".", len(a))
			}
			data, err := toBytes(a[0])
			off, ok1 := toInt(a[1])
			n, ok2 := toInt(a[2])
			p, perr := pos()
			switch {
			case err != nil:
				return nil, err
			case !ok1 || !ok2 || off < 0 || n < 0 || off+n > len(data):
				return nil, errors.New("Offset and length were out of bounds for the array or count is greater than the number of elements from index to the end of the source collection.")
			case perr != nil:
				return nil, perr
			}
			if p > len(buf) {
				buf = append(buf, make([]byte, p-len(buf))...)
			}
			buf = append(buf[:p], append(data[off:off+n:off+n], buf[min(p+n, len(buf)):]...)...)
			set(p + n)
			return void, nil
		},
		"seek": func(_ context.Context, a []any) (any, error) {
			off, ok := toInt(argAt(a, 0))
			if len(a) != 2 || !ok {
				return nil, fmt.Errorf("Cannot find an overload for \"Seek\" and the argument count: \"%d\".", len(a))
			}
			base := 0
			switch origin := strings.ToLower(ToString(a[1])); origin {
			case "0", "begin":
			case "1", "current":
				base, _ = pos()
			case "2", "end":
				base = len(buf)
			default:
				return nil, fmt.Errorf("Cannot convert argument \"origin\", with value: \"%s\", for \"Seek\" to type \"System.IO.SeekOrigin\".", origin)
			}
			if base+off < 0 {
				return nil, errors.New("An attempt was made to move the position before the beginning of the stream.")
			}
			set(base + off)
			return base + off, nil
		},
		"toarray": func(context.Context, []any) (any, error) { return append([]byte(nil), buf...), nil },
		"close":   func(context.Context, []any) (any, error) { return void, nil },
		readRest: func(context.Context, []any) (any, error) {
			p, err := pos()
			if err != nil || p >= len(buf) {
				set(max(p, 0))
				return []byte{}, err
			}
			out := append([]byte(nil), buf[p:]...)
			set(len(buf))
			return out, nil
		},
	}
	return o, nil
}

// newGZipStream is a GZipStream(stream, CompressionMode.Decompress) over a readable stream.
func newGZipStream(args []any) (*Object, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("Cannot find an overload for \"GZipStream\" and the argument count: \"%d\".", len(args))
	}
	inner, ok := args[0].(*Object)
	if !ok || inner.Methods[readRest] == nil {
		return nil, errors.New("Exception calling \".ctor\" with \"2\" argument(s): \"Stream does not support reading.\"")
	}
	if !strings.EqualFold(ToString(args[1]), "Decompress") {
		// Compressing is not part of the subset: the agent only sends compressed data.
		return nil, fmt.Errorf("The emulator's GZipStream only decompresses (mode %q).", ToString(args[1]))
	}
	o := NewObject("System.IO.Compression.GZipStream")
	o.Methods = methods{
		"close": func(context.Context, []any) (any, error) { return void, nil },
		readRest: func(ctx context.Context, _ []any) (any, error) {
			raw, err := inner.Methods[readRest](ctx, nil)
			if err != nil {
				return nil, err
			}
			z, err := gzip.NewReader(bytes.NewReader(raw.([]byte)))
			if err != nil {
				return nil, errors.New("The magic number in GZip header is not correct. Make sure you are passing in a GZip stream.")
			}
			out, err := io.ReadAll(z)
			if err != nil {
				return nil, errors.New("Found invalid data while decoding.")
			}
			return out, nil
		},
	}
	return o, nil
}

// newStreamReader is a StreamReader(stream[, encoding]): a byte-order mark decides the text's
// encoding, else the encoding given, else UTF-8.
func newStreamReader(args []any) (*Object, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("Cannot find an overload for \"StreamReader\" and the argument count: \"%d\".", len(args))
	}
	inner, ok := args[0].(*Object)
	if !ok || inner.Methods[readRest] == nil {
		return nil, errors.New("Exception calling \".ctor\" with \"" + fmt.Sprint(len(args)) + "\" argument(s): \"Stream was not readable.\"")
	}
	unicode := false
	if enc, ok := argAt(args, 1).(*Object); ok {
		unicode = enc.TypeName == "System.Text.UnicodeEncoding"
	}
	o := NewObject("System.IO.StreamReader")
	o.Methods = methods{
		"close": func(context.Context, []any) (any, error) { return void, nil },
		"readtoend": func(ctx context.Context, a []any) (any, error) {
			if len(a) != 0 {
				return nil, fmt.Errorf("Cannot find an overload for \"ReadToEnd\" and the argument count: \"%d\".", len(a))
			}
			raw, err := inner.Methods[readRest](ctx, nil)
			if err != nil {
				return nil, err
			}
			return decodeStreamText(raw.([]byte), unicode), nil
		},
	}
	return o, nil
}

func decodeStreamText(data []byte, unicode bool) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return strings.ToValidUTF8(string(data[3:]), "\uFFFD")
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		data, unicode = data[2:], true
	}
	if !unicode {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	u := make([]uint16, len(data)/2)
	for i := range u {
		u[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}
