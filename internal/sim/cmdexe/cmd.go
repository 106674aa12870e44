package cmdexe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// MaxLine is cmd.exe's limit on a command line, in UTF-16 code units.
const MaxLine = 8191

// Exit codes cmd.exe reports.
const (
	ExitNotRecognized = 9009
	ExitPathNotFound  = 3
)

// ErrNotFound is returned by Resolve for an executable that does not exist.
var ErrNotFound = errors.New("the system cannot find the file specified")

// Options describe the process cmd.exe runs as.
type Options struct {
	// Programs are the server's executables keyed by lower-case base name without ".exe".
	Programs map[string]Program
	// FS is the server's file system.
	FS *winfs.FS
	// Env is the environment; Run works on a copy.
	Env *Environment
	// Dir is the working directory (default C:\Users\Default).
	Dir string
	// CodePage is 65001 (UTF-8) or 437; anything else is treated as 65001.
	CodePage int
}

// Run emulates `cmd.exe /C line` and returns its exit code.
func Run(ctx context.Context, opts Options, line string, stdin io.Reader, stdout, stderr io.Writer) int {
	in := newTextReader(stdin, opts.CodePage)
	out := newTextWriter(stdout, opts.CodePage)
	errw := newTextWriter(stderr, opts.CodePage)
	defer flushText(out)
	defer flushText(errw)
	env := opts.Env
	if env == nil {
		env = NewEnvironment()
	}
	it := &interp{opts: opts, env: env.Clone(), stdin: in}
	if it.opts.Dir == "" {
		it.opts.Dir = `C:\Users\Default`
	}
	return it.runSlashC(ctx, line, out, errw)
}

// RunDirect runs line without cmd.exe (WINRS_SKIP_CMD_SHELL): no built-ins, operators or
// expansion; the first word is the executable.
func RunDirect(ctx context.Context, opts Options, line string, stdin io.Reader, stdout, stderr io.Writer) int {
	name, rest := splitProgram(line)
	prog := lookup(opts.Programs, name)
	if prog == nil {
		_, _ = io.WriteString(stderr, "The system cannot find the file specified.\r\n")
		return 2
	}
	in := newTextReader(stdin, opts.CodePage)
	out := newTextWriter(stdout, opts.CodePage)
	errw := newTextWriter(stderr, opts.CodePage)
	defer flushText(out)
	defer flushText(errw)
	env := opts.Env
	if env == nil {
		env = NewEnvironment()
	}
	return prog(ctx, &Proc{Name: name, Args: SplitArgs(rest), RawArgs: rest, Stdin: in, Stdout: out, Stderr: errw,
		FS: opts.FS, Env: env.Map(), Dir: opts.Dir, CodePage: opts.CodePage})
}

// Resolve checks that a line run without cmd.exe names an existing executable: CreateProcess on
// the Windows versions that honour WINRS_SKIP_CMD_SHELL wants a full path there.
func Resolve(opts Options, line string) error {
	name, _ := splitProgram(line)
	if !winfs.ValidPath(name) || lookup(opts.Programs, name) == nil {
		return ErrNotFound
	}
	return nil
}

type interp struct {
	opts  Options
	env   *Environment
	stdin io.Reader
	level int // ERRORLEVEL
}

// exitRequest ends the whole line (exit, exit /b).
type exitRequest struct{ code int }

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func (it *interp) runSlashC(ctx context.Context, line string, out, errw io.Writer) int {
	if utf16Len(line) > MaxLine {
		_, _ = io.WriteString(errw, "The command line is too long.\r\n")
		return 1
	}
	line = stripOuterQuotes(line, it.opts.Programs)
	line = it.env.expand(line)
	if utf16Len(line) > MaxLine {
		_, _ = io.WriteString(errw, "The command line is too long.\r\n")
		return 1
	}
	segs, err := parseLine(line)
	if err != nil {
		_, _ = io.WriteString(errw, err.Error()+"\r\n")
		return 255
	}
	ok := true
	for i := 0; i < len(segs); {
		// A pipeline is the run of segments joined by |.
		j := i
		for j < len(segs)-1 && segs[j].op == "|" {
			j++
		}
		run := i == 0
		if i > 0 {
			switch segs[i-1].op {
			case "&":
				run = true
			case "&&":
				run = ok
			case "||":
				run = !ok
			}
		}
		if run && ctx.Err() == nil {
			var ex *exitRequest
			ok, ex = it.pipeline(ctx, segs[i:j+1], out, errw)
			if ex != nil {
				return ex.code
			}
		}
		i = j + 1
	}
	if ctx.Err() != nil && it.level == 0 {
		return 0xC000013A
	}
	return it.level
}

