package ps

import (
	"fmt"
	"strings"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 100

type parser struct {
	lx      lexer
	depth   int
	noComma int // >0 while parsing method arguments, where `,` separates arguments
}

type parseAbort struct{ err *ParseError }

// Parse parses a script of the supported subset.
func Parse(src string) (blk *Block, err error) {
	p := &parser{lx: lexer{src: strings.TrimPrefix(src, "\uFEFF")}}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(parseAbort)
			if !ok {
				panic(r)
			}
			blk, err = nil, a.err
		}
	}()
	blk = p.statements(0)
	return blk, nil
}

// fail aborts the parse; an error with only blanks after it is marked incomplete.
func (p *parser) fail(id, format string, args ...any) {
	p.raise(strings.TrimSpace(p.lx.src[min(p.lx.pos, len(p.lx.src)):]) == "", id, format, args...)
}

func (p *parser) raise(incomplete bool, id, format string, args ...any) {
	line, col := p.lx.lineCol(p.lx.pos)
	panic(parseAbort{&ParseError{Msg: fmt.Sprintf(format, args...), ID: id, Line: line, Col: col,
		Incomplete: incomplete}})
}

func (p *parser) unexpected() {
	if p.lx.eof() {
		p.fail("IncompleteParseException", "Unexpected end of input.")
	}
	rest := p.lx.src[p.lx.pos:]
	if i := strings.IndexAny(rest, " \t\r\n"); i > 0 {
		rest = rest[:i]
	}
	if len(rest) > 40 {
		rest = rest[:40]
	}
	p.fail("UnexpectedToken", "Unexpected token '%s' in expression or statement.", rest)
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail("NestingTooDeep", "The script is nested too deeply.")
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expect(c byte, id, msg string) {
	if p.lx.peekc() != c {
		p.fail(id, "%s", msg)
	}
	p.lx.pos++
}

// statements parses until end (`}`, `)`) or, with end 0, the end of input.
func (p *parser) statements(end byte) *Block {
	p.enter()
	defer p.leave()
	blk := &Block{}
	for {
		for {
			p.lx.skipSpaceNL()
			if p.lx.peekc() != ';' {
				break
			}
			p.lx.pos++
		}
		if p.lx.eof() {
			if end != 0 {
				p.fail("MissingEndCurlyBrace", "Missing closing '%c' in statement block.", end)
			}
			return blk
		}
		if c := p.lx.peekc(); c == end {
			return blk
		}
		blk.Stmts = append(blk.Stmts, p.statement())
		p.lx.skipSpace()
		switch c := p.lx.peekc(); {
		case c == '\n' || c == ';' || p.lx.eof() || (end != 0 && c == end):
		default:
			p.unexpected()
		}
	}
}

func (p *parser) atStatementEnd() bool {
	p.lx.skipSpace()
	c := p.lx.peekc()
	return p.lx.eof() || c == '\n' || c == ';' || c == '}' || c == ')'
}

func (p *parser) statement() Stmt {
	if isLetter(p.lx.peekc()) {
		save := p.lx.pos
		word := strings.ToLower(p.lx.ident())
		if c := p.lx.peekc(); c != 0 && !strings.ContainsRune(" \t\r\n({;}", rune(c)) {
			word = "" // a command name such as if-x, not a keyword
		}
		switch word {
		case "if":
			return p.ifStmt()
		case "foreach":
			return p.foreachStmt()
		case "try":
			return p.tryStmt()
		case "continue", "break":
			return &FlowStmt{Break: word == "break"}
		case "throw":
			if p.atStatementEnd() {
				return &ThrowStmt{}
			}
			return &ThrowStmt{Value: p.pipeline()}
		case "exit":
			if p.atStatementEnd() {
				return &ExitStmt{}
			}
			return &ExitStmt{Code: p.pipeline()}
		case "function", "filter", "while", "for", "do", "switch", "return", "param", "trap",
			"until", "catch", "finally", "else", "elseif", "data", "begin", "process", "end":
			p.lx.pos = save
			p.fail("ReservedKeywordNotAllowed", "The '%s' keyword is not supported.", word)
		}
		p.lx.pos = save
	}
	return p.pipelineStmt()
}

// pipelineStmt parses an assignment or a pipeline.
func (p *parser) pipelineStmt() Stmt {
	if p.lx.peekc() == '&' {
		return &PipelineStmt{Pipe: p.pipeline()}
	}
	if !isLetter(p.lx.peekc()) {
		p.enter()
		defer p.leave()
		x := p.expr()
		p.lx.skipSpace()
		if p.lx.peekc() == '=' {
			switch t := x.(type) {
			case *VarExpr:
				if isConstant(t.Name) {
					p.fail("VariableNotWritable", "Cannot overwrite variable %s because it is read-only or constant.", t.Name)
				}
			case *MemberExpr:
				if t.Static {
					p.fail("InvalidLeftHandSide", "The assignment expression is not valid.")
				}
			default:
				p.fail("InvalidLeftHandSide", "The assignment expression is not valid. The input to an assignment operator must be an object that is able to accept assignments, such as a variable or a property.")
			}
			p.lx.pos++
			p.lx.skipSpaceNL()
			return &AssignStmt{Target: x, Value: p.pipeline()}
		}
		// Not re-parsed: backtracking here would make nested blocks exponential.
		return &PipelineStmt{Pipe: p.pipelineFrom(&ExprElem{X: x})}
	}
	return &PipelineStmt{Pipe: p.pipeline()}
}

func isConstant(name string) bool {
	switch strings.ToLower(name) {
	case "true", "false", "null":
		return true
	}
	return false
}

func (p *parser) pipeline() *Pipeline {
	p.enter()
	defer p.leave()
	if isLetter(p.lx.peekc()) {
		return p.pipelineFrom(p.command())
	}
	if p.lx.peekc() == '&' {
		return p.pipelineFrom(p.callCommand())
	}
	return p.pipelineFrom(&ExprElem{X: p.expr()})
}

// pipelineFrom parses the `| command` elements after a first element.
func (p *parser) pipelineFrom(first PipeElem) *Pipeline {
	pl := &Pipeline{Elems: []PipeElem{first}}
	for {
		p.lx.skipSpace()
		if p.lx.peekc() != '|' {
			return pl
		}
		p.lx.pos++
		p.lx.skipSpaceNL()
		switch {
		case p.lx.peekc() == '&':
			pl.Elems = append(pl.Elems, p.callCommand())
		case isLetter(p.lx.peekc()):
			pl.Elems = append(pl.Elems, p.command())
		default:
			p.fail("ExpressionsMustBeFirstInPipeline", "Expressions are only allowed as the first element of a pipeline.")
		}
	}
}

func (p *parser) command() *CommandElem {
	line, _ := p.lx.lineCol(p.lx.pos)
	cmd := &CommandElem{Name: p.lx.bareword(), Line: line}
	p.commandArgs(cmd)
	return cmd
}

// callCommand parses `& <value> args…`: the call operator, which real R2 scripts use to run a
// tool by its quoted path (Get-OCSBackup.ps1: `& 'c:\…\lcscmd.exe' /config …`).
func (p *parser) callCommand() *CommandElem {
	line, _ := p.lx.lineCol(p.lx.pos)
	p.lx.pos++
	p.lx.skipSpace()
	if p.lx.peekc() == '&' || p.lx.eof() {
		p.fail("MissingExpression", "Missing expression after unary operator '&'.")
	}
	cmd := &CommandElem{Call: p.argValue(), Line: line}
	p.commandArgs(cmd)
	return cmd
}

// commandArgs parses a command's arguments up to the end of the pipeline element.
func (p *parser) commandArgs(cmd *CommandElem) {
	for {
		p.lx.skipSpace()
		c := p.lx.peekc()
		switch {
		case p.lx.eof() || strings.IndexByte("\n;|)}", c) >= 0:
			return
		case c == '-' && isLetter(p.lx.peekAt(1)):
			p.lx.pos++
			name := p.lx.ident()
			if p.lx.peekc() == ':' {
				p.lx.pos++
				cmd.Args = append(cmd.Args, CmdArg{Param: name, Value: p.argList()})
			} else {
				cmd.Args = append(cmd.Args, CmdArg{Param: name})
			}
		case c == '&':
			p.fail("AmpersandNotAllowed", "The ampersand (&) character is not allowed.")
		default:
			cmd.Args = append(cmd.Args, CmdArg{Value: p.argList()})
		}
	}
}

// argList parses one argument, or several joined by commas into an array.
func (p *parser) argList() Expr {
	first := p.argValue()
	p.lx.skipSpace()
	if p.lx.peekc() != ',' {
		return first
	}
	items := []Expr{first}
	for p.lx.peekc() == ',' {
		p.lx.pos++
		p.lx.skipSpaceNL()
		items = append(items, p.argValue())
		p.lx.skipSpace()
	}
	return &CommaExpr{Items: items}
}

func (p *parser) argValue() Expr {
	p.enter()
	defer p.leave()
	switch c := p.lx.peekc(); c {
	case '$', '\'', '"', '(', '@', '[':
		if c == '[' {
			if _, ok := (&lexer{src: p.lx.src, pos: p.lx.pos}).typeName(); !ok {
				break
			}
		}
		return p.postfix(p.primary())
	case '{':
		return p.primary()
	case 0, ',':
		p.unexpected()
	}
	w := p.lx.bareword()
	if w == "" {
		p.unexpected()
	}
	if n, ok := (&lexer{src: w}).number(); ok && isAllDigits(w) {
		return &Literal{V: n}
	}
	return &Literal{V: w}
}

func isAllDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func (p *parser) ifStmt() Stmt {
	st := &IfStmt{}
	cond := func() {
		p.lx.skipSpace()
		p.expect('(', "IfStatementMissingCondition", "Missing '(' after 'if' in if statement.")
		p.lx.skipSpaceNL()
		st.Conds = append(st.Conds, p.pipeline())
		p.lx.skipSpaceNL()
		p.expect(')', "MissingEndParenthesisAfterStatement", "Missing closing ')' after expression in 'if' statement.")
		st.Blocks = append(st.Blocks, p.braceBlock())
	}
	cond()
	for {
		save := p.lx.pos
		p.lx.skipSpaceNL()
		switch strings.ToLower(p.lx.ident()) {
		case "elseif":
			cond()
			continue
		case "else":
			st.Else = p.braceBlock()
			return st
		}
		p.lx.pos = save
		return st
	}
}

func (p *parser) braceBlock() *Block {
	p.lx.skipSpaceNL()
	p.expect('{', "MissingOpenBraceInStatement", "Missing statement block.")
	blk := p.statements('}')
	p.lx.pos++
	return blk
}

func (p *parser) foreachStmt() Stmt {
	p.lx.skipSpace()
	p.expect('(', "MissingOpenParenthesisAfterKeyword", "Missing opening '(' after keyword 'foreach'.")
	p.lx.skipSpaceNL()
	p.expect('$', "MissingVariableNameAfterForeach", "Missing variable name after foreach.")
	name := p.lx.variable()
	if name == "" {
		p.fail("MissingVariableNameAfterForeach", "Missing variable name after foreach.")
	}
	p.lx.skipSpaceNL()
	if !strings.EqualFold(p.lx.ident(), "in") {
		p.fail("MissingInInForeach", "Missing 'in' after variable in foreach loop.")
	}
	p.lx.skipSpaceNL()
	in := p.pipeline()
	p.lx.skipSpaceNL()
	p.expect(')', "MissingEndParenthesisAfterForeach", "Missing closing ')' after expression in 'foreach' statement.")
	return &ForeachStmt{Var: name, In: in, Body: p.braceBlock()}
}

func (p *parser) tryStmt() Stmt {
	body := p.braceBlock()
	p.lx.skipSpaceNL()
	if !strings.EqualFold(p.lx.ident(), "catch") {
		p.fail("MissingCatchOrFinally", "The Try statement is missing its Catch or Finally block.")
	}
	return &TryStmt{Body: body, Catch: p.braceBlock()}
}

// Expressions, lowest precedence first: -and/-or, comparison, +, comma, unary, postfix.

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	l := p.comparison()
	for {
		op, ok := p.dashOp("and", "or")
		if !ok {
			return l
		}
		p.lx.skipSpaceNL()
		l = &BinaryExpr{Op: op, L: l, R: p.comparison()}
	}
}

