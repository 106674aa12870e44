package ocs

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// frameSink receives the frames a frameDecoder finds, as their bytes are decoded: begin at a
// frame's first line (zipped for a gzip frame, whose data is then the compressed stream), data
// with each piece, end with nil once the frame is whole and its byte
// count matches, or with the error that makes it unusable (then no more data comes for it).
type frameSink interface {
	begin(zipped bool) error
	data(p []byte) error
	end(err error)
}

// maxOutsideLine bounds what is kept of a line outside frames: only the markers matter there.
const maxOutsideLine = 4 << 10

// frameDecoder is parseFrames as an io.Writer: it is fed a command's output in pieces of any
// size, as the transport receives it, and holds one line and a few base64 characters, never a
// whole frame. It accepts and rejects what parseFrames does (a fuzz target compares them).
type frameDecoder struct {
	sink    frameSink
	line    []byte
	open    bool
	broken  bool   // the open frame failed; its lines are skipped up to its end line
	quanta  []byte // base64 characters not yet decoded (fewer than 4 between lines)
	decoded []byte
	n       int64 // bytes of the open frame so far
	padded  bool  // the open frame's base64 has ended with padding
	err     error // a framing error of the whole output: the decoder stops
	fed     bool
}

func newFrameDecoder(sink frameSink) *frameDecoder { return &frameDecoder{sink: sink} }

// Write implements io.Writer. It never fails, so the transport always reads the output to its
// end; a framing error is kept for Close.
func (f *frameDecoder) Write(p []byte) (int, error) {
	n := len(p)
	if n > 0 {
		f.fed = true
	}
	for len(p) > 0 && f.err == nil {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.keep(p)
			break
		}
		f.keep(p[:i])
		f.handleLine(bytes.TrimSpace(f.line))
		f.line = f.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

// keep appends part of a line; outside a frame only its start is kept.
func (f *frameDecoder) keep(p []byte) {
	if !f.open && len(f.line)+len(p) > maxOutsideLine {
		p = p[:max(0, maxOutsideLine-len(f.line))]
	}
	f.line = append(f.line, p...)
}

// Close ends the output: the last line without a line end is read, and an open frame fails.
// It returns the framing error of the whole output, if any.
func (f *frameDecoder) Close() error {
	if f.err == nil && len(f.line) > 0 {
		f.handleLine(bytes.TrimSpace(f.line))
		f.line = f.line[:0]
	}
	if f.err == nil && f.open {
		f.fail(fmt.Errorf("%w: the output ends inside a frame", ErrBadOutput))
	}
	return f.err
}

// fail stops the decoder with err, failing the open frame with it.
func (f *frameDecoder) fail(err error) {
	f.err = err
	if f.open && !f.broken {
		f.sink.end(err)
	}
	f.open = false
}

func (f *frameDecoder) handleLine(line []byte) {
	switch {
	case string(line) == frameBegin || string(line) == frameBeginGzip:
		if f.open {
			f.fail(fmt.Errorf("%w: a frame begins inside another", ErrBadOutput))
			return
		}
		f.open, f.broken, f.padded, f.n, f.quanta = true, false, false, 0, f.quanta[:0]
		if err := f.sink.begin(string(line) == frameBeginGzip); err != nil {
			f.broken = true
		}
	case f.open && bytes.HasPrefix(line, []byte(frameEnd+" ")):
		f.open = false
		if !f.broken {
			f.sink.end(f.finish(line))
		}
	case f.open && !f.broken:
		if err := f.body(line); err != nil {
			f.broken = true
			f.sink.end(err)
		}
	}
}

// body decodes the whole base64 quanta of a frame line (its blanks dropped) and passes them on.
func (f *frameDecoder) body(line []byte) error {
	f.quanta = appendNoSpace(f.quanta, line)
	whole := len(f.quanta) / 4 * 4
	if whole == 0 {
		return nil
	}
	if f.padded {
		return fmt.Errorf("%w: frame: data after the base64 padding", ErrBadOutput)
	}
	chunk := f.quanta[:whole]
	if cap(f.decoded) < base64.StdEncoding.DecodedLen(whole) {
		f.decoded = make([]byte, base64.StdEncoding.DecodedLen(whole))
	}
	k, err := base64.StdEncoding.Decode(f.decoded[:cap(f.decoded)], chunk)
	if err != nil {
		return fmt.Errorf("%w: frame: %w", ErrBadOutput, err)
	}
	f.padded = chunk[whole-1] == '='
	f.quanta = f.quanta[:copy(f.quanta, f.quanta[whole:])]
	f.n += int64(k)
	if err := f.sink.data(f.decoded[:k]); err != nil {
		return err
	}
	return nil
}

// finish checks a frame's end line against what was decoded.
func (f *frameDecoder) finish(end []byte) error {
	want, err := strconv.Atoi(string(bytes.TrimSpace(end[len(frameEnd):])))
	if err != nil {
		return fmt.Errorf("%w: frame end %q", ErrBadOutput, end)
	}
	if len(f.quanta) != 0 {
		return fmt.Errorf("%w: frame: %w", ErrBadOutput, base64.CorruptInputError(f.n/3*4))
	}
	if f.n != int64(want) {
		return fmt.Errorf("%w: frame of %d bytes announced as %d", ErrBadOutput, f.n, want)
	}
	return nil
}

// pipedFrames is a frameSink that hands each frame to a reader in another goroutine through a
// pipe, so a frame's bytes move from the transport to the reader with nothing held between.
type pipedFrames struct {
	frames chan pipedFrame
	cur    *io.PipeWriter
}

// pipedFrame is one frame's data as it arrives, compressed when zipped.
type pipedFrame struct {
	pr     *io.PipeReader
	zipped bool
}

func (p *pipedFrames) begin(zipped bool) error {
	pr, pw := io.Pipe()
	p.cur = pw
	p.frames <- pipedFrame{pr: pr, zipped: zipped}
	return nil
}

func (p *pipedFrames) data(b []byte) error {
	_, err := p.cur.Write(b)
	return err
}

func (p *pipedFrames) end(err error) {
	if err != nil {
		_ = p.cur.CloseWithError(err)
		return
	}
	_ = p.cur.Close()
}

// closingWriter passes writes to a frameDecoder until it is closed, and drops them afterwards: a
// transport that gave up on a command (its deadline passed) may still be copying its output.
type closingWriter struct {
	mu     sync.Mutex
	dec    *frameDecoder
	closed bool
}

func (c *closingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return len(p), nil
	}
	return c.dec.Write(p)
}

