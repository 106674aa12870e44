package ps

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// Session is what a script runs against: the server's file system, environment, working
// directory, standard input and cmdlets.
type Session struct {
	FS    *winfs.FS
	Env   map[string]string
	Stdin io.Reader
	// Dir is the working directory Get-Location reports (C:\ when empty).
	Dir     string
	Cmdlets Registry
	// Sleep waits d or until ctx ends (Start-Sleep); nil waits on a real timer. Tests set it so
	// that they decide when a sleep ends.
	Sleep SleepFunc
	// Native finds the program a native command names (the & operator), nil when none exists.
	Native func(name string) cmdexe.Program
	// NonInteractive is powershell.exe -NonInteractive: a cmdlet that would ask for
	// confirmation fails instead (Call.Confirmed).
	NonInteractive bool
	// Version is the PowerShell version emulated: "1.0" has no $PSVersionTable and no
	// try/catch; "" is 2.0.
	Version string
}

// SleepFunc waits d, or returns ctx's error when ctx ends first.
type SleepFunc func(ctx context.Context, d time.Duration) error

// sleepTimer is the default SleepFunc: a real timer.
func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Registry maps lower-case cmdlet names to cmdlets.
type Registry map[string]*Cmdlet

// Add registers c under its name.
func (r Registry) Add(c *Cmdlet) { r[strings.ToLower(c.Name)] = c }

// Cmdlet is a command the interpreter can run.
type Cmdlet struct {
	// Name is the canonical name, shown in error records.
	Name string
	// Params take a value; Switches do not. Both match by unambiguous prefix, case-insensitively.
	Params, Switches []string
	// Run gets the bound call and returns the objects it writes to the pipeline. A returned
	// *ErrorRecord is non-terminating unless marked Terminating.
	Run func(ctx context.Context, c *Call) ([]any, error)
}

// Call is one invocation of a cmdlet.
type Call struct {
	// Named holds bound parameters by their declared name, lower-cased.
	Named map[string]any
	// Positional holds the arguments not bound to a name, in order.
	Positional []any
	// Input is the pipeline input; HasInput reports whether the cmdlet is not first.
	Input    []any
	HasInput bool
	Session  *Session
	// Host is the console host's output (standard output), written directly by Write-Host.
	Host io.Writer
}

// Get returns a named parameter, falling back to the positional argument at pos (-1: none).
func (c *Call) Get(name string, pos int) (any, bool) {
	if v, ok := c.Named[strings.ToLower(name)]; ok {
		return v, true
	}
	if pos >= 0 && pos < len(c.Positional) {
		return c.Positional[pos], true
	}
	return nil, false
}

// String returns a parameter as a string ("" when absent).
func (c *Call) String(name string, pos int) string {
	v, _ := c.Get(name, pos)
	return ToString(v)
}

// Confirmed reports whether a cmdlet that asks before it acts (ConfirmImpact High) may go on:
// -Confirm:$false or -Force answers for the user; otherwise it would prompt, which a
// -NonInteractive session refuses with the host's error.
func (c *Call) Confirmed() error {
	if v, ok := c.Named["confirm"]; ok && !truthy(v) || c.Switch("Force") || c.Session == nil || !c.Session.NonInteractive {
		return nil
	}
	return (&ErrorRecord{Message: "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
		Category: "InvalidOperation", Reason: "PSInvalidOperationException", FQID: "HostException"}).Terminating()
}

// Switch reports whether a switch parameter is set (and not set to $false).
func (c *Call) Switch(name string) bool {
	v, ok := c.Named[strings.ToLower(name)]
	return ok && truthy(v)
}

// commonParams are accepted by every cmdlet.
var (
	commonParams   = []string{"ErrorAction", "ErrorVariable", "OutVariable", "WarningAction"}
	commonSwitches = []string{"Confirm", "WhatIf", "Verbose", "Debug"}
)

