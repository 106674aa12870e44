package ocs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// The streaming decoder must agree with parseFrames whatever the pieces the transport delivers.
func TestFrameDecoderMatchesParseFrames(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	tests := map[string]string{
		"chatter around two frames":      "tool says hi\r\n" + frame("one") + "more chatter\r\n" + frame(""),
		"a wrapped base64 line":          frameBegin + "\r\nYWJj\r\nZGVm\r\n" + frameEnd + " 6\r\n",
		"a quantum split over lines":     frameBegin + "\r\nYW\r\nJjZG\r\nVm\r\n" + frameEnd + " 6\r\n",
		"blanks inside a line":           frameBegin + "\r\nYW Jj\r\n" + frameEnd + " 3\r\n",
		"no frame":                       "nothing\r\n",
		"no line end after the frame":    frameBegin + "\r\nYWJj\r\n" + frameEnd + " 3",
		"a large frame":                  frame(string(big)),
		"cut short":                      frameBegin + "\r\nYWJj\r\n",
		"count does not match":           frameBegin + "\r\nYWJj\r\n" + frameEnd + " 4\r\n",
		"one byte missing":               frameBegin + "\r\nYWJ\r\n" + frameEnd + " 3\r\n",
		"not base64":                     frameBegin + "\r\n!!!!\r\n" + frameEnd + " 3\r\n",
		"data after padding":             frameBegin + "\r\nYQ==\r\nYWJj\r\n" + frameEnd + " 4\r\n",
		"a frame inside a frame":         frameBegin + "\r\n" + frameBegin + "\r\n",
		"an end without a count is data": frameBegin + "\r\nYWJj\r\n" + frameEnd + "\r\n",
		"a bad count":                    frameBegin + "\r\nYWJj\r\n" + frameEnd + " three\r\n",
		"a bad frame then a good one":    frameBegin + "\r\n!!!!\r\n" + frameEnd + " 3\r\n" + frame("ok"),
	}
	for name, out := range tests {
		t.Run(name, func(t *testing.T) {
			for _, step := range []int{1, 2, 3, 5, 7, 76, 4096, len(out) + 1} {
				compareFrameDecoders(t, []byte(out), step)
			}
		})
	}
}

func compareFrameDecoders(t *testing.T, out []byte, step int) {
	t.Helper()
	want, wantErr := parseFrames(out)
	got, err := decodeFramesStreaming(out, step)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("step %d: err = %v, parseFrames err = %v", step, err, wantErr)
	}
	if err != nil {
		if !errors.Is(err, ErrBadOutput) {
			t.Fatalf("step %d: err = %v, want ErrBadOutput", step, err)
		}
		return
	}
	if len(got) != len(want) {
		t.Fatalf("step %d: %d frames, parseFrames %d", step, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("step %d: frame %d = %q, parseFrames %q", step, i, got[i], want[i])
		}
	}
}

func FuzzFrameDecoder(f *testing.F) {
	f.Add([]byte(frame("abc")+"x\r\n"+frame("")), 3)
	f.Add([]byte(frameBegin+"\r\nYW\r\nJj\r\n"+frameEnd+" 3\r\n"), 1)
	f.Add([]byte(frameBegin+"\r\nYQ==\r\nYQ==\r\n"+frameEnd+" 2\r\n"), 2)
	f.Add([]byte(frameEnd+" 3\r\n"+frameBegin), 4)
	for _, tc := range gzipFrameCases() {
		f.Add([]byte(tc.out), 5)
	}
	f.Fuzz(func(t *testing.T, out []byte, step int) {
		if step <= 0 || step > len(out)+1 {
			step = len(out) + 1
		}
		compareFrameDecoders(t, out, step)
	})
}

// heldFrames is a frameSink that keeps each frame whole, for outputs known to be small; a gzip
// frame is read through the reader streamFrames gives.
type heldFrames struct {
	frames [][]byte
	cur    []byte
	zipped bool
	err    error
}