// dashOp consumes `-op` when it is one of ops (case-insensitive) and returns it lower-cased.
func (p *parser) dashOp(ops ...string) (string, bool) {
	save := p.lx.pos
	p.lx.skipSpace()
	if p.lx.peekc() != '-' || !isLetter(p.lx.peekAt(1)) {
		p.lx.pos = save
		return "", false
	}
	p.lx.pos++
	name := strings.ToLower(p.lx.ident())
	for _, op := range ops {
		if name == op {
			return op, true
		}
	}
	p.lx.pos = save
	return "", false
}

func (p *parser) comparison() Expr {
	l := p.additive()
	for {
		op, ok := p.dashOp("eq", "ne", "replace", "ieq", "ine", "ireplace", "join")
		if !ok {
			save := p.lx.pos
			p.lx.skipSpace()
			if p.lx.peekc() == '-' && isLetter(p.lx.peekAt(1)) {
				p.lx.pos++
				if n := strings.ToLower(p.lx.ident()); n != "and" && n != "or" {
					p.lx.pos = save + 1
					p.lx.skipSpace()
					p.fail("UnexpectedToken", "Unexpected token '-%s' in expression or statement.", n)
				}
			}
			p.lx.pos = save
			return l
		}
		p.lx.skipSpaceNL()
		l = &BinaryExpr{Op: strings.TrimPrefix(op, "i"), L: l, R: p.additive()}
	}
}

