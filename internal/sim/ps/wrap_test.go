package ps

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// referenceWrap is the console wrap as first written, byte by byte: the oracle of wrapWriter.
func referenceWrap(chunks []string, width int) string {
	var out []byte
	col := 0
	for _, chunk := range chunks {
		for _, b := range []byte(chunk) {
			switch {
			case b == '\n':
				col = 0
			case b == '\r', b&0xC0 == 0x80:
			default:
				if col == width {
					out = append(out, '\r', '\n')
					col = 0
				}
				col++
			}
			out = append(out, b)
		}
	}
	return string(out)
}

// writeCounter records the writes it is given.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func checkWrap(t *testing.T, chunks []string, width int) {
	t.Helper()
	var got writeCounter
	ww := newWrapWriter(&got, width)
	for _, c := range chunks {
		if n, err := ww.Write([]byte(c)); n != len(c) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
	if want := referenceWrap(chunks, width); got.String() != want {
		t.Fatalf("wrap %q at %d:\n got %q\nwant %q", chunks, width, got.String(), want)
	}
	if got.writes != len(chunks) {
		t.Fatalf("%d writes passed on for %d", got.writes, len(chunks))
	}
}

func TestWrapWriterMatchesReference(t *testing.T) {
	line76 := strings.Repeat("A", 76)
	for name, chunks := range map[string][]string{
		"base64 frame":       {"#ocsha-begin\r\n", line76 + "\r\n" + line76 + "\r\nQQ==\r\n", "#ocsha-end 116\r\n"},
		"exactly the width":  {strings.Repeat("x", 10) + "\r\n", strings.Repeat("y", 10)},
		"one past the width": {strings.Repeat("x", 11) + "\r\n"},
		"across writes":      {"abcdef", "ghijkl", "\n", "mnop"},
		"full then CR":       {strings.Repeat("x", 10), "\r", "\n", strings.Repeat("x", 10), "y"},
		"runes":              {strings.Repeat("é", 10) + "\n", strings.Repeat("日", 11), "\U0001F600\n"},
		"empty writes":       {"", "abc", ""},
		"long line":          {strings.Repeat("z", 35) + "\n" + strings.Repeat("w", 5)},
		"CR inside":          {strings.Repeat("a\r", 12) + "\n"},
	} {
		t.Run(name, func(t *testing.T) { checkWrap(t, chunks, 10) })
	}
}

// FuzzWrapWriterMatchesReference splits arbitrary text into writes at arbitrary points.
func FuzzWrapWriterMatchesReference(f *testing.F) {
	f.Add("hello\r\nworld, this is a long line\n", 5, 3)
	f.Add(strings.Repeat("é", 30)+"\r\n", 7, 10)
	f.Add("\n\n\r\r\xff\xc3", 1, 1)
	f.Fuzz(func(t *testing.T, text string, cut, width int) {
		width = 1 + abs(width)%100
		cut = abs(cut) % (len(text) + 1)
		checkWrap(t, []string{text[:cut], text[cut:]}, width)
	})
}

func abs(n int) int {
	if n < 0 {
		if n = -n; n < 0 {
			return 0
		}
	}
	return n
}

// TestBase64LinesMatchesReference compares [Convert]::ToBase64String(.., InsertLineBreaks) with
// the plain encoding broken after every 76 characters, for every length of a few lines.
func TestBase64LinesMatchesReference(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for n := 0; n <= len(data); n++ {
		s := base64.StdEncoding.EncodeToString(data[:n])
		var want strings.Builder
		for len(s) > 76 {
			want.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		want.WriteString(s)
		if got := base64Lines(data[:n]); got != want.String() {
			t.Fatalf("%d bytes: %q, want %q", n, got, want.String())
		}
	}
}