// resolve maps a typed parameter name to the declared one: an exact match, else the only
// declared name it is a prefix of.
func (c *Cmdlet) resolve(typed string) (name string, isSwitch bool, rec *ErrorRecord) {
	var matches []string
	switches := map[string]bool{}
	for _, group := range []struct {
		list []string
		sw   bool
	}{{c.Params, false}, {c.Switches, true}, {commonParams, false}, {commonSwitches, true}} {
		for _, n := range group.list {
			if strings.EqualFold(n, typed) {
				return n, group.sw, nil
			}
			if len(typed) < len(n) && strings.EqualFold(n[:len(typed)], typed) {
				matches = append(matches, n)
				switches[n] = group.sw
			}
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], switches[matches[0]], nil
	case 0:
		return "", false, &ErrorRecord{
			Message:  fmt.Sprintf("A parameter cannot be found that matches parameter name '%s'.", typed),
			Category: "InvalidArgument", Reason: "ParameterBindingException",
			FQID: "NamedParameterNotFound," + c.Name, Severity: StatementTerminating,
		}
	}
	return "", false, &ErrorRecord{
		Message: fmt.Sprintf("Parameter cannot be processed because the parameter name '%s' is ambiguous. "+
			"Possible matches include: -%s.", typed, strings.Join(matches, " -")),
		Category: "InvalidArgument", Reason: "ParameterBindingException",
		FQID: "AmbiguousParameter," + c.Name, Severity: StatementTerminating,
	}
}

var (
	errBreak    = errors.New("break")
	errContinue = errors.New("continue")
)

type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

type interp struct {
	s        *Session
	vars     map[string]any
	errs     []*ErrorRecord
	tryDepth int
	stdin    *textReader
	stdout   io.Writer
	// stderr receives native programs' standard error as they write it.
	stderr io.Writer
}

func newInterp(s *Session, stdout io.Writer) *interp {
	return &interp{s: s, vars: map[string]any{
		"erroractionpreference": "Continue",
		"progresspreference":    "Continue",
		"lastexitcode":          0,
	}, stdin: &textReader{r: s.Stdin}, stdout: stdout}
}

// Run parses and runs script, writing output to stdout and errors as CLIXML to stderr, and
// returns the exit code powershell.exe would.
func Run(ctx context.Context, s *Session, script string, stdout, stderr io.Writer) int {
	in := newInterp(s, stdout)
	in.stderr = stderr
	blk, err := Parse(script)
	ex, _ := in.runChunk(ctx, blk, err)
	return in.finish(ex, stderr)
}

// RunLines runs a script read from r as `powershell.exe -Command -` does: each line runs as
// soon as it has been read (a statement left open, such as an unclosed `{`, takes the next
// lines too), variables carry over from line to line, and an error in one line does not stop
// the next. It returns at EOF, at `exit` or when ctx ends; errors go to stderr as CLIXML at the
// end.
func RunLines(ctx context.Context, s *Session, r io.Reader, stdout, stderr io.Writer) int {
	in := newInterp(s, stdout)
	in.stderr = stderr
	br := bufio.NewReaderSize(r, 64*1024)
	var pending strings.Builder
	first := true
	// An open statement is reparsed with each line; past reparseFree bytes only once it has
	// doubled, so that a long open block costs linear, not quadratic, time.
	nextParse := 0
	for {
		line, err := br.ReadString('\n')
		if first {
			line = strings.TrimPrefix(line, "\uFEFF")
			first = false
		}
		pending.WriteString(line)
		atEOF := err != nil
		if atEOF && !errors.Is(err, io.EOF) {
			in.errs = append(in.errs, stoppedRecord())
			break
		}
		// Deferred parses wait only for input already at hand: a client that sent its last line
		// waits for the answer, not for more input.
		if !atEOF && pending.Len() < nextParse && br.Buffered() > 0 {
			continue
		}
		blk, perr := Parse(pending.String())
		if !atEOF && isIncomplete(perr) {
			if pending.Len() > reparseFree {
				nextParse = 2 * pending.Len()
			}
			continue
		}
		nextParse = 0
		pending.Reset()
		if ex, stop := in.runChunk(ctx, blk, perr); stop {
			return in.finish(ex, stderr)
		}
		if atEOF {
			break
		}
	}
	return in.finish(nil, stderr)
}