func (c *closingWriter) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.dec.Close()
}

// errReadStopped ends a frame whose reader gave up.
var errReadStopped = errors.New("the reader of the output stopped")

// streamFrames runs a command whose output is n frames, streaming it (winrm.WithStdout) through
// the frame decoder into read, called for each frame in turn with a reader of its bytes (a gzip
// frame's gunzipped). read's reader fails at the end of a frame that is short or corrupt (for a
// gzip frame also at a corrupt stream or a bad CRC); streamFrames reads each frame to its end,
// so a frame read only in part is still checked. An executor that does not stream has
// its collected output decoded the same way. The first error of read stops the command.
func streamFrames(ctx context.Context, n int, run func(context.Context) (Result, error), read func(i int, r io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sink := &pipedFrames{frames: make(chan pipedFrame)}
	out := &closingWriter{dec: newFrameDecoder(sink)}
	var runErr, frameErr error
	go func() {
		defer close(sink.frames)
		res, err := run(winrm.WithStdout(ctx, out))
		if err == nil && !out.dec.fed && len(res.Stdout) > 0 {
			_, _ = out.Write(res.Stdout)
		}
		runErr, frameErr = err, out.close()
	}()
	var readErr error
	stopped := false
	i := 0
	for frame := range sink.frames {
		pr := frame.pr
		r := newFrameReader(pr, frame.zipped)
		if readErr == nil && i >= n {
			readErr = fmt.Errorf("%w: more than %d frames", ErrBadOutput, n)
		}
		if readErr == nil {
			readErr = read(i, r)
		}
		if readErr == nil {
			_, readErr = io.Copy(io.Discard, r)
		}
		if readErr == nil {
			// The frame's end is checked even if the reader of its bytes stopped short of it.
			_, readErr = io.Copy(io.Discard, pr)
		}
		if readErr != nil && !stopped {
			stopped = true
			cancel()
		}
		_ = pr.CloseWithError(errReadStopped)
		i++
	}
	switch {
	case runErr != nil && !stopped:
		return runErr
	case readErr != nil:
		return readErr
	case runErr != nil:
		return runErr
	case frameErr != nil:
		return frameErr
	case i != n:
		return fmt.Errorf("%w: %d frames, want %d", ErrBadOutput, i, n)
	}
	return nil
}