func (h *heldFrames) begin(zipped bool) error { h.cur, h.zipped = []byte{}, zipped; return nil }
func (h *heldFrames) data(p []byte) error     { h.cur = append(h.cur, p...); return nil }
func (h *heldFrames) end(err error) {
	if err == nil {
		h.cur, err = io.ReadAll(newFrameReader(bytes.NewReader(h.cur), h.zipped))
	}
	if err != nil && h.err == nil {
		h.err = err
	}
	h.frames = append(h.frames, h.cur)
}

// decodeFramesStreaming runs out through a frameDecoder in pieces of size step, keeping the
// frames: what parseFrames gives, for tests that compare the two.
func decodeFramesStreaming(out []byte, step int) ([][]byte, error) {
	h := &heldFrames{}
	f := newFrameDecoder(h)
	for len(out) > 0 {
		k := min(step, len(out))
		_, _ = f.Write(out[:k])
		out = out[k:]
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if h.err != nil {
		return nil, h.err
	}
	return h.frames, nil
}

// gzipped returns data gzipped as .NET's GZipStream writes it: one gzip member.
func gzipped(data string) []byte {
	var b bytes.Buffer
	z, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	_, _ = z.Write([]byte(data))
	_ = z.Close()
	return b.Bytes()
}

// rawGzipFrame prints z (gzip bytes) as a gzip frame announcing n bytes.
func rawGzipFrame(z []byte, n int) string {
	b64 := base64.StdEncoding.EncodeToString(z)
	var out strings.Builder
	out.WriteString(frameBeginGzip + "\r\n")
	for len(b64) > 76 {
		out.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	out.WriteString(b64 + "\r\n" + frameEnd + " " + strconv.Itoa(n) + "\r\n")
	return out.String()
}

// gzipFrame prints data as a good gzip frame.
func gzipFrame(data string) string { z := gzipped(data); return rawGzipFrame(z, len(z)) }

// badCRC is a gzip stream of data whose CRC does not match it.
func badCRC(data string) []byte {
	z := gzipped(data)
	z[len(z)-8] ^= 0xFF
	return z
}

// gzipFrameCases are gzip frames that both decoders must agree on, with whether they are good.
func gzipFrameCases() map[string]struct {
	out  string
	good bool
} {
	text := strings.Repeat("sip:user@corp.example.com,", 400)
	z := gzipped(text)
	return map[string]struct {
		out  string
		good bool
	}{
		"a gzip frame":                         {gzipFrame(text), true},
		"an empty gzip frame":                  {gzipFrame(""), true},
		"plain and gzip frames mixed":          {frame("one") + "chatter\r\n" + gzipFrame("two") + frame("three"), true},
		"a gzip stream cut short":              {rawGzipFrame(z[:len(z)/2], len(z)/2), false},
		"a gzip stream without its trailer":    {rawGzipFrame(z[:len(z)-8], len(z)-8), false},
		"a bad CRC":                            {rawGzipFrame(badCRC(text), len(z)), false},
		"gzip count does not match":            {rawGzipFrame(z, len(z)+1), false},
		"gzip count one short":                 {rawGzipFrame(z, len(z)-1), false},
		"not gzip":                             {rawGzipFrame([]byte("plain text, no header"), 21), false},
		"trailing bytes after the stream":      {rawGzipFrame(append(append([]byte{}, z...), 1, 2, 3), len(z)+3), false},
		"a gzip frame inside a frame":          {frameBegin + "\r\n" + frameBeginGzip + "\r\n", false},
		"a gzip frame cut at the output's end": {frameBeginGzip + "\r\nH4sI\r\n", false},
	}
}

func TestParseFramesGzip(t *testing.T) {
	text := strings.Repeat("sip:user@corp.example.com,", 400)
	tests := map[string]struct {
		out  string
		want []string
	}{
		"a gzip frame is returned gunzipped": {out: gzipFrame(text), want: []string{text}},
		"an empty gzip frame":                {out: gzipFrame(""), want: []string{""}},
		"plain and gzip frames keep their order": {out: frame("one") + "chatter\r\n" + gzipFrame("two") + frame("three"),
			want: []string{"one", "two", "three"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseFrames([]byte(tc.out))
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %d frames, %v; want %d", len(got), err, len(tc.want))
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Fatalf("frame %d = %.40q, want %.40q", i, got[i], tc.want[i])
				}
			}
		})
	}
	for name, tc := range gzipFrameCases() {
		t.Run(name, func(t *testing.T) {
			_, err := parseFrames([]byte(tc.out))
			if tc.good != (err == nil) || err != nil && !errors.Is(err, ErrBadOutput) {
				t.Fatalf("err = %v, want good = %v (else ErrBadOutput)", err, tc.good)
			}
		})
	}
}

