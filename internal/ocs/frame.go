package ocs

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Every answer the agent reads from a PowerShell script travels in frames, because the
// PowerShell 2.0 host of OCS 2007 R2 wraps each output line at 80 columns with CRLF over WinRM
// (ocs-evidence.md #12): a base64 file on one line, or a CSV row holding a DN, would come back
// with line breaks inside. A frame is
//
//	#ocsha-begin
//	<base64 of the bytes, in lines of 76 characters>
//	#ocsha-end <byte count>
//
// Base64FormattingOptions.InsertLineBreaks (.NET 2.0, so PowerShell 2.0) keeps every line
// below the width, and the reader drops all whitespace inside a frame, so a frame survives a
// console that wraps anywhere; the count catches a frame cut short. Text outside frames (what a
// tool or module prints) is ignored.
//
// A big answer travels gzipped (inferred.go, "Compressed answers"): its begin line is
// "#ocsha-begin gzip", its base64 holds the gzip stream and its end line counts the compressed
// bytes; the reader gunzips it and checks the stream's CRC.
const (
	frameBegin     = "#ocsha-begin"
	frameBeginGzip = frameBegin + " gzip"
	frameEnd       = "#ocsha-end"
)

// maxFrameBytes bounds a gzip frame's decompressed size: deflate expands up to 1,032 times, so
// a hostile server could otherwise make a few megabytes of output take all the manager's memory.
// A whole server's export (5,000 users × 50 contacts) is about 80 MB of UTF-16.
const maxFrameBytes = 2 << 30

// errFrameTooLarge is the error of a gzip frame that decompresses beyond maxFrameBytes.
var errFrameTooLarge = fmt.Errorf("%w: a gzip frame decompresses to more than %d MiB", ErrBadOutput, maxFrameBytes>>20)

// psFrame renders the lines that print the byte array expr as one frame.
func psFrame(expr string) string {
	return "$d = " + expr + "\n" +
		"'" + frameBegin + "'\n" +
		"[Convert]::ToBase64String($d, [Base64FormattingOptions]::InsertLineBreaks)\n" +
		"'" + frameEnd + " ' + $d.Length\n"
}

// psFrameGzip renders the lines that print the byte array expr gzipped, as one gzip frame. It is
// PowerShell 2.0 on .NET 2.0 (inferred.go, "Compressed answers"): a GZipStream in Compress mode
// over a MemoryStream, one Write, Close to finish the stream, then ToArray, which a closed
// MemoryStream still answers.
func psFrameGzip(expr string) string {
	return "$d = " + expr + "\n" +
		"$ms = New-Object IO.MemoryStream\n" +
		"$zs = New-Object IO.Compression.GZipStream -ArgumentList $ms, ([IO.Compression.CompressionMode]::Compress)\n" +
		"$zs.Write($d, 0, $d.Length)\n" +
		"$zs.Close()\n" +
		"$d = $ms.ToArray()\n" +
		"'" + frameBeginGzip + "'\n" +
		"[Convert]::ToBase64String($d, [Base64FormattingOptions]::InsertLineBreaks)\n" +
		"'" + frameEnd + " ' + $d.Length\n"
}

// psFrameText renders the lines that print the string expr as one frame of UTF-8.
func psFrameText(expr string) string {
	return psFrame("[Text.Encoding]::UTF8.GetBytes(" + expr + ")")
}

// psFrameCSV renders the lines that print the CSV lines in $<v> (ConvertTo-Csv output, or a
// single row) as one frame.
func psFrameCSV(v string) string { return psFrameText("($" + v + " -join \"`n\")") }

// psFrameCSVGzip is psFrameCSV as a gzip frame, for listings of thousands of rows.
func psFrameCSVGzip(v string) string {
	return psFrameGzip("[Text.Encoding]::UTF8.GetBytes(($" + v + " -join \"`n\"))")
}

// parseFrames returns the frames of a command's output, in order. It works on the bytes as they
// came (no copy of the output as a string, no slice of all its lines): an export's output is a
// few megabytes, read while the manager holds little else.
func parseFrames(out []byte) ([][]byte, error) {
	var (
		frames [][]byte
		body   []byte
		open   bool
		zipped bool
	)
	for len(out) > 0 {
		var line []byte
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			line, out = out, nil
		}
		line = bytes.TrimSpace(line)
		switch {
		case string(line) == frameBegin || string(line) == frameBeginGzip:
			if open {
				return nil, fmt.Errorf("%w: a frame begins inside another", ErrBadOutput)
			}
			open, zipped = true, string(line) == frameBeginGzip
			// The body is at most the rest of the output: one allocation, no regrowth.
			if cap(body) < len(out) {
				body = make([]byte, 0, len(out))
			}
			body = body[:0]
		case bytes.HasPrefix(line, []byte(frameEnd+" ")) && open:
			open = false
			data, err := frameData(body, line)
			if err == nil && zipped {
				data, err = gunzipFrame(data)
			}
			if err != nil {
				return nil, err
			}
			frames = append(frames, data)
		case open:
			body = appendNoSpace(body, line)
		}
	}
	if open {
		return nil, fmt.Errorf("%w: the output ends inside a frame", ErrBadOutput)
	}
	return frames, nil
}

