package ocs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocsha/ocs-ha-operator/internal/winrm"
)

// A warm PowerShell is one powershell.exe per busy slot of a Skype for Business server, kept
// running between operations so that Import-Module SkypeForBusiness (seconds) and the process
// start are paid once, not per operation (inferred.go, "Warm PowerShell"). It runs
// `powershell.exe -Command -` over WinRS with stdin left open; each request is PowerShell text
// sent on stdin, and its answer is the frames it prints followed by a done line carrying the
// request's nonce and outcome:
//
//	#ocsha-error <nonce> <base64 of the error's message>   (only when the request failed)
//	#ocsha-done <nonce> <0 | 1 | 9>                        (9: the request did not run)
//
// User names and uploaded files travel only as base64 literals (psInlineData), never as text.
// A request whose done line did not arrive may have run: its process is ended, and the error
// says so; it is not sent again, the callers read its effect back as they do for a lost command.

// processStarter is what a warm PowerShell needs of the executor (winrm.Pool implements it).
type processStarter interface {
	StartProcess(ctx context.Context, server, command string) (*winrm.Process, error)
	Hold(ctx context.Context, server string) (func(), error)
	PowerShellIdle() time.Duration
}

const (
	// warmCommand starts the persistent process: commands from stdin, one statement at a time.
	warmCommand = "powershell.exe -NoProfile -NonInteractive -Command -"
	warmDone    = "#ocsha-done "
	warmError   = "#ocsha-error "
	// warmExit replaces `exit 1` in a request: exit would end the persistent process.
	warmExit = "#ocsha-exit"
	// warmDataLine bounds the base64 characters of one line of inline data.
	warmDataLine = 32 * 1024
	// warmCloseWait bounds the wait for a failed process to confirm its end.
	warmCloseWait = 5 * time.Second
)

// errNotWarm: the script cannot run in a persistent process (it exits or holds a here-string);
// it runs in a powershell.exe of its own.
var errNotWarm = errors.New("script not suitable for a persistent PowerShell")

// warmPS keeps the idle persistent processes of each server.
type warmPS struct {
	exec processStarter
	idle time.Duration

	mu    sync.Mutex
	procs map[string][]*warmProc // idle ones, by server
}

type warmProc struct {
	pr    *winrm.Process
	timer *time.Timer
}

// newWarmPS returns the warm PowerShell of exec, nil when exec cannot keep one or keeps none.
func newWarmPS(exec Executor) *warmPS {
	ps, ok := exec.(processStarter)
	if !ok || ps.PowerShellIdle() <= 0 {
		return nil
	}
	return &warmPS{exec: ps, idle: ps.PowerShellIdle(), procs: map[string][]*warmProc{}}
}

// run runs script in a persistent process of server, under one of its slots.
func (w *warmPS) run(ctx context.Context, op, server, script string) (Result, error) {
	body, err := warmBody(script)
	if err != nil {
		return Result{}, err
	}
	release, err := w.exec.Hold(ctx, server)
	if err != nil {
		return Result{}, opError(op, server, err)
	}
	defer release()
	nonce := newNonce()
	req := []byte(warmRequest(body, nonce))
	for {
		wp, kept, err := w.get(ctx, server)
		if err != nil {
			return Result{}, opError(op, server, err)
		}
		if kept && !alive(ctx, wp.pr) {
			// Lost while idle (a restart, a dropped connection): the request never reached it.
			wp.pr.Close(warmCloseWait)
			continue
		}
		if err := wp.pr.Send(req); err != nil {
			wp.pr.Close(warmCloseWait)
			return Result{}, opError(op, server, fmt.Errorf("sending a request to the persistent PowerShell (it may have run): %w", err))
		}
		res, err := readAnswer(ctx, wp.pr, nonce)
		if err != nil {
			wp.pr.Close(warmCloseWait)
			return Result{}, opError(op, server, err)
		}
		w.put(server, wp)
		return res, nil
	}
}

// alive sends a kept process an empty request and waits for its answer. An empty request does
// nothing, so losing it is harmless; a process that does not answer it is replaced before the
// real request is sent, which then certainly did not run anywhere.
func alive(ctx context.Context, pr *winrm.Process) bool {
	nonce := newNonce()
	if err := pr.Send([]byte(warmRequest("", nonce))); err != nil {
		return false
	}
	res, err := readAnswer(ctx, pr, nonce)
	return err == nil && res.ExitCode == 0
}

// get returns an idle process of server (kept) or starts one.
func (w *warmPS) get(ctx context.Context, server string) (*warmProc, bool, error) {
	w.mu.Lock()
	for procs := w.procs[server]; len(procs) > 0; procs = w.procs[server] {
		wp := procs[len(procs)-1]
		w.procs[server] = procs[:len(procs)-1]
		if !wp.timer.Stop() {
			continue // its idle time is up: it is being closed
		}
		select {
		case <-wp.pr.Done():
			continue // it ended meanwhile
		default:
		}
		w.mu.Unlock()
		return wp, true, nil
	}
	w.mu.Unlock()
	pr, err := w.exec.StartProcess(ctx, server, warmCommand)
	if err != nil {
		return nil, false, err
	}
	return &warmProc{pr: pr}, false, nil
}

