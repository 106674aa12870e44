package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// simReadyLine is what the emulator prints once every endpoint listens.
const simReadyLine = "ocs-sim ready"

// simReadyTimeout bounds the emulator's start.
const simReadyTimeout = 30 * time.Second

// Sim is a running emulator and the client of its admin API.
type Sim struct {
	Cmd   *exec.Cmd
	Admin string // base URL of the admin API
	done  chan struct{}
}

// StartSim runs the emulator binary with args, its admin API on 127.0.0.1:adminPort, and returns
// once it printed its ready line. Output after that line goes to out.
func StartSim(out io.Writer, bin string, adminPort int, args ...string) (*Sim, error) {
	args = append([]string{"--admin", fmt.Sprintf("127.0.0.1:%d", adminPort)}, args...)
	s := &Sim{Cmd: exec.Command(bin, args...), Admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort), done: make(chan struct{})}
	stdout, err := s.Cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.Cmd.Stderr = out
	if err := s.Cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go copyAfterReady(stdout, out, ready)
	go func() { _ = s.Cmd.Wait(); close(s.done) }()
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("the emulator exited before it was ready: %v", s.Cmd.ProcessState)
	case <-time.After(simReadyTimeout):
		s.Stop()
		return nil, fmt.Errorf("the emulator did not print %q within %s", simReadyLine, simReadyTimeout)
	}
}

// copyAfterReady reads the emulator's output until the ready line, closes ready, then copies
// the rest to out.
func copyAfterReady(stdout io.Reader, out io.Writer, ready chan<- struct{}) {
	buf := make([]byte, 4096)
	var seen strings.Builder
	for {
		n, err := stdout.Read(buf)
		seen.Write(buf[:n])
		if strings.Contains(seen.String(), simReadyLine) {
			close(ready)
			_, _ = io.Copy(out, stdout)
			return
		}
		if err != nil {
			return
		}
	}
}

// Stop interrupts the emulator and waits for it; a nil one is already stopped.
func (s *Sim) Stop() {
	if s == nil {
		return
	}
	_ = s.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(stopGrace):
		_ = s.Cmd.Process.Kill()
		<-s.done
	}
}

// Get decodes the JSON answer of GET path.
func (s *Sim) Get(path string, into any) error {
	resp, err := http.Get(s.Admin + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// Do sends method path with body (JSON, may be empty) and fails on a status of 300 or more.
func (s *Sim) Do(method, path, body string) error {
	req, err := http.NewRequest(method, s.Admin+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// Post sends POST path with no body (a server action such as /servers/ocs2/crash).
func (s *Sim) Post(path string) error { return s.Do(http.MethodPost, path, "") }

// UserPath is the admin API's path of a user's contact list.
func UserPath(sip string) string { return "/users/" + url.PathEscape(sip) }