func TestGzipFrameDecoderMatchesParseFrames(t *testing.T) {
	for name, tc := range gzipFrameCases() {
		t.Run(name, func(t *testing.T) {
			for _, step := range []int{1, 3, 76, 4096, len(tc.out) + 1} {
				compareFrameDecoders(t, []byte(tc.out), step)
			}
		})
	}
}

// A gzip frame that decompresses beyond its bound is refused without holding it: zeros expand
// a thousand times. (The bound is maxFrameBytes; a smaller one keeps the test quick.)
func TestGzipFrameIsBounded(t *testing.T) {
	const limit = 4 << 20
	var b bytes.Buffer
	z, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = z.Write(make([]byte, limit+1))
	_ = z.Close()
	for _, size := range []int64{limit, limit + 1} {
		n, err := io.Copy(io.Discard, newGunzipReader(bytes.NewReader(b.Bytes()[:]), size))
		switch {
		case size > limit && (err != nil || n != limit+1):
			t.Fatalf("limit %d: read %d bytes, err %v; want all %d", size, n, err, limit+1)
		case size == limit && (!errors.Is(err, errFrameTooLarge) || !errors.Is(err, ErrBadOutput) || n != limit):
			t.Fatalf("limit %d: read %d bytes, err %v; want %d bytes then errFrameTooLarge", size, n, err, limit)
		}
	}
}

// streamFrames checks a gzip frame to its end even when read stops early: a bad CRC is found
// only in the stream's trailer, after every byte was handed on.
func TestStreamFramesChecksGzipToItsEnd(t *testing.T) {
	text := strings.Repeat("sip:user@corp.example.com,", 4000)
	z := gzipped(text)
	tests := map[string]struct {
		out     string
		wantErr bool
	}{
		"a good gzip frame":       {out: "chatter\r\n" + gzipFrame(text), wantErr: false},
		"a bad CRC":               {out: rawGzipFrame(badCRC(text), len(z)), wantErr: true},
		"a count that is wrong":   {out: rawGzipFrame(z, len(z)+1), wantErr: true},
		"a gzip stream cut short": {out: rawGzipFrame(z[:len(z)-8], len(z)-8), wantErr: true},
	}
	for name, tc := range tests {
		for _, streaming := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, streaming %v", name, streaming), func(t *testing.T) {
				run := func(ctx context.Context) (Result, error) {
					if w := winrm.StdoutOf(ctx); streaming && w != nil {
						_, err := io.WriteString(w, tc.out)
						return Result{}, err
					}
					return Result{Stdout: []byte(tc.out)}, nil
				}
				var head []byte
				err := streamFrames(context.Background(), 1, run, func(_ int, r io.Reader) error {
					head = make([]byte, 100)
					_, err := io.ReadFull(r, head)
					return err
				})
				if tc.wantErr != (err != nil) || err != nil && !errors.Is(err, ErrBadOutput) {
					t.Fatalf("err = %v, want an error %v (ErrBadOutput)", err, tc.wantErr)
				}
				if !tc.wantErr && string(head) != text[:100] {
					t.Fatalf("read %q, want %q", head, text[:100])
				}
			})
		}
	}
}