// put keeps a process that answered, ending it once idle for w.idle.
func (w *warmPS) put(server string, wp *warmProc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wp.timer = time.AfterFunc(w.idle, func() {
		w.mu.Lock()
		procs := w.procs[server]
		for i, x := range procs {
			if x == wp {
				w.procs[server] = append(procs[:i], procs[i+1:]...)
				break
			}
		}
		w.mu.Unlock()
		wp.pr.Close(warmCloseWait)
	})
	w.procs[server] = append(w.procs[server], wp)
}

func newNonce() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// warmBody turns a script into the body of a request: without blank lines (on stdin a blank
// line ends a statement still open, inferred.go), with `exit 1` turned into a throw the request
// wrapper catches. A script holding a here-string, or another exit, is refused (errNotWarm).
func warmBody(script string) (string, error) {
	var b strings.Builder
	for _, line := range strings.Split(script, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case strings.HasSuffix(t, "@'") || strings.HasSuffix(t, "@\""):
			return "", errNotWarm
		case t == "exit 1":
			line = "throw '" + warmExit + "'"
		case t == "exit" || strings.HasPrefix(t, "exit ") || strings.Contains(t, "; exit") || strings.Contains(t, "{ exit"):
			return "", errNotWarm
		}
		b.WriteString(strings.TrimRight(line, "\r"))
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// warmRequest wraps a body: one try statement, a blank line that ends it, then the done line.
func warmRequest(body, nonce string) string {
	return "$ocsRc = 9\n" +
		"try {\n" + body + "$ocsRc = 0\n" +
		"} catch {\n$ocsRc = 1\n" +
		"'" + warmError + nonce + " ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($_.Exception.Message))\n" +
		"}\n\n" +
		"'" + warmDone + nonce + " ' + $ocsRc\n\n"
}

// psInlineData renders the lines that set $data to data, as base64 literals of bounded lines.
func psInlineData(data []byte) string {
	b64 := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.WriteString("$ocsD = ''\n")
	for len(b64) > 0 {
		n := min(len(b64), warmDataLine)
		b.WriteString("$ocsD = $ocsD + '" + b64[:n] + "'\n")
		b64 = b64[n:]
	}
	b.WriteString("$data = [Convert]::FromBase64String($ocsD)\n")
	return b.String()
}

// readAnswer reads a request's output up to its done line and makes it a Result: stdout the
// lines before, the exit code from the done line, stderr the error's message.
func readAnswer(ctx context.Context, pr *winrm.Process, nonce string) (Result, error) {
	var out bytes.Buffer
	var message string
	for {
		line, err := pr.ReadLine(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: the persistent PowerShell ended (exit code %d) before it answered; the request may have run",
					winrm.ErrUnreachable, pr.ExitCode())
			} else {
				err = fmt.Errorf("the persistent PowerShell did not answer; the request may have run: %w", err)
			}
			return Result{}, err
		}
		text := strings.TrimSpace(string(line))
		if rest, ok := strings.CutPrefix(text, warmError+nonce+" "); ok {
			if m, err := base64.StdEncoding.DecodeString(rest); err == nil && string(m) != warmExit {
				message = string(m)
			}
			continue
		}
		if rest, ok := strings.CutPrefix(text, warmDone+nonce+" "); ok {
			code, err := strconv.Atoi(rest)
			if err != nil {
				return Result{}, fmt.Errorf("%w: done line %q", ErrBadOutput, text)
			}
			if code == 9 {
				// The request did not run: PowerShell could not parse it.
				return Result{Stdout: out.Bytes(), Stderr: pr.Stderr(), ExitCode: 1}, nil
			}
			return Result{Stdout: out.Bytes(), Stderr: []byte(message), ExitCode: code}, nil
		}
		out.Write(line)
	}
}

// runPS runs script in a warm PowerShell of server when the agent keeps them, else in a
// powershell.exe of its own (runner.runPS). A non-zero exit code is a CommandError either way.
func (d *sfbDialect) runPS(ctx context.Context, op, server, script string, stdin []byte) (Result, error) {
	if d.warm != nil && stdin == nil {
		res, err := d.warm.run(ctx, op, server, script)
		if !errors.Is(err, errNotWarm) {
			return exitChecked(op, server, res, err)
		}
	}
	return d.runner.runPS(ctx, op, server, script, stdin)
}

// runPSWithData is runner.runPSWithData, with data carried inside the request (psInlineData)
// when the script runs in a warm PowerShell: the lines that would read the upload's file are
// replaced by the lines that decode the inline copy.
func (d *sfbDialect) runPSWithData(ctx context.Context, op, server string, data []byte, render func(upload string) (string, error)) (Result, error) {
	if d.warm != nil {
		name := tempName(uploadSuffix)
		script, err := render(name)
		if err != nil {
			return Result{}, fmt.Errorf("%s on %s: %w", op, server, err)
		}
		read, err := psReadUpload(name)
		if err == nil && strings.Count(script, read) == 1 {
			res, err := d.warm.run(ctx, op, server, strings.Replace(script, read, psInlineData(data), 1))
			if !errors.Is(err, errNotWarm) {
				return exitChecked(op, server, res, err)
			}
		}
	}
	return d.runner.runPSWithData(ctx, op, server, data, render)
}

// exitChecked turns a non-zero exit code into a CommandError, as runner.runOK does.
func exitChecked(op, server string, res Result, err error) (Result, error) {
	if err == nil && res.ExitCode != 0 {
		err = commandError(op, server, res)
	}
	return res, err
}