// reparseFree is how long an open statement read from stdin may grow while it is reparsed
// at every line.
const reparseFree = 4096

// isIncomplete reports a parse error only because the input ended (an open block or string).
func isIncomplete(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe) && pe.Incomplete
}

// runChunk runs one parsed script or stdin chunk (perr: its parse error). It records errors,
// returns the exit statement if one ran, and stop when nothing more is to run (exit, or ctx
// ended).
func (in *interp) runChunk(ctx context.Context, blk *Block, perr error) (ex *exitError, stop bool) {
	if err := perr; err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			in.errs = append(in.errs, pe.record())
		}
		return nil, false
	}
	out := func(v any) {
		for _, it := range enumerate(v) {
			writeLine(in.stdout, it)
		}
	}
	err := in.runBlock(ctx, blk, out)
	var rec *ErrorRecord
	switch {
	case err == nil, errors.Is(err, errBreak), errors.Is(err, errContinue):
	case errors.As(err, &ex):
		return ex, true
	case errors.As(err, &rec):
		in.errs = append(in.errs, rec)
	default:
		in.errs = append(in.errs, stoppedRecord())
		return nil, true
	}
	return nil, ctx.Err() != nil
}

func stoppedRecord() *ErrorRecord {
	return &ErrorRecord{Message: "The pipeline has been stopped.",
		Category: "OperationStopped", Reason: "PipelineStoppedException", FQID: "PipelineStopped"}
}

// finish writes the collected errors and returns the exit code: exit's, else 1 after an error.
func (in *interp) finish(ex *exitError, stderr io.Writer) int {
	code := 0
	if ex != nil {
		code = ex.code
	}
	if len(in.errs) > 0 {
		_, _ = io.WriteString(stderr, CLIXML(in.errs))
		if ex == nil {
			code = 1
		}
	}
	return code
}

// formatLine renders one output object as the console host does for the shapes used.
// writeLine writes the formatted line of one output object in one Write. A string, which may be
// a file's base64 of tens of megabytes, is copied once (not concatenated, then converted).
func writeLine(w io.Writer, v any) {
	if s, ok := v.(string); ok {
		_, _ = w.Write(append(append(make([]byte, 0, len(s)+2), s...), '\r', '\n'))
		return
	}
	_, _ = io.WriteString(w, formatLine(v))
}

func formatLine(v any) string {
	if v == nil {
		return ""
	}
	if o, ok := v.(*Object); ok && len(o.Table) > 0 {
		return formatTable(o)
	}
	return ToString(v) + "\r\n"
}

// formatTable renders one object as Format-Table does: a blank line, the header, dashes under
// each name, the row, two blank lines. Columns but the last are padded to their width.
func formatTable(o *Object) string {
	var head, rule, row []string
	for i, name := range o.Table {
		val := ToString(member(o, name))
		w := max(len([]rune(name)), len([]rune(val)))
		pad := func(s string) string {
			if i == len(o.Table)-1 {
				return s
			}
			return s + strings.Repeat(" ", w-len([]rune(s)))
		}
		head = append(head, pad(name))
		rule = append(rule, pad(strings.Repeat("-", len([]rune(name)))))
		row = append(row, pad(val))
	}
	return "\r\n" + strings.Join(head, " ") + "\r\n" + strings.Join(rule, " ") + "\r\n" + strings.Join(row, " ") + "\r\n\r\n\r\n"
}

func (in *interp) stop() bool {
	return strings.EqualFold(ToString(in.vars["erroractionpreference"]), "Stop")
}

func (in *interp) runBlock(ctx context.Context, b *Block, out func(any)) error {
	for _, st := range b.Stmts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := in.runStmt(ctx, st, out); err != nil {
			var rec *ErrorRecord
			if errors.As(err, &rec) && rec.Severity == StatementTerminating && in.tryDepth == 0 && !in.stop() {
				in.errs = append(in.errs, rec)
				continue
			}
			return err
		}
	}
	return nil
}

