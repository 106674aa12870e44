package ocs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/sim"
	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

func TestParseFrames(t *testing.T) {
	tests := map[string]struct {
		out     string
		want    []string
		wantErr bool
	}{
		"chatter around two frames":      {out: "tool says hi\r\n" + frame("one") + "more chatter\r\n" + frame(""), want: []string{"one", ""}},
		"a wrapped base64 line":          {out: frameBegin + "\r\nYWJj\r\nZGVm\r\n" + frameEnd + " 6\r\n", want: []string{"abcdef"}},
		"blanks inside a line":           {out: frameBegin + "\r\nYW Jj\r\n" + frameEnd + " 3\r\n", want: []string{"abc"}},
		"no frame":                       {out: "nothing\r\n"},
		"cut short":                      {out: frameBegin + "\r\nYWJj\r\n", wantErr: true},
		"count does not match":           {out: frameBegin + "\r\nYWJj\r\n" + frameEnd + " 4\r\n", wantErr: true},
		"not base64":                     {out: frameBegin + "\r\n!!!!\r\n" + frameEnd + " 3\r\n", wantErr: true},
		"a frame inside a frame":         {out: frameBegin + "\r\n" + frameBegin + "\r\n", wantErr: true},
		"an end without a count is data": {out: frameBegin + "\r\nYWJj\r\n" + frameEnd + "\r\n", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseFrames([]byte(tc.out))
			if tc.wantErr {
				if !errors.Is(err, ErrBadOutput) {
					t.Fatalf("err = %v, want ErrBadOutput", err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Fatalf("frame %d = %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func FuzzParseFrames(f *testing.F) {
	f.Add([]byte(frame("abc") + "x\r\n" + frame("")))
	f.Add([]byte(frameBegin + "\r\nYW\r\nJj\r\n" + frameEnd + " 3\r\n"))
	f.Add([]byte(frameEnd + " 3\r\n" + frameBegin))
	f.Fuzz(func(t *testing.T, out []byte) {
		frames, err := parseFrames(out)
		if err == nil && bytes.Count(out, []byte(frameEnd)) < len(frames) {
			t.Fatalf("%d frames from %d end markers", len(frames), bytes.Count(out, []byte(frameEnd)))
		}
	})
}

// TestReadBackSurvivesTheConsoleWidth reads files back through the emulator at its default
// console width (80 columns, OCS 2007 R2): every byte must come back, and no line the agent
// reads may have been wrapped.
func TestReadBackSurvivesTheConsoleWidth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := sim.Start(ctx, sim.Config{Servers: []string{"ocs1"}, Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pool := winrm.NewPool(winrm.Options{MaxConcurrent: 2})
	defer pool.Close()
	if err := pool.SetTargets([]winrm.Target{{Server: "ocs1", Endpoint: e.Endpoint("ocs1"), Username: sim.DefaultUsername, Password: sim.DefaultPassword, AllowUnencryptedBasic: true}}); err != nil {
		t.Fatal(err)
	}
	r := &runner{exec: pool, servers: map[string]Server{"ocs1": {Name: "ocs1", FQDN: "ocs1.corp.example.com"}}}
	fs := e.World().(interface{ FS(string) *winfs.FS }).FS("ocs1")
	for _, size := range []int{0, 1, 57, 1 << 20} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		name := tempName(".bin")
		if err := fs.WriteFile(winfs.TempDir+`\`+name, data); err != nil {
			t.Fatal(err)
		}
		script, err := readDeleteScript(psHeader, name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.runPS(ctx, "ReadBack", "ocs1", script, nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		for _, line := range strings.Split(string(res.Stdout), "\n") {
			if n := len(strings.TrimSuffix(line, "\r")); n >= 80 {
				t.Fatalf("%d bytes: a line of %d characters reached the console: %q", size, n, line)
			}
		}
		files, err := framesOf("ReadBack", "ocs1", 1)(res, nil)
		if err != nil || !bytes.Equal(files[0], data) {
			t.Fatalf("%d bytes: read back %d bytes, %v", size, len(files[0]), err)
		}
		if fs.Exists(winfs.TempDir + `\` + name) {
			t.Fatalf("%d bytes: the file was not deleted", size)
		}
	}
}

// emulatorAgent is an agent for both servers of e through a real WinRM pool.
func emulatorAgent(t *testing.T, e *sim.Emulator, product Product, opts ...Option) Agent {
	t.Helper()
	pool := winrm.NewPool(winrm.Options{MaxConcurrent: 2})
	t.Cleanup(pool.Close)
	var targets []winrm.Target
	for _, s := range testServers {
		targets = append(targets, winrm.Target{Server: s.Name, Endpoint: e.Endpoint(s.Name), Username: sim.DefaultUsername, Password: sim.DefaultPassword, AllowUnencryptedBasic: true})
	}
	if err := pool.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent(product, testServers, pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
