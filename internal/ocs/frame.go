package ocs

import (
	"bytes"
	"encoding/base64"
	"fmt"
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
const (
	frameBegin = "#ocsha-begin"
	frameEnd   = "#ocsha-end"
)

// psFrame renders the lines that print the byte array expr as one frame.
func psFrame(expr string) string {
	return "$d = " + expr + "\n" +
		"'" + frameBegin + "'\n" +
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

// parseFrames returns the frames of a command's output, in order. It works on the bytes as they
// came (no copy of the output as a string, no slice of all its lines): an export's output is a
// few megabytes, read while the manager holds little else.
func parseFrames(out []byte) ([][]byte, error) {
	var (
		frames [][]byte
		body   []byte
		open   bool
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
		case string(line) == frameBegin:
			if open {
				return nil, fmt.Errorf("%w: a frame begins inside another", ErrBadOutput)
			}
			open = true
			// The body is at most the rest of the output: one allocation, no regrowth.
			if cap(body) < len(out) {
				body = make([]byte, 0, len(out))
			}
			body = body[:0]
		case bytes.HasPrefix(line, []byte(frameEnd+" ")) && open:
			open = false
			data, err := frameData(body, line)
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