func (p *parser) additive() Expr {
	l := p.comma()
	for {
		save := p.lx.pos
		p.lx.skipSpace()
		if p.lx.peekc() != '+' || p.lx.peekAt(1) == '+' || p.lx.peekAt(1) == '=' {
			p.lx.pos = save
			return l
		}
		p.lx.pos++
		p.lx.skipSpaceNL()
		l = &BinaryExpr{Op: "+", L: l, R: p.comma()}
	}
}

func (p *parser) comma() Expr {
	first := p.unary()
	if p.noComma > 0 {
		return first
	}
	save := p.lx.pos
	p.lx.skipSpace()
	if p.lx.peekc() != ',' {
		p.lx.pos = save
		return first
	}
	items := []Expr{first}
	for p.lx.peekc() == ',' {
		p.lx.pos++
		p.lx.skipSpaceNL()
		items = append(items, p.unary())
		save = p.lx.pos
		p.lx.skipSpace()
	}
	p.lx.pos = save
	return &CommaExpr{Items: items}
}

func (p *parser) unary() Expr {
	p.enter()
	defer p.leave()
	p.lx.skipSpace()
	switch c := p.lx.peekc(); {
	case c == '!':
		p.lx.pos++
		p.lx.skipSpace()
		return &UnaryExpr{Op: "not", X: p.unary()}
	case c == '-' && isLetter(p.lx.peekAt(1)):
		if _, ok := p.dashOp("not"); ok {
			p.lx.skipSpaceNL()
			return &UnaryExpr{Op: "not", X: p.unary()}
		}
		p.unexpected()
	case c == ',':
		p.lx.pos++
		p.lx.skipSpaceNL()
		return &CommaExpr{Items: []Expr{p.unary()}}
	case c == '[':
		name, ok := p.lx.typeName()
		if !ok {
			p.unexpected()
		}
		if strings.HasPrefix(p.lx.src[p.lx.pos:], "::") {
			return p.postfix(&TypeExpr{Name: name})
		}
		p.lx.skipSpace()
		return &CastExpr{Type: name, X: p.unary()}
	}
	return p.postfix(p.primary())
}

