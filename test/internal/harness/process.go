package harness

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// stopGrace is how long Stop waits after an interrupt before it kills the process.
const stopGrace = 20 * time.Second

// Process is a started binary whose combined output is kept for the test to read.
type Process struct {
	Cmd  *exec.Cmd
	Log  *SyncBuffer
	done chan struct{}
}

// Start runs bin with args and env added to the environment; its output goes to Log and to out
// (e.g. GinkgoWriter).
func Start(out io.Writer, env []string, bin string, args ...string) (*Process, error) {
	p := &Process{Cmd: exec.Command(bin, args...), Log: &SyncBuffer{}, done: make(chan struct{})}
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout = io.MultiWriter(p.Log, out)
	p.Cmd.Stderr = p.Cmd.Stdout
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Stop interrupts the process and waits for it, killing it if it outlives stopGrace. A nil
// process is already stopped.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		p.Kill()
	}
}

// Kill sends SIGKILL, as a node failure or an OOM kill would, and waits until the process is gone.
func (p *Process) Kill() {
	if p == nil {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// SyncBuffer collects a process's output while tests read it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it is safe beside String.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
