package ps

import (
	"bytes"
	"context"
	"io"
	"strings"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
)

// callOperator runs `& <value> args`: the cmdlet the value names, else the native program the
// session finds for it. A native program's standard output becomes one string per line in the
// pipeline, its standard error goes straight to powershell.exe's, and its exit code lands in
// $LASTEXITCODE.
func (in *interp) callOperator(ctx context.Context, ce *CommandElem, input []any, hasInput bool) ([]any, error) {
	v, err := in.eval(ctx, ce.Call)
	if err != nil {
		return nil, err
	}
	name := ToString(v)
	if _, ok := in.s.Cmdlets[strings.ToLower(name)]; ok {
		return in.invoke(ctx, &CommandElem{Name: name, Args: ce.Args, Line: ce.Line}, input, hasInput)
	}
	var prog cmdexe.Program
	if in.s.Native != nil && name != "" {
		prog = in.s.Native(name)
	}
	if prog == nil {
		return nil, commandNotFound(name)
	}
	args, err := in.nativeArgs(ctx, ce.Args)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	stderr := in.stderr
	if stderr == nil {
		stderr = io.Discard
	}
	env := make(map[string]string, len(in.s.Env))
	for k, val := range in.s.Env {
		env[k] = val
	}
	code := prog(ctx, &cmdexe.Proc{Name: name, Args: args, RawArgs: joinNativeArgs(args),
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: stderr, FS: in.s.FS, Env: env, Dir: in.s.Dir,
		CodePage: cmdexe.CodePageUTF8})
	in.vars["lastexitcode"] = code
	text := strings.TrimSuffix(strings.ReplaceAll(out.String(), "\r\n", "\n"), "\n")
	if text == "" {
		return nil, ctx.Err()
	}
	var lines []any
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, l)
	}
	return lines, ctx.Err()
}

// nativeArgs turns a native command's arguments into strings as PowerShell passes them: a
// parameter-looking word stays "-Name" (or "-Name:value"), an array gives one argument per
// element.
func (in *interp) nativeArgs(ctx context.Context, cargs []CmdArg) ([]string, error) {
	var args []string
	for _, a := range cargs {
		var vals []string
		if a.Value != nil {
			v, err := in.eval(ctx, a.Value)
			if err != nil {
				return nil, err
			}
			for _, it := range enumerate(v) {
				vals = append(vals, ToString(it))
			}
		}
		switch {
		case a.Param != "" && a.Value != nil:
			args = append(args, "-"+a.Param+":"+strings.Join(vals, ","))
		case a.Param != "":
			args = append(args, "-"+a.Param)
		default:
			args = append(args, vals...)
		}
	}
	return args, nil
}

// joinNativeArgs builds the command line tail PowerShell passes to CreateProcess: an argument
// holding a blank is double-quoted whole.
func joinNativeArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
