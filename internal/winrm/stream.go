package winrm

import (
	"context"
	"io"
)

// stdoutKey carries the writer a command's standard output is streamed to.
type stdoutKey struct{}

// WithStdout returns a context under which Pool.Run copies the command's standard output to w as
// each Receive response arrives, instead of collecting it: Result.Stdout is then empty. w must
// keep accepting writes (an error stops the copy and fails the run); a command whose run fails
// may have written part of its output to w.
func WithStdout(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, stdoutKey{}, w)
}

// StdoutOf returns the writer of WithStdout, or nil (for executors other than Pool that stream).
func StdoutOf(ctx context.Context) io.Writer { return stdoutWriter(ctx) }

func stdoutWriter(ctx context.Context) io.Writer {
	w, _ := ctx.Value(stdoutKey{}).(io.Writer)
	return w
}
