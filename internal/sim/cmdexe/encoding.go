package cmdexe

import (
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Code pages a shell can ask for with WINRS_CODEPAGE.
const (
	CodePageUTF8 = 65001
	CodePageOEM  = 437
)

// textWriter converts the UTF-8 text programs write into the shell's code page. Code page 437
// maps each character to one byte ('?' when it has none); a sequence split across writes is held
// back until it completes.
type textWriter struct {
	w       io.Writer
	pending []byte
}

func newTextWriter(w io.Writer, codePage int) io.Writer {
	if codePage != CodePageOEM {
		return w
	}
	return &textWriter{w: w}
}

func (t *textWriter) Write(p []byte) (int, error) {
	buf := append(t.pending, p...)
	t.pending = nil
	out := make([]byte, 0, len(buf))
	for len(buf) > 0 {
		if !utf8.FullRune(buf) {
			t.pending = append([]byte(nil), buf...)
			break
		}
		r, n := utf8.DecodeRune(buf)
		buf = buf[n:]
		out = append(out, encode437(r))
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes a held-back incomplete sequence as '?'.
func flushText(w io.Writer) {
	if t, ok := w.(*textWriter); ok && len(t.pending) > 0 {
		t.pending = nil
		_, _ = t.w.Write([]byte{'?'})
	}
}

func encode437(r rune) byte {
	if r < 0x80 {
		return byte(r)
	}
	if b, ok := charmap.CodePage437.EncodeRune(r); ok {
		return b
	}
	return '?'
}

// newTextReader converts stdin from the shell's code page to the UTF-8 programs read.
func newTextReader(r io.Reader, codePage int) io.Reader {
	if r == nil {
		return eof{}
	}
	if codePage != CodePageOEM {
		return r
	}
	return &oemReader{r: r}
}

// oemReader decodes code page 437 bytes into UTF-8 as they are read.
type oemReader struct {
	r       io.Reader
	pending []byte
	raw     [4096]byte
}

func (o *oemReader) Read(p []byte) (int, error) {
	for len(o.pending) == 0 {
		n, err := o.r.Read(o.raw[:])
		for _, b := range o.raw[:n] {
			o.pending = utf8.AppendRune(o.pending, charmap.CodePage437.DecodeByte(b))
		}
		if err != nil && len(o.pending) == 0 {
			return 0, err
		}
	}
	n := copy(p, o.pending)
	o.pending = o.pending[n:]
	return n, nil
}

// eof is an empty standard input.
type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }
