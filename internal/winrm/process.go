package winrm

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	mzwinrm "github.com/masterzen/winrm"
)

// Process is a command left running on a server with its standard input open: the caller sends
// input piece by piece (WinRS Send without End) and reads its output lines as the server's
// Receive responses bring them. It runs in a shell of its own, created for it and deleted with
// it, outside the shells kept for Run. Its lines are read by one reader at a time.
type Process struct {
	server   string
	password string
	shell    *mzwinrm.Shell
	cmd      *mzwinrm.Command

	lines chan []byte // stdout, one line at a time (with its line end), closed at the end
	done  chan struct{}

	mu     sync.Mutex
	stderr []byte
	err    error // why the output ended, when it ended otherwise than by the command's exit

	closeOnce sync.Once
}

// maxStderrKept bounds what a Process keeps of its standard error.
const maxStderrKept = 64 * 1024

// StartProcess starts command on server in a new shell of its own and leaves its standard input
// open. Creating the shell is retried as Run retries it; once the command started, nothing is.
// The process takes none of the server's slots: its caller holds one (Hold) while it works.
func (p *Pool) StartProcess(ctx context.Context, server, command string) (*Process, error) {
	p.mu.Lock()
	t, closed := p.targets[server], p.closed
	p.mu.Unlock()
	if closed {
		return nil, &Error{Server: server, Kind: ErrUnreachable, Detail: "pool closed"}
	}
	if t == nil {
		return nil, &Error{Server: server, Kind: ErrUnknownServer}
	}
	shell, err := p.createShell(ctx, t)
	if err != nil {
		return nil, err
	}
	cmd, err := shell.ExecuteWithContext(context.WithoutCancel(ctx), command)
	if err != nil {
		_ = shell.Close()
		return nil, classify(t.server, err, t.password)
	}
	pr := &Process{server: server, password: t.password, shell: shell, cmd: cmd,
		lines: make(chan []byte, 64), done: make(chan struct{})}
	t.procs.add(pr)
	go func() {
		pr.pump()
		t.procs.remove(pr)
	}()
	return pr, nil
}

// processSet tracks a target's live processes, so that closing the pool ends them rather than
// leaving each on the server until WinRS expires its shell (two hours by default).
type processSet struct {
	mu   sync.Mutex
	live map[*Process]struct{}
}

func (s *processSet) add(pr *Process) {
	s.mu.Lock()
	s.live[pr] = struct{}{}
	s.mu.Unlock()
}

func (s *processSet) remove(pr *Process) {
	s.mu.Lock()
	delete(s.live, pr)
	s.mu.Unlock()
}

// closeAll ends every live process, waiting at most wait for each server's confirmations.
func (s *processSet) closeAll(wait time.Duration) {
	s.mu.Lock()
	live := make([]*Process, 0, len(s.live))
	for pr := range s.live {
		live = append(live, pr)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, pr := range live {
		wg.Go(func() { pr.Close(wait) })
	}
	wg.Wait()
}

// createShell creates a shell, retrying only failures after which no shell exists.
func (p *Pool) createShell(ctx context.Context, t *target) (*mzwinrm.Shell, error) {
	backoff := p.opts.Backoff
	for attempt := 1; ; attempt++ {
		shell, err := t.client.CreateShell()
		if err == nil {
			return shell, nil
		}
		cerr := classify(t.server, err, t.password)
		if attempt >= p.opts.Attempts || IsTerminal(cerr) || !errors.Is(cerr, ErrUnreachable) {
			return nil, cerr
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, classify(t.server, ctx.Err(), "")
		}
		backoff *= 2
	}
}

// Hold takes one of server's MaxConcurrent slots (its probe slot for a probe's ctx, AsProbe), as
// a Run does for its command, and returns its release: a Process's request counts against the
// server's concurrency like a command.
func (p *Pool) Hold(ctx context.Context, server string) (func(), error) {
	p.mu.Lock()
	slot := p.slots[server]
	if isProbe(ctx) {
		slot = p.probeSlots[server]
	}
	p.mu.Unlock()
	if slot == nil {
		return nil, &Error{Server: server, Kind: ErrUnknownServer}
	}
	select {
	case slot <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-slot }) }, nil
	case <-ctx.Done():
		return nil, classify(server, ctx.Err(), "")
	}
}

// pump reads the command's output until it ends: stdout line by line into lines, stderr into a
// bounded buffer. Both must be read all the time, or masterzen's Receive loop stalls.
func (pr *Process) pump() {
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.cmd.Stderr.Read(buf)
			pr.mu.Lock()
			if room := maxStderrKept - len(pr.stderr); room > 0 {
				pr.stderr = append(pr.stderr, buf[:min(n, room)]...)
			}
			pr.mu.Unlock()
			if err != nil {
				return
			}
		}
	})
	r := bufio.NewReaderSize(pr.cmd.Stdout, 64*1024)
	var outErr error
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			pr.lines <- line
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				outErr = err
			}
			break
		}
	}
	wg.Wait()
	pr.cmd.Wait()
	pr.mu.Lock()
	if outErr != nil {
		pr.err = classify(pr.server, outErr, pr.password)
	}
	pr.mu.Unlock()
	close(pr.lines)
	close(pr.done)
}

// Send writes data to the process's standard input, in pieces no larger than one envelope
// carries, and leaves it open. An error means some of data may have reached the process.
func (pr *Process) Send(data []byte) error {
	for len(data) > 0 {
		n := min(len(data), maxSendChunk)
		if _, err := pr.cmd.Stdin.Write(data[:n]); err != nil {
			return classify(pr.server, err, pr.password)
		}
		data = data[n:]
	}
	return nil
}

// ReadLine returns the next line of standard output (with its line end). At the end of the
// output it returns io.EOF, or the transport error that ended it; when ctx ends first, ctx's
// error classified as Run's.
func (pr *Process) ReadLine(ctx context.Context) ([]byte, error) {
	select {
	case line, ok := <-pr.lines:
		if ok {
			return line, nil
		}
		pr.mu.Lock()
		err := pr.err
		pr.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, io.EOF
	case <-ctx.Done():
		return nil, classify(pr.server, ctx.Err(), "")
	}
}

// Stderr returns what the process wrote to standard error so far (at most 64 KiB).
func (pr *Process) Stderr() []byte {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return append([]byte(nil), pr.stderr...)
}

// Done is closed once the process ended and its output was read to the end.
func (pr *Process) Done() <-chan struct{} { return pr.done }

// ExitCode is the process's exit code, once Done is closed.
func (pr *Process) ExitCode() int { return pr.cmd.ExitCode() }

// Close ends the process: it signals the command to terminate and deletes its shell, waiting at most wait for the server to confirm that the command ended. It
// reports whether the end was confirmed.
func (pr *Process) Close(wait time.Duration) bool {
	pr.closeOnce.Do(func() {
		go func() {
			_ = pr.cmd.Close()
			// Unread output would hold masterzen's loop: drop it.
			for range pr.lines {
			}
			_ = pr.shell.Close()
		}()
	})
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-pr.done:
		return true
	case <-timer.C:
		return false
	}
}

// PowerShellIdle is Options.PowerShellIdle: how long a caller keeps an idle persistent
// powershell.exe (negative: it keeps none).
func (p *Pool) PowerShellIdle() time.Duration { return p.opts.PowerShellIdle }
