package ps

import "io"

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
