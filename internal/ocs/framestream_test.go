package ocs

import (
	"bytes"
	"errors"
	"testing"
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
	f.Fuzz(func(t *testing.T, out []byte, step int) {
		if step <= 0 || step > len(out)+1 {
			step = len(out) + 1
		}
		compareFrameDecoders(t, out, step)
	})
}

// heldFrames is a frameSink that keeps each frame whole, for outputs known to be small.
type heldFrames struct {
	frames [][]byte
	cur    []byte
	err    error
}

func (h *heldFrames) begin() error        { h.cur = []byte{}; return nil }
func (h *heldFrames) data(p []byte) error { h.cur = append(h.cur, p...); return nil }
func (h *heldFrames) end(err error) {
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