func (in *interp) runStmt(ctx context.Context, st Stmt, out func(any)) error {
	switch s := st.(type) {
	case *PipelineStmt:
		return in.runPipeline(ctx, s.Pipe, out)
	case *AssignStmt:
		v, err := in.pipelineValue(ctx, s.Value)
		if err != nil {
			return err
		}
		if v == void {
			v = nil
		}
		return in.assign(ctx, s.Target, v)
	case *IfStmt:
		for i, c := range s.Conds {
			v, err := in.pipelineValue(ctx, c)
			if err != nil {
				return err
			}
			if truthy(v) {
				return in.runBlock(ctx, s.Blocks[i], out)
			}
		}
		if s.Else != nil {
			return in.runBlock(ctx, s.Else, out)
		}
		return nil
	case *ForeachStmt:
		coll, err := in.pipelineValue(ctx, s.In)
		if err != nil {
			return err
		}
		if coll == nil {
			return nil
		}
		for _, it := range enumerate(coll) {
			in.vars[strings.ToLower(s.Var)] = it
			err := in.runBlock(ctx, s.Body, out)
			switch {
			case errors.Is(err, errBreak):
				return nil
			case errors.Is(err, errContinue):
			case err != nil:
				return err
			}
		}
		return nil
	case *TryStmt:
		if in.s.Version == "1.0" {
			// PowerShell 1.0 has no try statement: it reads `try` as a command name.
			return commandNotFound("try")
		}
		in.tryDepth++
		err := in.runBlock(ctx, s.Body, out)
		in.tryDepth--
		var rec *ErrorRecord
		if !errors.As(err, &rec) {
			return err
		}
		saved, had := in.vars["_"]
		in.vars["_"] = rec
		err = in.runBlock(ctx, s.Catch, out)
		if had {
			in.vars["_"] = saved
		} else {
			delete(in.vars, "_")
		}
		return err
	case *FlowStmt:
		if s.Break {
			return errBreak
		}
		return errContinue
	case *ThrowStmt:
		if s.Value == nil {
			return thrown("ScriptHalted")
		}
		v, err := in.pipelineValue(ctx, s.Value)
		if err != nil {
			return err
		}
		if rec, ok := v.(*ErrorRecord); ok {
			r := *rec
			r.Severity = ScriptTerminating
			return &r
		}
		return thrown(ToString(v))
	case *ExitStmt:
		if s.Code == nil {
			return &exitError{}
		}
		v, err := in.pipelineValue(ctx, s.Code)
		if err != nil {
			return err
		}
		n, _ := toInt(v)
		return &exitError{code: n}
	}
	return fmt.Errorf("unknown statement %T", st)
}

func (in *interp) assign(ctx context.Context, target Expr, v any) error {
	switch t := target.(type) {
	case *VarExpr:
		name := strings.ToLower(t.Name)
		if rest, ok := strings.CutPrefix(name, "env:"); ok {
			in.s.Env[strings.ToUpper(rest)] = ToString(v)
			return nil
		}
		in.vars[name] = v
		return nil
	case *MemberExpr:
		obj, err := in.eval(ctx, t.X)
		if err != nil {
			return err
		}
		o, ok := obj.(*Object)
		if !ok {
			return runtimeError("PropertyAssignmentException",
				"Property '%s' cannot be found on this object; make sure it exists and is settable.", t.Name)
		}
		if _, exists := o.Get(t.Name); !exists {
			return runtimeError("PropertyAssignmentException",
				"Property '%s' cannot be found on this object; make sure it exists and is settable.", t.Name)
		}
		if o.ReadOnly[strings.ToLower(t.Name)] {
			return runtimeError("PropertyAssignmentException", "'%s' is a ReadOnly property.", t.Name)
		}
		o.Set(t.Name, v)
		return nil
	}
	return runtimeError("InvalidLeftHandSide", "The assignment expression is not valid.")
}

// pipelineValue is the value of a pipeline used as an expression: an expression's value
// as is, a command's output collapsed.
func (in *interp) pipelineValue(ctx context.Context, pl *Pipeline) (any, error) {
	if len(pl.Elems) == 1 {
		if e, ok := pl.Elems[0].(*ExprElem); ok {
			return in.eval(ctx, e.X)
		}
	}
	var items []any
	err := in.runPipeline(ctx, pl, func(v any) { items = append(items, v) })
	return collapse(items), err
}

