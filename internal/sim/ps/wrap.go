package ps

import (
	"bytes"
	"io"
)

// wrapWriter breaks output lines at a console width, as the PowerShell 2.0 host does over
// WinRM: after width characters a CRLF is inserted before the next character of the same line
// (pywinrm #216: "a \r\n inserted after 80 chars"). A line of exactly width characters is left
// as it is [inferred]. Characters are counted as runes of the UTF-8 stream.
type wrapWriter struct {
	w     io.Writer
	width int
	col   int
}

func newWrapWriter(w io.Writer, width int) io.Writer {
	if width <= 0 {
		return w
	}
	return &wrapWriter{w: w, width: width}
}

func (ww *wrapWriter) Write(p []byte) (int, error) {
	if col, ok := ww.fits(p); ok {
		// Nothing to insert (the frames of base64 lines, most output): p goes through uncopied.
		ww.col = col
		if _, err := ww.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	out := make([]byte, 0, len(p)+len(p)/ww.width*2+2)
	for _, b := range p {
		switch {
		case b == '\n':
			ww.col = 0
		case b == '\r', b&0xC0 == 0x80:
			// A carriage return ends a line with its LF; a continuation byte is part of the rune.
		default:
			if ww.col == ww.width {
				out = append(out, '\r', '\n')
				ww.col = 0
			}
			ww.col++
		}
		out = append(out, b)
	}
	if _, err := ww.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fits reports whether p needs no line break inserted, and the column after it: no line of p
// holds more characters than are left of the width. A line no longer in bytes than that is
// not counted character by character.
func (ww *wrapWriter) fits(p []byte) (int, bool) {
	col := ww.col
	for {
		line, rest, eol := bytes.Cut(p, []byte{'\n'})
		n := len(line)
		if col+n > ww.width || !eol {
			n = columns(line)
		}
		if col+n > ww.width {
			return 0, false
		}
		if !eol {
			return col + n, true
		}
		col, p = 0, rest
	}
}

// columns counts the characters of a line as Write does: neither a carriage return nor a
// UTF-8 continuation byte takes a column.
func columns(line []byte) int {
	n := 0
	for _, b := range line {
		if b != '\r' && b&0xC0 != 0x80 {
			n++
		}
	}
	return n
}