// stripOuterQuotes applies cmd /C's quote rule: a line starting with a quote loses that quote and
// the last one, unless exactly two quotes surround the name of an existing executable that
// contains whitespace.
func stripOuterQuotes(line string, programs map[string]Program) string {
	if !strings.HasPrefix(line, `"`) {
		return line
	}
	if strings.Count(line, `"`) == 2 {
		end := strings.IndexByte(line[1:], '"') + 1
		inner := line[1:end]
		if strings.ContainsAny(inner, " \t") && !strings.ContainsAny(inner, "&<>()@^|") && lookup(programs, inner) != nil {
			return line
		}
	}
	last := strings.LastIndexByte(line, '"')
	if last == 0 {
		return line[1:]
	}
	return line[1:last] + line[last+1:]
}

func (it *interp) pipeline(ctx context.Context, segs []segment, out, errw io.Writer) (bool, *exitRequest) {
	if len(segs) == 1 {
		return it.simple(ctx, segs[0], it.stdin, out, errw)
	}
	// Run the stages one after another through buffers: emulated programs are not interactive.
	in := it.stdin
	var ok bool
	for k, s := range segs {
		var buf bytes.Buffer
		w := io.Writer(&buf)
		if k == len(segs)-1 {
			w = out
		}
		var ex *exitRequest
		ok, ex = it.simple(ctx, s, in, w, errw)
		if ex != nil {
			return ok, ex
		}
		in = &buf
	}
	return ok, nil
}

// sink is where a redirected stream goes.
type sink struct {
	w      io.Writer
	file   string
	append bool
	buf    *bytes.Buffer
}

func (it *interp) simple(ctx context.Context, s segment, in io.Reader, out, errw io.Writer) (bool, *exitRequest) {
	streams := [3]*sink{nil, {w: out}, {w: errw}}
	var files []*sink
	for _, r := range s.redirs {
		switch {
		case r.dup > 0:
			streams[r.fd] = streams[r.dup]
		case r.fd == 0:
			path := it.path(r.target)
			data, err := it.readFile(path)
			if err != nil {
				_, _ = io.WriteString(errw, "The system cannot find the file specified.\r\n")
				it.level = 1
				return false, nil
			}
			in = bytes.NewReader(data)
		default:
			if strings.EqualFold(r.target, "nul") {
				streams[r.fd] = &sink{w: io.Discard}
				continue
			}
			path := it.path(r.target)
			if !winfs.ValidPath(path) {
				_, _ = io.WriteString(errw, "The filename, directory name, or volume label syntax is incorrect.\r\n")
				it.level = 1
				return false, nil
			}
			b := &bytes.Buffer{}
			sk := &sink{file: path, append: r.append, buf: b, w: newTextWriter(b, it.opts.CodePage)}
			// Opening for writing truncates at once, before the command runs.
			if !r.append {
				_ = it.opts.FS.WriteFile(path, nil)
			}
			streams[r.fd] = sk
			files = append(files, sk)
		}
	}
	ok, ex := it.exec(ctx, s.text, in, streams[1].w, streams[2].w)
	for _, f := range files {
		flushText(f.w)
		if f.append {
			_ = it.opts.FS.AppendFile(f.file, f.buf.Bytes())
		} else {
			_ = it.opts.FS.WriteFile(f.file, f.buf.Bytes())
		}
	}
	return ok, ex
}

func (it *interp) readFile(path string) ([]byte, error) {
	if it.opts.FS == nil {
		return nil, ErrNotFound
	}
	return it.opts.FS.ReadFile(path)
}

