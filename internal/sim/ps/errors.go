package ps

import (
	"fmt"
	"strings"
)

// Severity says how far an error unwinds, following PowerShell's three kinds of errors.
type Severity int

const (
	// NonTerminating errors are written and the pipeline goes on (unless
	// $ErrorActionPreference is 'Stop').
	NonTerminating Severity = iota
	// StatementTerminating errors end the statement; try/catch catches them.
	StatementTerminating
	// ScriptTerminating errors (throw) end the script unless caught.
	ScriptTerminating
)

// ErrorRecord is a PowerShell error record: what catch sees as $_ and what CLIXML renders.
type ErrorRecord struct {
	// Message is $_.Exception.Message.
	Message string
	// Command prefixes the first console line ("Get-WmiObject : …"); empty for throw.
	Command string
	// Category, Target and Reason make "Category: (Target) [Command], Reason".
	Category, Target, Reason string
	// FQID is the FullyQualifiedErrorId.
	FQID     string
	Severity Severity
}

func (e *ErrorRecord) Error() string { return e.Message }

// NewError returns a non-terminating cmdlet error; the interpreter fills in the command name.
func NewError(category, reason, fqid, format string, args ...any) *ErrorRecord {
	return &ErrorRecord{Message: fmt.Sprintf(format, args...), Category: category, Reason: reason, FQID: fqid}
}

// Terminating marks a cmdlet error as statement-terminating (ThrowTerminatingError).
func (e *ErrorRecord) Terminating() *ErrorRecord {
	e.Severity = StatementTerminating
	return e
}

// exception is $_.Exception.
type exception struct{ Message string }

func commandNotFound(name string) *ErrorRecord {
	return &ErrorRecord{
		Message: fmt.Sprintf("The term '%s' is not recognized as the name of a cmdlet, function, script file, "+
			"or operable program. Check the spelling of the name, or if a path was included, verify that the "+
			"path is correct and try again.", name),
		Category: "ObjectNotFound", Target: name + ":String", Reason: "CommandNotFoundException",
		FQID: "CommandNotFoundException", Severity: StatementTerminating,
	}
}

func thrown(msg string) *ErrorRecord {
	return &ErrorRecord{Message: msg, Category: "OperationStopped", Target: msg + ":String",
		Reason: "RuntimeException", FQID: msg, Severity: ScriptTerminating}
}

func runtimeError(fqid, format string, args ...any) *ErrorRecord {
	return &ErrorRecord{Message: fmt.Sprintf(format, args...), Category: "InvalidOperation",
		Reason: "RuntimeException", FQID: fqid, Severity: StatementTerminating}
}

// methodError wraps a .NET exception the way PowerShell reports a failed method call.
func methodError(method string, nargs int, err error) *ErrorRecord {
	return &ErrorRecord{
		Message:  fmt.Sprintf("Exception calling %q with %q argument(s): %q", method, fmt.Sprint(nargs), err.Error()),
		Category: "NotSpecified", Reason: "MethodInvocationException", FQID: "DotNetMethodException",
		Severity: StatementTerminating,
	}
}

// ParseError is a syntax error; it renders like PowerShell's ParserError records.
type ParseError struct {
	Msg  string
	ID   string
	Line int
	Col  int
	// Incomplete is set when the error is at the end of the input: more lines could complete it.
	Incomplete bool
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d char %d: %s", e.Line, e.Col, e.Msg) }

func (e *ParseError) record() *ErrorRecord {
	return &ErrorRecord{Message: e.Msg, Category: "ParserError", Reason: "ParentContainsErrorRecordException",
		FQID: e.ID, Severity: ScriptTerminating}
}

// consoleLines are the lines PowerShell prints for an error record. The "At line:" position
// lines of real PowerShell are left out: nothing parses them.
func (e *ErrorRecord) consoleLines() []string {
	first := e.Message
	if e.Command != "" {
		first = e.Command + " : " + e.Message
	}
	target := e.Target
	if target == "" {
		target = ":" // an error record without a target object prints "(:)"
	}
	return []string{
		first,
		fmt.Sprintf("    + CategoryInfo          : %s: (%s) [%s], %s", e.Category, target, e.Command, e.Reason),
		"    + FullyQualifiedErrorId : " + e.FQID,
	}
}

// consoleWidth is where powershell.exe wraps lines of redirected error output.
const consoleWidth = 78

// wrapLine splits a console line: the first piece keeps consoleWidth characters, each
// continuation starts with three spaces; every piece but the last gets a trailing space.
func wrapLine(s string) []string {
	r := []rune(s)
	if len(r) <= consoleWidth {
		return []string{s}
	}
	out := []string{string(r[:consoleWidth]) + " "}
	r = r[consoleWidth:]
	for len(r) > 0 {
		n := min(len(r), consoleWidth-3)
		piece := "   " + string(r[:n])
		r = r[n:]
		if len(r) > 0 {
			piece += " "
		}
		out = append(out, piece)
	}
	return out
}

// CLIXML renders error records as powershell.exe writes them to a redirected stderr.
func CLIXML(records []*ErrorRecord) string {
	var b strings.Builder
	b.WriteString("#< CLIXML\r\n")
	b.WriteString(`<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">`)
	for _, rec := range records {
		for _, line := range rec.consoleLines() {
			for _, piece := range wrapLine(line) {
				b.WriteString(`<S S="Error">` + clixmlEscape(piece) + "_x000D__x000A_</S>")
			}
		}
		b.WriteString(`<S S="Error"> _x000D__x000A_</S>`)
	}
	b.WriteString("</Objs>")
	return b.String()
}

// clixmlEscape escapes XML specials and encodes control characters (and an underscore that
// would read as an escape) in the _xHHHH_ form CLIXML uses.
func clixmlEscape(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == '&':
			b.WriteString("&amp;")
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c == '_' && strings.HasPrefix(s[i:], "_x"):
			b.WriteString("_x005F_")
		case c < 0x20 || c == 0x7f || c == 0xFFFE || c == 0xFFFF:
			fmt.Fprintf(&b, "_x%04X_", c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