func (p *parser) primary() Expr {
	p.lx.skipSpace()
	switch c := p.lx.peekc(); {
	case c == '$':
		p.lx.pos++
		name := p.lx.variable()
		if name == "" {
			p.fail("InvalidVariableReference", "Variable reference is not valid. '$' was not followed by a valid variable name character.")
		}
		return &VarExpr{Name: name}
	case c == '\'':
		s, ok := p.lx.singleQuoted()
		if !ok {
			p.fail("TerminatorExpectedAtEndOfString", "The string is missing the terminator: '.")
		}
		return &Literal{V: s}
	case c == '"':
		raw, ok := p.lx.doubleQuoted()
		if !ok {
			p.fail("TerminatorExpectedAtEndOfString", "The string is missing the terminator: \".")
		}
		return p.expandable(raw)
	case isDigit(c):
		n, ok := p.lx.number()
		if !ok || isIdent(p.lx.peekc()) {
			p.fail("BadNumericConstant", "Bad numeric constant.")
		}
		return &Literal{V: n}
	case c == '(':
		p.lx.pos++
		p.lx.skipSpaceNL()
		saved := p.noComma
		p.noComma = 0
		pl := p.pipeline()
		p.noComma = saved
		p.lx.skipSpaceNL()
		p.expect(')', "MissingEndParenthesisInExpression", "Missing closing ')' in expression.")
		return &ParenExpr{Pipe: pl}
	case c == '@' && p.lx.peekAt(1) == '(':
		p.lx.pos += 2
		saved := p.noComma
		p.noComma = 0
		blk := p.statements(')')
		p.noComma = saved
		p.lx.pos++
		return &ArrayExpr{Body: blk}
	case c == '{':
		p.lx.pos++
		start := p.lx.pos
		saved := p.noComma
		p.noComma = 0
		blk := p.statements('}')
		p.noComma = saved
		text := p.lx.src[start:p.lx.pos]
		p.lx.pos++
		return &BlockExpr{SB: &ScriptBlock{Text: text, Body: blk}}
	}
	p.unexpected()
	return nil
}