func (in *interp) runPipeline(ctx context.Context, pl *Pipeline, out func(any)) error {
	var items []any
	hasInput := false
	for _, el := range pl.Elems {
		switch e := el.(type) {
		case *ExprElem:
			v, err := in.eval(ctx, e.X)
			if err != nil {
				return err
			}
			items = enumerate(v)
		case *CommandElem:
			res, err := in.invoke(ctx, e, items, hasInput)
			if err != nil {
				return err
			}
			items = res
		}
		hasInput = true
	}
	for _, it := range items {
		out(it)
	}
	return nil
}

func (in *interp) invoke(ctx context.Context, ce *CommandElem, input []any, hasInput bool) ([]any, error) {
	if ce.Call != nil {
		return in.callOperator(ctx, ce, input, hasInput)
	}
	c, ok := in.s.Cmdlets[strings.ToLower(ce.Name)]
	if !ok {
		return nil, commandNotFound(ce.Name)
	}
	call := &Call{Named: map[string]any{}, Input: input, HasInput: hasInput, Session: in.s, Host: in.stdout}
	for i := 0; i < len(ce.Args); i++ {
		a := ce.Args[i]
		if a.Param == "" {
			v, err := in.eval(ctx, a.Value)
			if err != nil {
				return nil, err
			}
			call.Positional = append(call.Positional, v)
			continue
		}
		name, isSwitch, rec := c.resolve(a.Param)
		if rec != nil {
			rec.Command = c.Name
			return nil, rec
		}
		key := strings.ToLower(name)
		switch {
		case a.Value != nil:
			v, err := in.eval(ctx, a.Value)
			if err != nil {
				return nil, err
			}
			call.Named[key] = v
		case isSwitch:
			call.Named[key] = true
		case i+1 < len(ce.Args) && ce.Args[i+1].Param == "":
			i++
			v, err := in.eval(ctx, ce.Args[i].Value)
			if err != nil {
				return nil, err
			}
			call.Named[key] = v
		default:
			return nil, &ErrorRecord{
				Message: fmt.Sprintf("Missing an argument for parameter '%s'. Specify a parameter of type 'System.String' and try again.", name),
				Command: c.Name, Category: "InvalidArgument", Reason: "ParameterBindingException",
				FQID: "MissingArgument," + c.Name, Severity: StatementTerminating,
			}
		}
	}
	res, err := c.Run(ctx, call)
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var rec *ErrorRecord
	if !errors.As(err, &rec) {
		rec = &ErrorRecord{Message: err.Error(), Category: "NotSpecified", Reason: "Exception",
			FQID: "System.Exception," + c.Name}
	}
	r := *rec
	if r.Command == "" {
		r.Command = c.Name
	}
	stop := in.stop() || strings.EqualFold(ToString(call.Named["erroraction"]), "Stop")
	if r.Severity == NonTerminating {
		if !stop {
			in.errs = append(in.errs, &r)
			return res, nil
		}
		r.Severity = StatementTerminating
	}
	return nil, &r
}