// path makes p absolute against the working directory.
func (it *interp) path(p string) string {
	p = strings.Trim(p, `"`)
	switch {
	case winfs.ValidPath(p):
		return p
	case strings.HasPrefix(p, `\`):
		return it.opts.Dir[:2] + p
	default:
		return strings.TrimSuffix(it.opts.Dir, `\`) + `\` + p
	}
}

// splitProgram splits "name rest" where name may be quoted.
func splitProgram(text string) (name, rest string) {
	text = strings.TrimLeft(text, " \t")
	if strings.HasPrefix(text, `"`) {
		if end := strings.IndexByte(text[1:], '"'); end >= 0 {
			return text[1 : end+1], strings.TrimLeft(text[end+2:], " \t")
		}
		return text[1:], ""
	}
	i := strings.IndexAny(text, " \t")
	if i < 0 {
		return text, ""
	}
	return text[:i], strings.TrimLeft(text[i:], " \t")
}

// lookup finds the program a command names, as CreateProcess and cmd.exe's PATH search would:
// a name with a directory must match an installed path (a key holding a backslash) exactly,
// case-insensitively and with or without ".exe"; a bare name finds only the programs on PATH
// (keys without a directory). A name with a directory that no installed path matches falls
// back to a PATH program of that base name, which stands for a copy found anywhere.
func lookup(programs map[string]Program, name string) Program {
	name = strings.ReplaceAll(strings.ToLower(name), "/", `\`)
	base := name
	if i := strings.LastIndexByte(base, '\\'); i >= 0 {
		for _, p := range []string{name, name + ".exe"} {
			if prog := programs[p]; prog != nil {
				return prog
			}
		}
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ".exe")
	if base == "" || strings.ContainsRune(base, '\\') {
		return nil
	}
	return programs[base]
}

// Lookup is lookup for other emulated programs that start processes (PowerShell's & operator).
func Lookup(programs map[string]Program, name string) Program { return lookup(programs, name) }

func (it *interp) exec(ctx context.Context, text string, in io.Reader, out, errw io.Writer) (bool, *exitRequest) {
	text = strings.TrimLeft(text, " \t@")
	if strings.TrimSpace(text) == "" {
		return true, nil
	}
	if ok, handled, ex := it.builtin(ctx, text, in, out, errw); handled {
		return ok, ex
	}
	name, rest := splitProgram(text)
	prog := lookup(it.opts.Programs, name)
	if prog == nil {
		_, _ = io.WriteString(errw, "'"+name+"' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n")
		it.level = ExitNotRecognized
		return false, nil
	}
	code := prog(ctx, &Proc{Name: name, Args: SplitArgs(rest), RawArgs: rest, Stdin: in, Stdout: out, Stderr: errw,
		FS: it.opts.FS, Env: it.env.Map(), Dir: it.opts.Dir, CodePage: it.opts.CodePage})
	it.level = code
	return code == 0, nil
}

// builtin runs cmd's internal commands. Most of them leave ERRORLEVEL alone on success, so
// `prog & del file` still reports prog's exit code.
func (it *interp) builtin(ctx context.Context, text string, in io.Reader, out, errw io.Writer) (ok, handled bool, ex *exitRequest) {
	end := len(text)
	if i := strings.IndexAny(text, " \t/.:(;,=+"); i >= 0 {
		end = i
	}
	word, rest := strings.ToLower(text[:end]), text[end:]
	if word == "cmd" && strings.HasPrefix(strings.ToLower(rest), ".exe") {
		rest = rest[4:]
	}
	args := strings.TrimLeft(rest, " \t")
	switch word {
	case "echo":
		it.echo(rest, out)
		return true, true, nil
	case "rem":
		return true, true, nil
	case "ver":
		_, _ = io.WriteString(out, "\r\nMicrosoft Windows [Version 6.1.7601]\r\n")
		return true, true, nil
	case "cd", "chdir":
		if strings.TrimSpace(args) == "" {
			_, _ = io.WriteString(out, it.opts.Dir+"\r\n")
		}
		return true, true, nil
	case "set":
		return it.set(args, out, errw), true, nil
	case "type":
		return it.typeFiles(args, out, errw), true, nil
	case "del", "erase":
		it.del(args, errw)
		return true, true, nil
	case "exit":
		return true, true, it.exit(args)
	case "cmd":
		return it.nested(ctx, args, in, out, errw), true, nil
	}
	return false, false, nil
}

// echo prints what follows "echo" and its one separator character, trailing spaces included.
func (it *interp) echo(rest string, out io.Writer) {
	if rest == "" || strings.TrimSpace(rest) == "" && (rest[0] == ' ' || rest[0] == '\t') {
		_, _ = io.WriteString(out, "ECHO is on.\r\n")
		return
	}
	msg := rest[1:]
	if rest[0] == ' ' || rest[0] == '\t' {
		switch strings.ToLower(strings.TrimSpace(msg)) {
		case "on", "off":
			return
		}
	}
	_, _ = io.WriteString(out, msg+"\r\n")
}

func (it *interp) set(args string, out, errw io.Writer) bool {
	if strings.HasPrefix(args, "/") {
		_, _ = io.WriteString(errw, "The syntax of the command is incorrect.\r\n")
		it.level = 1
		return false
	}
	if strings.HasPrefix(args, `"`) {
		if last := strings.LastIndexByte(args, '"'); last > 0 {
			args = args[1:last]
		}
	}
	if i := strings.IndexByte(args, '='); i > 0 {
		it.env.Set(args[:i], args[i+1:])
		return true
	} else if i == 0 {
		_, _ = io.WriteString(errw, "The syntax of the command is incorrect.\r\n")
		it.level = 1
		return false
	}
	prefix := strings.ToLower(strings.TrimRight(args, " \t"))
	found := false
	for _, kv := range it.env.Sorted() {
		if strings.HasPrefix(strings.ToLower(kv), prefix) {
			_, _ = io.WriteString(out, kv+"\r\n")
			found = true
		}
	}
	if !found {
		_, _ = io.WriteString(errw, "Environment variable "+args+" not defined\r\n")
		it.level = 1
		return false
	}
	return true
}

func (it *interp) typeFiles(args string, out, errw io.Writer) bool {
	names := SplitArgs(args)
	if len(names) == 0 {
		_, _ = io.WriteString(errw, "The syntax of the command is incorrect.\r\n")
		it.level = 1
		return false
	}
	ok := true
	for _, n := range names {
		data, err := it.readFile(it.path(n))
		if err != nil {
			_, _ = io.WriteString(errw, "The system cannot find the file specified.\r\n")
			it.level = 1
			ok = false
			continue
		}
		_, _ = out.Write(decodeText(data))
	}
	return ok
}

// decodeText turns a UTF-16LE file (with BOM) into UTF-8, as type converts Unicode files for the
// console; other files pass unchanged.
func decodeText(data []byte) []byte {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xFE {
		return data
	}
	u := make([]uint16, 0, len(data)/2)
	for i := 2; i+1 < len(data); i += 2 {
		u = append(u, uint16(data[i])|uint16(data[i+1])<<8)
	}
	return []byte(string(utf16.Decode(u)))
}

// del removes files. A missing file is reported but, as on Windows, ERRORLEVEL stays unchanged.
func (it *interp) del(args string, errw io.Writer) {
	for _, n := range SplitArgs(args) {
		if strings.HasPrefix(n, "/") {
			continue
		}
		p := it.path(n)
		if it.opts.FS == nil || it.opts.FS.Remove(p) != nil {
			_, _ = io.WriteString(errw, "Could Not Find "+p+"\r\n")
		}
	}
}

func (it *interp) exit(args string) *exitRequest {
	f := strings.Fields(args)
	code := 0
	if len(f) > 0 && strings.EqualFold(f[0], "/b") {
		code = it.level
		f = f[1:]
	}
	if len(f) > 0 {
		if n, err := strconv.Atoi(f[0]); err == nil {
			code = n
		}
	}
	it.level = code
	return &exitRequest{code: code}
}

// nested runs `cmd [switches] /C line` in a child interpreter that inherits the environment.
func (it *interp) nested(ctx context.Context, args string, in io.Reader, out, errw io.Writer) bool {
	rest := args
	for {
		rest = strings.TrimLeft(rest, " \t")
		if len(rest) < 2 || rest[0] != '/' {
			return true // an interactive cmd with no input ends at once
		}
		sw := strings.ToLower(rest[1:2])
		if sw == "c" || sw == "k" {
			rest = strings.TrimLeft(rest[2:], " \t")
			break
		}
		if i := strings.IndexAny(rest, " \t"); i >= 0 {
			rest = rest[i:]
		} else {
			return true
		}
	}
	child := &interp{opts: it.opts, env: it.env.Clone(), stdin: in}
	code := child.runSlashC(ctx, rest, out, errw)
	it.level = code
	return code == 0
}