func (p *parser) postfix(x Expr) Expr {
	for {
		switch {
		case p.lx.peekc() == '.' && isLetter(p.lx.peekAt(1)):
			p.lx.pos++
			x = p.member(x, false)
		case strings.HasPrefix(p.lx.src[p.lx.pos:], "::") && isLetter(p.lx.peekAt(2)):
			p.lx.pos += 2
			x = p.member(x, true)
		case p.lx.peekc() == '[':
			p.lx.pos++
			p.lx.skipSpaceNL()
			idx := p.expr()
			p.lx.skipSpaceNL()
			p.expect(']', "MissingEndSquareBracket", "Array index expression is missing or not valid.")
			x = &IndexExpr{X: x, Index: idx}
		default:
			return x
		}
	}
}

func (p *parser) member(x Expr, static bool) Expr {
	name := p.lx.ident()
	if p.lx.peekc() != '(' {
		return &MemberExpr{X: x, Name: name, Static: static}
	}
	p.lx.pos++
	call := &InvokeExpr{X: x, Name: name, Static: static}
	p.lx.skipSpaceNL()
	if p.lx.peekc() == ')' {
		p.lx.pos++
		return call
	}
	for {
		p.noComma++
		call.Args = append(call.Args, p.expr())
		p.noComma--
		p.lx.skipSpaceNL()
		switch p.lx.peekc() {
		case ',':
			p.lx.pos++
			p.lx.skipSpaceNL()
		case ')':
			p.lx.pos++
			return call
		default:
			p.fail("MissingEndParenthesisInMethodCall", "Missing ')' in method call.")
		}
	}
}

// expandable splits the raw text of a double-quoted string into literal parts and variables.
func (p *parser) expandable(raw string) Expr {
	var parts []Expr
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			parts = append(parts, &Literal{V: b.String()})
			b.Reset()
		}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '`' && i+1 < len(raw):
			i++
			switch raw[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(0)
			case 'a':
				b.WriteByte(7)
			default:
				b.WriteByte(raw[i])
			}
		case c == '"' && i+1 < len(raw) && raw[i+1] == '"':
			i++
			b.WriteByte('"')
		case c == '$' && i+1 < len(raw) && raw[i+1] == '(':
			// Raised after the whole string was read: more input cannot fix it.
			p.raise(false, "SubExpressionNotSupported", "Subexpressions $( ) in strings are not supported.")
		case c == '$' && i+1 < len(raw) && isLetter(raw[i+1]):
			lx := &lexer{src: raw, pos: i + 1}
			name := lx.variable()
			flush()
			parts = append(parts, &VarExpr{Name: name})
			i = lx.pos - 1
		default:
			b.WriteByte(c)
		}
	}
	flush()
	if len(parts) == 1 {
		if l, ok := parts[0].(*Literal); ok {
			return l
		}
	}
	if len(parts) == 0 {
		return &Literal{V: ""}
	}
	return &ExpandString{Parts: parts}
}
