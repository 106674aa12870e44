package ocs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func TestUploadFitsCmdLines(t *testing.T) {
	for _, size := range []int{1, 100, 4000, 6000, 50000} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		var lines []string
		e := &scriptedExec{t: t}
		e.answer = func(c call) (Result, error) {
			if c.data != string(data) {
				t.Errorf("%d bytes: the script saw %d bytes", size, len(c.data))
			}
			return Result{}, nil
		}
		rec := &recordingExec{inner: e, lines: &lines}
		r := &runner{exec: rec, servers: map[string]Server{"ocs1": {Name: "ocs1"}}}
		script := func(up string) (string, error) {
			read, err := psReadUpload(up)
			return psHeader + read + strings.Repeat("# padding\n", 50), err
		}
		if _, err := r.runPSWithData(context.Background(), "Upload", "ocs1", data, script); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		for _, l := range lines {
			if len(l)+tempExpansion > maxCommandLine {
				t.Fatalf("%d bytes: a line of %d characters leaves no room for %%TEMP%%", size, len(l))
			}
			if !strings.HasPrefix(l, "echo ") {
				t.Fatalf("%d bytes: a line does not start with echo: %.40q", size, l)
			}
		}
		if want := len(lines); size > 6000 && want < 2 {
			t.Fatalf("%d bytes in %d command lines", size, want)
		}
		if size <= 100 && len(lines) != 1 {
			t.Fatalf("%d bytes took %d command lines, want the script's own", size, len(lines))
		}
	}
}

// recordingExec records the command lines before passing them on.
type recordingExec struct {
	inner Executor
	lines *[]string
}

func (r *recordingExec) Run(ctx context.Context, server, command string, stdin []byte) (Result, error) {
	*r.lines = append(*r.lines, command)
	return r.inner.Run(ctx, server, command, stdin)
}

// TestImportPayloadTakesFewerLines: an import of 100 users with 20 contacts each travels gzipped
// in a fraction of the echo lines its plain payload would take.
func TestImportPayloadTakesFewerLines(t *testing.T) {
	var b strings.Builder
	for u := range 100 {
		for c := range 20 {
			fmt.Fprintf(&b, `<contact buddy="user%04d@corp.example.com" subscribePresence="true" groups="1"/>`, (u*31+c)%2000)
		}
	}
	plain := []byte(b.String())
	packed, err := gzipPayload(plain)
	if err != nil {
		t.Fatal(err)
	}
	lines := func(n int) int {
		return (base64.StdEncoding.EncodedLen(n) + chunkRoom(tempName(uploadSuffix), 0) - 1) / chunkRoom(tempName(uploadSuffix), 0)
	}
	if got, was := lines(len(packed)), lines(len(plain)); got*4 > was {
		t.Fatalf("gzipped payload takes %d echo lines, plain %d: want at most a quarter", got, was)
	}
}
