package host

import (
	"errors"
	"strings"
)

// wqlQuery is the WQL subset: SELECT props FROM class [WHERE prop = value [AND …]].
type wqlQuery struct {
	Props []string // nil for *
	Class string
	Where []wqlCond
}

// wqlCond is `Prop = Value`; Null is `Prop = NULL` (or IS NULL).
type wqlCond struct {
	Prop, Value string
	Null        bool
}

var errWQL = errors.New("invalid query")

type wqlTok struct {
	kind byte // 'i' identifier, 's' string, 'n' number, or the punctuation itself
	text string
}

// wqlLex splits a query into tokens; strings take ' or " with backslash escapes.
func wqlLex(q string) ([]wqlTok, error) {
	var toks []wqlTok
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == ',' || c == '*' || c == '=':
			toks = append(toks, wqlTok{kind: c})
			i++
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != c; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, errWQL
			}
			toks = append(toks, wqlTok{kind: 's', text: b.String()})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			toks = append(toks, wqlTok{kind: 'n', text: q[i:j]})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			toks = append(toks, wqlTok{kind: 'i', text: q[i:j]})
			i = j
		default:
			return nil, errWQL
		}
	}
	return toks, nil
}

type wqlParser struct {
	toks []wqlTok
	pos  int
}

func (p *wqlParser) next() (wqlTok, bool) {
	if p.pos >= len(p.toks) {
		return wqlTok{}, false
	}
	t := p.toks[p.pos]
	p.pos++
	return t, true
}

func (p *wqlParser) keyword(kw string) bool {
	if p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' && strings.EqualFold(p.toks[p.pos].text, kw) {
		p.pos++
		return true
	}
	return false
}

// parseWQL parses a full SELECT statement.
func parseWQL(q string) (*wqlQuery, error) {
	toks, err := wqlLex(q)
	if err != nil {
		return nil, err
	}
	p := &wqlParser{toks: toks}
	if !p.keyword("SELECT") {
		return nil, errWQL
	}
	out := &wqlQuery{}
	if p.pos < len(p.toks) && p.toks[p.pos].kind == '*' {
		p.pos++
	} else {
		for {
			t, ok := p.next()
			if !ok || t.kind != 'i' {
				return nil, errWQL
			}
			out.Props = append(out.Props, t.text)
			if p.pos < len(p.toks) && p.toks[p.pos].kind == ',' {
				p.pos++
				continue
			}
			break
		}
	}
	if !p.keyword("FROM") {
		return nil, errWQL
	}
	t, ok := p.next()
	if !ok || t.kind != 'i' {
		return nil, errWQL
	}
	out.Class = t.text
	if p.pos == len(p.toks) {
		return out, nil
	}
	if !p.keyword("WHERE") {
		return nil, errWQL
	}
	out.Where, err = p.conditions()
	return out, err
}

// parseWQLWhere parses the text of -Filter (a WHERE clause without the keyword).
func parseWQLWhere(s string) ([]wqlCond, error) {
	toks, err := wqlLex(s)
	if err != nil {
		return nil, err
	}
	return (&wqlParser{toks: toks}).conditions()
}

func (p *wqlParser) conditions() ([]wqlCond, error) {
	var out []wqlCond
	for {
		prop, ok := p.next()
		if !ok || prop.kind != 'i' {
			return nil, errWQL
		}
		c := wqlCond{Prop: prop.text}
		if p.keyword("IS") {
			if !p.keyword("NULL") {
				return nil, errWQL
			}
			c.Null = true
		} else {
			eq, ok := p.next()
			if !ok || eq.kind != '=' {
				return nil, errWQL
			}
			v, ok := p.next()
			switch {
			case !ok:
				return nil, errWQL
			case v.kind == 's' || v.kind == 'n':
				c.Value = v.text
			case v.kind == 'i' && (strings.EqualFold(v.text, "TRUE") || strings.EqualFold(v.text, "FALSE")):
				c.Value = strings.ToUpper(v.text[:1]) + strings.ToLower(v.text[1:])
			case v.kind == 'i' && strings.EqualFold(v.text, "NULL"):
				c.Null = true
			default:
				return nil, errWQL
			}
		}
		out = append(out, c)
		if p.pos == len(p.toks) {
			return out, nil
		}
		if !p.keyword("AND") {
			return nil, errWQL
		}
	}
}
