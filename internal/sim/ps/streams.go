package ps

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf16"
)

// New-Object and the .NET Framework 2.0 stream classes of the subset: IO.MemoryStream,
// IO.Compression.GZipStream and IO.StreamReader, enough for the agent's compressed uploads and
// answers (internal/ocs/inferred.go, "Compressed uploads", "Compressed answers").
//
// GZipStream compresses at gzip.BestSpeed: .NET Framework 2.0's GZipStream has no level setting
// and compresses quickly and weakly (its own deflate; from 4.5 on it uses zlib, "a better
// compression algorithm and, in most cases, a smaller compressed file than … earlier versions",
// learn.microsoft.com DeflateStream remarks), so the emulator's answers are no smaller than a
// real server's would be. The bytes differ from .NET's; any gzip reader reads both.
//
// Errors are worded as .NET words them: writing to a Decompress stream is an
// InvalidOperationException "Writing to the compression stream is not supported." (its resource
// string, quoted in SubtitleEdit/subtitleedit#5627 and in the 2009 question "Writing to the
// compression stream is not supported using System.IO.GZipStream", stackoverflow 1354639); a
// closed stream's "Cannot access a closed Stream." is ObjectDisposedException's
// (ObjectDisposed_StreamClosed) [inferred: quoted from memory of the reference source].

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
	closed := false
	pos := func() (int, error) {
		if closed {
			return 0, errStreamClosed
		}
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
				return nil, errBounds
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
			if closed {
				return nil, errStreamClosed
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
		// ToArray still answers once the stream is closed (MemoryStream.ToArray remarks).
		"toarray": func(context.Context, []any) (any, error) { return append([]byte(nil), buf...), nil },
		"close":   func(context.Context, []any) (any, error) { closed = true; return void, nil },
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

// errStreamClosed is the error of a closed stream's Write, Seek or Read.
var errStreamClosed = errors.New("Cannot access a closed Stream.")

// errBounds is the error of a Write whose offset and count leave the array.
var errBounds = errors.New("Offset and length were out of bounds for the array or count is greater than the number of elements from index to the end of the source collection.")

// newGZipStream is a GZipStream(stream, CompressionMode): Decompress over a readable stream,
// Compress over a writable one.
func newGZipStream(args []any) (*Object, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("Cannot find an overload for \"GZipStream\" and the argument count: \"%d\".", len(args))
	}
	inner, _ := args[0].(*Object)
	switch mode := ToString(args[1]); {
	case strings.EqualFold(mode, "Decompress"):
		return newGunzipStream(inner)
	case strings.EqualFold(mode, "Compress"):
		return newGzipStream(inner)
	default:
		// [inferred] PowerShell's wording of an argument it cannot convert to the enum.
		return nil, fmt.Errorf("Cannot convert argument \"1\", with value: \"%s\", for \"GZipStream\" to type \"System.IO.Compression.CompressionMode\".", mode)
	}
}

// newGunzipStream is a GZipStream in Decompress mode: ReadToEnd through a StreamReader.
func newGunzipStream(inner *Object) (*Object, error) {
	if inner == nil || inner.Methods[readRest] == nil {
		return nil, errors.New("Exception calling \".ctor\" with \"2\" argument(s): \"Stream does not support reading.\"")
	}
	o := NewObject("System.IO.Compression.GZipStream")
	o.Methods = methods{
		"write": func(context.Context, []any) (any, error) {
			return nil, errors.New("Writing to the compression stream is not supported.")
		},
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

// newGzipStream is a GZipStream in Compress mode: Write(bytes, offset, count) compresses into
// the inner stream (its Write, at its Position), and Close finishes the gzip stream and closes
// the inner one, as GZipStream(stream, mode) does (it does not leave the stream open).
func newGzipStream(inner *Object) (*Object, error) {
	if inner == nil || inner.Methods["write"] == nil {
		return nil, errors.New("Exception calling \".ctor\" with \"2\" argument(s): \"Stream does not support writing.\"")
	}
	to := &methodWriter{write: inner.Methods["write"]}
	z := gzipWriters.Get().(*gzip.Writer)
	z.Reset(to)
	closed := false
	o := NewObject("System.IO.Compression.GZipStream")
	o.Methods = methods{
		"write": func(ctx context.Context, a []any) (any, error) {
			if len(a) != 3 {
				return nil, fmt.Errorf("Cannot find an overload for \"Write\" and the argument count: \"%d\".", len(a))
			}
			data, err := toBytes(a[0])
			off, ok1 := toInt(a[1])
			n, ok2 := toInt(a[2])
			switch {
			case err != nil:
				return nil, err
			case !ok1 || !ok2 || off < 0 || n < 0 || off+n > len(data):
				return nil, errBounds
			case closed:
				return nil, errStreamClosed
			}
			to.ctx = ctx
			if _, err := z.Write(data[off : off+n]); err != nil {
				return nil, err
			}
			return void, nil
		},
		"close": func(ctx context.Context, _ []any) (any, error) {
			if closed {
				return void, nil
			}
			closed, to.ctx = true, ctx
			err := z.Close()
			gzipWriters.Put(z)
			if err != nil {
				return nil, err
			}
			if c := inner.Methods["close"]; c != nil {
				return c(ctx, nil)
			}
			return void, nil
		},
	}
	return o, nil
}

// gzipWriters keeps the emulator's compressors: each holds about a megabyte of state, and an
// import's read-back compresses one file per user.
var gzipWriters = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return z
}}

// methodWriter is an io.Writer over a stream object's Write method.
type methodWriter struct {
	ctx   context.Context
	write func(context.Context, []any) (any, error)
}

func (m *methodWriter) Write(p []byte) (int, error) {
	if _, err := m.write(m.ctx, []any{p, 0, len(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
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