// frameData decodes a frame's base64 body and checks it against the byte count of its end line.
func frameData(body, end []byte) ([]byte, error) {
	n, err := strconv.Atoi(string(bytes.TrimSpace(end[len(frameEnd):])))
	if err != nil {
		return nil, fmt.Errorf("%w: frame end %q", ErrBadOutput, end)
	}
	data := make([]byte, base64.StdEncoding.DecodedLen(len(body)))
	k, err := base64.StdEncoding.Decode(data, body)
	if err != nil {
		return nil, fmt.Errorf("%w: frame: %w", ErrBadOutput, err)
	}
	if k != n {
		return nil, fmt.Errorf("%w: frame of %d bytes announced as %d", ErrBadOutput, k, n)
	}
	return data[:k:k], nil
}

// gunzipFrame returns the decompressed bytes of a gzip frame's data.
func gunzipFrame(data []byte) ([]byte, error) {
	// The gzip trailer's size (modulo 2^32) sizes the buffer, within what deflate can expand to.
	size := 0
	if len(data) >= 4 {
		size = int(min(int64(binary.LittleEndian.Uint32(data[len(data)-4:])), 1032*int64(len(data)), maxFrameBytes))
	}
	b := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := b.ReadFrom(newFrameReader(bytes.NewReader(data), true)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// newFrameReader returns a reader of a frame's bytes from r, the frame's data as it arrives:
// r itself for a plain frame, a gunzipping reader for a gzip frame. The gunzipping reader fails
// with ErrBadOutput at a corrupt or short stream, a bad CRC, trailing data or a size above
// maxFrameBytes; r's own errors pass through.
func newFrameReader(r io.Reader, zipped bool) io.Reader {
	if !zipped {
		return r
	}
	return newGunzipReader(r, maxFrameBytes)
}

// newGunzipReader gunzips r, failing with errFrameTooLarge after limit bytes.
func newGunzipReader(r io.Reader, limit int64) *gunzipReader {
	return &gunzipReader{src: sourceReader{r: r}, left: limit}
}

// gunzipReader gunzips a gzip frame. It reads the gzip header at its first Read, not when it is
// made: its source may be a pipe that the writer fills only once someone reads.
type gunzipReader struct {
	src  sourceReader
	z    *gzip.Reader
	left int64 // bytes it may still return
	err  error
}

func (g *gunzipReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.z == nil {
		z, err := gzip.NewReader(&g.src)
		if err != nil {
			g.err = g.fail(err)
			return 0, g.err
		}
		g.z = z
	}
	if int64(len(p)) > g.left+1 {
		p = p[:g.left+1]
	}
	n, err := g.z.Read(p)
	switch {
	case int64(n) > g.left:
		n, err = int(g.left), errFrameTooLarge
	case err != nil && !errors.Is(err, io.EOF):
		err = g.fail(err)
	}
	g.left -= int64(n)
	g.err = err
	return n, err
}

// fail is the error of a failed gunzip: the source's own error when it failed (gzip may have
// turned it into io.ErrUnexpectedEOF), else ErrBadOutput naming what gzip found.
func (g *gunzipReader) fail(err error) error {
	if g.src.err != nil {
		return g.src.err
	}
	return fmt.Errorf("%w: gzip frame: %w", ErrBadOutput, err)
}

// sourceReader remembers the error of a gzip frame's source (a pipe closed with the frame's own
// error, such as a byte count that does not match).
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
		s.err = err
	}
	return n, err
}

// appendNoSpace appends line without its blanks (a console may break or pad a long line).
func appendNoSpace(body, line []byte) []byte {
	plain := true
	for _, c := range line {
		if c >= utf8.RuneSelf || c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' {
			plain = false
			break
		}
	}
	if plain {
		return append(body, line...)
	}
	for len(line) > 0 {
		r, size := utf8.DecodeRune(line)
		if !unicode.IsSpace(r) {
			body = append(body, line[:size]...)
		}
		line = line[size:]
	}
	return body
}

// framesOf returns exactly the n frames of a command's output, for f(r.run…(…)) calls.
func framesOf(op, server string, n int) func(Result, error) ([][]byte, error) {
	return func(res Result, err error) ([][]byte, error) {
		if err != nil {
			return nil, err
		}
		frames, err := parseFrames(res.Stdout)
		if err == nil && len(frames) != n {
			err = fmt.Errorf("%w: %d frames, want %d", ErrBadOutput, len(frames), n)
		}
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		return frames, nil
	}
}

// csvOf returns the CSV text of a command's frames, joined, for f(r.run…(…)) calls.
func csvOf(op, server string) func(Result, error) ([]byte, error) {
	return func(res Result, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		frames, err := parseFrames(res.Stdout)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		return bytes.Join(frames, []byte("\n")), nil
	}
}

// ParseFrames returns the frames of a command's output, in order, for tools that read what the
// agent's scripts print (hack/capture).
func ParseFrames(out []byte) ([][]byte, error) { return parseFrames(out) }

// FrameMarkers are the lines that open and close a frame.
var FrameMarkers = [2]string{frameBegin, frameEnd}

// GzipFrameBegin is the line that opens a gzip frame (closed as a plain one).
const GzipFrameBegin = frameBeginGzip