func (in *interp) eval(ctx context.Context, x Expr) (any, error) {
	switch e := x.(type) {
	case *Literal:
		return e.V, nil
	case *ExpandString:
		var b strings.Builder
		for _, p := range e.Parts {
			v, err := in.eval(ctx, p)
			if err != nil {
				return nil, err
			}
			b.WriteString(ToString(v))
		}
		return b.String(), nil
	case *VarExpr:
		return in.variable(e.Name), nil
	case *ParenExpr:
		return in.pipelineValue(ctx, e.Pipe)
	case *ArrayExpr:
		items := []any{}
		err := in.runBlock(ctx, e.Body, func(v any) { items = append(items, v) })
		return items, err
	case *CommaExpr:
		items := make([]any, 0, len(e.Items))
		for _, it := range e.Items {
			v, err := in.eval(ctx, it)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	case *UnaryExpr:
		v, err := in.eval(ctx, e.X)
		if err != nil {
			return nil, err
		}
		return !truthy(v), nil
	case *BinaryExpr:
		return in.binary(ctx, e)
	case *CastExpr:
		v, err := in.eval(ctx, e.X)
		if err != nil {
			return nil, err
		}
		return cast(e.Type, v)
	case *TypeExpr:
		return nil, runtimeError("TypeLiteralNotSupported", "Type literals are not supported here: [%s].", e.Name)
	case *MemberExpr:
		if e.Static {
			return in.staticMember(typeOf(e.X), e.Name)
		}
		v, err := in.eval(ctx, e.X)
		if err != nil {
			return nil, err
		}
		return member(v, e.Name), nil
	case *InvokeExpr:
		args := make([]any, 0, len(e.Args))
		for _, a := range e.Args {
			v, err := in.eval(ctx, a)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		if e.Static {
			return in.staticCall(typeOf(e.X), e.Name, args)
		}
		v, err := in.eval(ctx, e.X)
		if err != nil {
			return nil, err
		}
		return callMethod(ctx, v, e.Name, args)
	case *IndexExpr:
		v, err := in.eval(ctx, e.X)
		if err != nil {
			return nil, err
		}
		iv, err := in.eval(ctx, e.Index)
		if err != nil {
			return nil, err
		}
		return index(v, iv), nil
	case *BlockExpr:
		return e.SB, nil
	}
	return nil, fmt.Errorf("unknown expression %T", x)
}

func typeOf(x Expr) string {
	if t, ok := x.(*TypeExpr); ok {
		return t.Name
	}
	return ""
}

func (in *interp) variable(name string) any {
	n := strings.ToLower(name)
	switch n {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "psitem":
		n = "_"
	case "psversiontable":
		if v, ok := in.vars[n]; ok {
			return v
		}
		return psVersionTable(in.s.Version)
	}
	if rest, ok := strings.CutPrefix(n, "env:"); ok {
		if v, ok := in.s.Env[strings.ToUpper(rest)]; ok {
			return v
		}
		return nil
	}
	return in.vars[n]
}

func (in *interp) binary(ctx context.Context, e *BinaryExpr) (any, error) {
	l, err := in.eval(ctx, e.L)
	if err != nil {
		return nil, err
	}
	if e.Op == "and" || e.Op == "or" {
		if truthy(l) == (e.Op == "or") {
			return e.Op == "or", nil
		}
		r, err := in.eval(ctx, e.R)
		if err != nil {
			return nil, err
		}
		return truthy(r), nil
	}
	r, err := in.eval(ctx, e.R)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "eq", "ne":
		want := e.Op == "eq"
		if arr, ok := l.([]any); ok {
			out := []any{}
			for _, it := range arr {
				if equal(it, r) == want {
					out = append(out, it)
				}
			}
			return out, nil
		}
		return equal(l, r) == want, nil
	case "replace":
		return replace(l, r)
	case "join":
		// PowerShell 2.0's binary -join: the elements as strings, separated by the right side.
		var parts []string
		if l != nil {
			for _, it := range enumerate(l) {
				parts = append(parts, ToString(it))
			}
		}
		return strings.Join(parts, ToString(r)), nil
	case "+":
		return add(l, r)
	}
	return nil, fmt.Errorf("unknown operator %s", e.Op)
}

var dotnetGroupRef = regexp.MustCompile(`\$(\d+)`)

func replace(l, r any) (any, error) {
	pat, rep := ToString(r), ""
	if arr, ok := r.([]any); ok {
		switch len(arr) {
		case 0:
		case 1:
			pat = ToString(arr[0])
		case 2:
			pat, rep = ToString(arr[0]), ToString(arr[1])
		default:
			return nil, runtimeError("BadReplaceArgument", "The -replace operator allows only two elements to follow it, not %d.", len(arr))
		}
	}
	re, err := regexp.Compile("(?i)" + pat)
	if err != nil {
		return nil, runtimeError("InvalidRegularExpression", "Invalid regular expression pattern: %s.", pat)
	}
	rep = dotnetGroupRef.ReplaceAllString(rep, "$${$1}")
	if arr, ok := l.([]any); ok {
		out := make([]any, len(arr))
		for i, it := range arr {
			out[i] = re.ReplaceAllString(ToString(it), rep)
		}
		return out, nil
	}
	return re.ReplaceAllString(ToString(l), rep), nil
}

// maxStringLen and maxArrayLen bound values built by +, so a script cannot exhaust memory.
const (
	maxStringLen = 1 << 25
	maxArrayLen  = 1 << 20
)

func add(l, r any) (any, error) {
	tooBig := runtimeError("OutOfMemory", "Array dimensions exceeded supported range.")
	switch x := l.(type) {
	case string:
		if len(x)+len(ToString(r)) > maxStringLen {
			return nil, tooBig
		}
	case []any:
		if ra, ok := r.([]any); ok && len(x)+len(ra) > maxArrayLen {
			return nil, tooBig
		}
	}
	switch x := l.(type) {
	case nil:
		return r, nil
	case string:
		return x + ToString(r), nil
	case int:
		n, ok := toInt(r)
		if !ok {
			return nil, runtimeError("InvalidCastFromStringToInteger",
				"Cannot convert value \"%s\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", ToString(r))
		}
		return x + n, nil
	case []any:
		out := append([]any(nil), x...)
		if ra, ok := r.([]any); ok {
			return append(out, ra...), nil
		}
		return append(out, r), nil
	}
	return nil, runtimeError("MethodNotFound",
		"Method invocation failed because [%s] doesn't contain a method named 'op_Addition'.", typeName(l))
}

func cast(typ string, v any) (any, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "system.")) {
	case "void":
		return void, nil
	case "string":
		return ToString(v), nil
	case "int", "int32":
		n, ok := toInt(v)
		if !ok {
			return nil, runtimeError("InvalidCastFromStringToInteger",
				"Cannot convert value \"%s\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"", ToString(v))
		}
		return n, nil
	case "bool", "boolean":
		return truthy(v), nil
	case "array", "object[]":
		if v == nil {
			return []any{}, nil
		}
		return enumerate(v), nil
	}
	return nil, &ErrorRecord{
		Message:  fmt.Sprintf("Unable to find type [%s]: make sure that the assembly containing this type is loaded.", typ),
		Category: "InvalidOperation", Target: typ + ":String", Reason: "RuntimeException",
		FQID: "TypeNotFound", Severity: StatementTerminating,
	}
}

