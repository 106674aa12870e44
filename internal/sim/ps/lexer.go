package ps

import (
	"strconv"
	"strings"
)

// lexer reads tokens from a script. PowerShell tokenizes differently in expression and
// argument (command) mode, so the parser asks for the kind of token it expects at each point.
type lexer struct {
	src string
	pos int
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdent(c byte) bool  { return isLetter(c) || isDigit(c) }

func (l *lexer) eof() bool { return l.pos >= len(l.src) }

func (l *lexer) peekc() byte {
	if l.pos < len(l.src) {
		return l.src[l.pos]
	}
	return 0
}

func (l *lexer) peekAt(n int) byte {
	if l.pos+n < len(l.src) {
		return l.src[l.pos+n]
	}
	return 0
}

// skipSpace skips blanks, comments and backtick line continuations, but not newlines.
func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
		case c == '`' && (l.peekAt(1) == '\n' || l.peekAt(1) == '\r' && l.peekAt(2) == '\n'):
			l.pos++
			for l.src[l.pos] != '\n' {
				l.pos++
			}
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			return
		}
	}
}

// skipSpaceNL also skips newlines, where a statement may continue (after an operator, `|`, `,`).
func (l *lexer) skipSpaceNL() {
	for {
		l.skipSpace()
		if l.peekc() != '\n' {
			return
		}
		l.pos++
	}
}

// ident reads [A-Za-z0-9_]*.
func (l *lexer) ident() string {
	start := l.pos
	for l.pos < len(l.src) && isIdent(l.src[l.pos]) {
		l.pos++
	}
	return l.src[start:l.pos]
}

// bareword reads an argument-mode word: up to blank or a character that ends an argument.
func (l *lexer) bareword() string {
	start := l.pos
	for l.pos < len(l.src) && !strings.ContainsRune(" \t\r\n;|,(){}'\"", rune(l.src[l.pos])) {
		l.pos++
	}
	return l.src[start:l.pos]
}

// number reads a decimal integer.
func (l *lexer) number() (int, bool) {
	start := l.pos
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
	n, err := strconv.Atoi(l.src[start:l.pos])
	return n, err == nil
}

// variable reads a variable name after `$`: `_`, `name`, `env:NAME`.
func (l *lexer) variable() string {
	name := l.ident()
	if l.peekc() == ':' && isLetter(l.peekAt(1)) && strings.EqualFold(name, "env") {
		l.pos++
		name += ":" + l.ident()
	}
	return name
}

// singleQuoted reads a '…' literal (” escapes a quote); the opening quote is current.
func (l *lexer) singleQuoted() (string, bool) {
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		l.pos++
		if c == '\'' {
			if l.peekc() == '\'' {
				l.pos++
				b.WriteByte('\'')
				continue
			}
			return b.String(), true
		}
		b.WriteByte(c)
	}
	return "", false
}

// doubleQuoted returns the raw text of a "…" literal; the opening quote is current.
// `" and "" keep the string open; expansion happens in the parser.
func (l *lexer) doubleQuoted() (string, bool) {
	l.pos++
	start := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '`' && l.pos+1 < len(l.src):
			l.pos += 2
		case c == '"' && l.peekAt(1) == '"':
			l.pos += 2
		case c == '"':
			raw := l.src[start:l.pos]
			l.pos++
			return raw, true
		default:
			l.pos++
		}
	}
	return "", false
}

// typeName reads `[Name]` or `[Name[]]`; the opening bracket is current.
func (l *lexer) typeName() (string, bool) {
	save := l.pos
	l.pos++
	start := l.pos
	for l.pos < len(l.src) && (isIdent(l.src[l.pos]) || l.src[l.pos] == '.') {
		l.pos++
	}
	name := l.src[start:l.pos]
	if strings.HasPrefix(l.src[l.pos:], "[]") {
		l.pos += 2
		name += "[]"
	}
	if name == "" || !isLetter(name[0]) || l.peekc() != ']' {
		l.pos = save
		return "", false
	}
	l.pos++
	return name, true
}

// lineCol converts a byte offset to 1-based line and column.
func (l *lexer) lineCol(pos int) (int, int) {
	pos = min(pos, len(l.src))
	line := 1 + strings.Count(l.src[:pos], "\n")
	col := pos - strings.LastIndex(l.src[:pos], "\n")
	return line, col
}
