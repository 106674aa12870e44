package cmdexe

import (
	"errors"
	"strings"
)

// segment is one simple command of a line with its redirections, and the operator joining it to
// the next one ("&", "&&", "||", "|" or "" at the end).
type segment struct {
	text   string
	redirs []redir
	op     string
}

// redir is one redirection: fd 0 (<), 1 or 2 to a file, or duplicated from another fd (>&2).
type redir struct {
	fd     int
	target string
	append bool
	dup    int
}

// parseLine splits a line at unquoted operators and pulls out redirections. Carets escape the next
// character outside quotes; the text left keeps its spacing (echo prints it).
func parseLine(s string) ([]segment, error) {
	var segs []segment
	var cur strings.Builder
	var redirs []redir
	escapedAt := map[int]bool{} // positions in cur holding an escaped character
	quoted := false
	flush := func(op string) {
		segs = append(segs, segment{text: cur.String(), redirs: redirs, op: op})
		cur.Reset()
		redirs = nil
		escapedAt = map[int]bool{}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quoted {
			cur.WriteByte(c)
			if c == '"' {
				quoted = false
			}
			continue
		}
		switch c {
		case '"':
			quoted = true
			cur.WriteByte(c)
		case '^':
			if i+1 < len(s) {
				i++
				escapedAt[cur.Len()] = true
				cur.WriteByte(s[i])
			}
		case '&', '|':
			op := string(c)
			if i+1 < len(s) && s[i+1] == c {
				op += string(c)
				i++
			}
			if strings.TrimSpace(cur.String()) == "" && len(redirs) == 0 {
				return nil, errors.New(op + " was unexpected at this time.")
			}
			flush(op)
		case '>', '<':
			r, next, err := parseRedir(s, i, &cur, escapedAt)
			if err != nil {
				return nil, err
			}
			redirs = append(redirs, r)
			i = next
		default:
			cur.WriteByte(c)
		}
	}
	flush("")
	return segs, nil
}

// parseRedir reads the redirection whose operator is at s[i], taking a stream digit that ends
// cur; it returns the redirection and the index of its last byte.
func parseRedir(s string, i int, cur *strings.Builder, escapedAt map[int]bool) (redir, int, error) {
	c := s[i]
	r := redir{fd: 1}
	if c == '<' {
		r.fd = 0
	}
	// A digit right before the operator names the stream when it starts a word.
	txt := cur.String()
	if n := len(txt); n > 0 && (txt[n-1] == '1' || txt[n-1] == '2') && !escapedAt[n-1] &&
		(n == 1 || txt[n-2] == ' ' || txt[n-2] == '\t') {
		r.fd = int(txt[n-1] - '0')
		cur.Reset()
		cur.WriteString(txt[:n-1])
	}
	if c == '>' && i+1 < len(s) && s[i+1] == '>' {
		r.append = true
		i++
	}
	if i+2 < len(s) && s[i+1] == '&' && (s[i+2] >= '0' && s[i+2] <= '2') {
		r.dup = int(s[i+2] - '0')
		if r.dup == 0 {
			r.dup = 1
		}
		return r, i + 2, nil
	}
	j := i + 1
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	start := j
	if j < len(s) && s[j] == '"' {
		end := strings.IndexByte(s[j+1:], '"')
		if end < 0 {
			j = len(s)
		} else {
			j += end + 2
		}
	} else {
		for j < len(s) && !strings.ContainsRune(" \t&|<>", rune(s[j])) {
			j++
		}
	}
	if start == j {
		return redir{}, i, errors.New("The syntax of the command is incorrect.")
	}
	r.target = strings.Trim(s[start:j], `"`)
	return r, j - 1, nil
}