func typeName(v any) string {
	switch x := v.(type) {
	case string:
		return "System.String"
	case int:
		return "System.Int32"
	case bool:
		return "System.Boolean"
	case []any:
		return "System.Object[]"
	case []byte:
		return "System.Byte[]"
	case *Object:
		return x.TypeName
	case *ErrorRecord:
		return "System.Management.Automation.ErrorRecord"
	}
	return "System.Object"
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func member(v any, name string) any {
	n := strings.ToLower(name)
	switch x := v.(type) {
	case string:
		if n == "length" {
			return utf16Len(x)
		}
	case []any:
		if n == "length" || n == "count" {
			return len(x)
		}
	case []byte:
		if n == "length" || n == "count" {
			return len(x)
		}
	case *Object:
		val, _ := x.Get(name)
		return val
	case *ErrorRecord:
		switch n {
		case "exception":
			return &exception{Message: x.Message}
		case "fullyqualifiederrorid":
			return x.FQID
		}
	case *exception:
		if n == "message" {
			return x.Message
		}
	case *ScriptBlock:
		return nil
	}
	return nil
}

func index(v, iv any) any {
	i, ok := toInt(iv)
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case []any:
		if i < 0 {
			i += len(x)
		}
		if i >= 0 && i < len(x) {
			return x[i]
		}
	case []byte:
		if i < 0 {
			i += len(x)
		}
		if i >= 0 && i < len(x) {
			return int(x[i])
		}
	case string:
		r := []rune(x)
		if i < 0 {
			i += len(r)
		}
		if i >= 0 && i < len(r) {
			return string(r[i])
		}
	}
	return nil
}
