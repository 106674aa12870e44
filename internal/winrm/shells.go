package winrm

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	mzwinrm "github.com/masterzen/winrm"
)

// shellCache keeps a server's shells open between commands, so that a burst of commands pays
// one WinRS Create and Delete per slot instead of one per command: Windows starts a shell host
// process for every Create. A shell holds one command at a time; one unused for the idle time is
// deleted.
type shellCache struct {
	idle time.Duration // <= 0: nothing is kept

	mu     sync.Mutex
	shells []*cachedShell
	closed bool
}

type cachedShell struct {
	shell *mzwinrm.Shell
	timer *time.Timer
}

// get returns an open shell, nil when none is idle.
func (c *shellCache) get() *mzwinrm.Shell {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.shells) > 0 {
		cs := c.shells[len(c.shells)-1]
		c.shells = c.shells[:len(c.shells)-1]
		if cs.timer.Stop() {
			return cs.shell
		}
		// Its expiry is deleting it at this moment.
	}
	return nil
}

// put keeps a shell whose last command ended normally; it reports false when the shell was not
// kept (the cache is closed or keeps nothing) and the caller must delete it.
func (c *shellCache) put(s *mzwinrm.Shell) bool {
	if c.idle <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	cs := &cachedShell{shell: s}
	cs.timer = time.AfterFunc(c.idle, func() { c.expire(cs) })
	c.shells = append(c.shells, cs)
	return true
}

// expire deletes a shell nobody used for the idle time.
func (c *shellCache) expire(cs *cachedShell) {
	c.mu.Lock()
	for i, x := range c.shells {
		if x == cs {
			c.shells = append(c.shells[:i], c.shells[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	_ = cs.shell.Close()
}

// closeAll deletes the idle shells, waiting at most wait for the server's answers, and keeps no
// shell from then on.
func (c *shellCache) closeAll(wait time.Duration) {
	c.mu.Lock()
	c.closed = true
	shells := c.shells
	c.shells = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, cs := range shells {
		if cs.timer.Stop() {
			wg.Go(func() { _ = cs.shell.Close() })
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
}

// shellLost tells whether the Command request on a kept shell certainly did not start the
// command: the server no longer knows the shell (it restarted, or expired the shell: a
// w:InvalidSelectors fault, code 2150858843, inferred.go), or the connection was refused.
// Anything else may have started it.
func shellLost(err error) bool {
	// masterzen's own transport returns the fault as an *ExecuteCommandError holding the body; the
	// NTLM and CredSSP transports as an error quoting it.
	text := err.Error()
	var execErr *mzwinrm.ExecuteCommandError
	if errors.As(err, &execErr) {
		text = execErr.Body
	}
	return strings.Contains(text, "w:InvalidSelectors") || strings.Contains(text, "2150858843") ||
		errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(text, "connection refused")
}
