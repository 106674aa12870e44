package ps

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/ocsha/ocs-ha-operator/internal/sim/cmdexe"
)

// masterzenPrefix is what masterzen/winrm's Powershell() puts before every script.
const masterzenPrefix = "$ProgressPreference = 'SilentlyContinue';"

// Invocation is a decoded powershell.exe command line.
type Invocation struct {
	// Script is the command text; empty with FromStdin.
	Script string
	// FromStdin is `-Command -`, `-` or no command: the script is standard input, run line by
	// line.
	FromStdin bool
	// NonInteractive is -NonInteractive: a prompt is an error instead of a question.
	NonInteractive bool
}

// errUsage is a command line powershell.exe would refuse.
var errUsage = errors.New("powershell usage")

// DecodeArgs interprets powershell.exe parameters (case-insensitive, unambiguous prefixes).
func DecodeArgs(args []string) (Invocation, error) {
	nonInteractive := false
	inv, err := decodeArgs(args, &nonInteractive)
	inv.NonInteractive = nonInteractive
	return inv, err
}

func decodeArgs(args []string, nonInteractive *bool) (Invocation, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-" {
			return Invocation{FromStdin: true}, nil
		}
		if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "/") {
			return Invocation{Script: strings.Join(args[i:], " ")}, nil
		}
		name := strings.ToLower(a[1:])
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%w: missing value for %s", errUsage, a)
			}
			i++
			return args[i], nil
		}
		switch {
		case name == "":
			return Invocation{}, fmt.Errorf("%w: empty parameter", errUsage)
		case name == "ec" || strings.HasPrefix("encodedcommand", name):
			v, err := value()
			if err != nil {
				return Invocation{}, err
			}
			script, err := DecodeEncodedCommand(v)
			return Invocation{Script: script}, err
		case len(name) >= 2 && strings.HasPrefix("executionpolicy", name),
			len(name) >= 2 && strings.HasPrefix("inputformat", name),
			len(name) >= 2 && strings.HasPrefix("outputformat", name),
			len(name) >= 1 && strings.HasPrefix("windowstyle", name):
			if _, err := value(); err != nil {
				return Invocation{}, err
			}
		case len(name) >= 4 && strings.HasPrefix("noninteractive", name):
			*nonInteractive = true
		case len(name) >= 3 && strings.HasPrefix("noprofile", name),
			len(name) >= 3 && strings.HasPrefix("nologo", name),
			name == "sta", name == "mta":
		case strings.HasPrefix("command", name):
			rest := args[i+1:]
			if len(rest) == 0 || len(rest) == 1 && rest[0] == "-" {
				return Invocation{FromStdin: true}, nil
			}
			return Invocation{Script: strings.Join(rest, " ")}, nil
		default:
			// powershell.exe takes the first unknown token as the start of the command.
			return Invocation{Script: strings.Join(args[i:], " ")}, nil
		}
	}
	return Invocation{FromStdin: true}, nil
}

// DecodeEncodedCommand turns an -EncodedCommand value into the script text, without a BOM
// and without masterzen's progress prefix.
func DecodeEncodedCommand(v string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw)%2 != 0 {
		return "", fmt.Errorf("%w: the value of -EncodedCommand is not valid base64 UTF-16LE", errUsage)
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	s := strings.TrimPrefix(string(utf16.Decode(u)), "\uFEFF")
	return strings.TrimPrefix(s, masterzenPrefix), nil
}

// EncodeCommand is the inverse of DecodeEncodedCommand (for tests and tools).
func EncodeCommand(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

const encodedUsage = "Cannot process the command because the value specified with -EncodedCommand is not " +
	"properly encoded. The value must be Base64 encoded.\r\n"

// ProgramConfig configures NewProgram.
type ProgramConfig struct {
	// Cmdlets, when set, is called per process for cmdlets to add to the built-ins, so that the
	// host can bind them to the server and the call.
	Cmdlets func(p *cmdexe.Proc) Registry
	// Sleep is what Start-Sleep waits with (nil: a real timer).
	Sleep SleepFunc
	// Native finds the program a native command names (the & operator); nil: none can run.
	Native func(name string) cmdexe.Program
	// ConsoleWidth wraps stdout and stderr at this many columns, as a PowerShell 2.0 host
	// does over WinRM; 0 does not wrap.
	ConsoleWidth int
	// Version is the PowerShell version: "1.0", "2.0" (default) or "5.1".
	Version string
	// DrainStdin makes a command given on the command line (-EncodedCommand, -Command text)
	// find standard input already consumed: powershell.exe reads redirected stdin to its end
	// first and [Console]::In reads nothing. See host/inferred.go for why the emulated
	// PowerShell 1.0 and 2.0 hosts do so.
	DrainStdin bool
}

// NewProgram returns powershell.exe with the built-in cmdlets plus those of cfg.Cmdlets. A
// command given on the command line runs as one script; a script on standard input (`-`,
// `-Command -`) runs line by line as it arrives (see RunLines).
func NewProgram(cfg ProgramConfig) cmdexe.Program {
	return func(ctx context.Context, p *cmdexe.Proc) int {
		stdout, stderr := newWrapWriter(p.Stdout, cfg.ConsoleWidth), newWrapWriter(p.Stderr, cfg.ConsoleWidth)
		inv, err := DecodeArgs(p.Args)
		if err != nil {
			_, _ = io.WriteString(stderr, encodedUsage)
			return 1
		}
		stdin := p.Stdin
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		reg := Builtins()
		if cfg.Version == "1.0" {
			// ConvertTo-Csv came with PowerShell 2.0.
			delete(reg, "convertto-csv")
		}
		if cfg.Cmdlets != nil {
			for k, c := range cfg.Cmdlets(p) {
				reg[k] = c
			}
		}
		// A copy: $env: assignments must not leak into other processes.
		env := make(map[string]string, len(p.Env))
		for k, v := range p.Env {
			env[k] = v
		}
		s := &Session{FS: p.FS, Env: env, Stdin: stdin, Dir: p.Dir, Cmdlets: reg, Sleep: cfg.Sleep, Native: cfg.Native,
			NonInteractive: inv.NonInteractive, Version: cfg.Version}
		if inv.FromStdin {
			// The script is standard input; [Console]::In in it reads nothing more.
			s.Stdin = strings.NewReader("")
			return RunLines(ctx, s, stdin, stdout, stderr)
		}
		if cfg.DrainStdin {
			// Like the real host, this waits for the end of stdin: a client that never closes
			// it hangs the command (ocs-evidence.md #14).
			if err := drain(ctx, stdin); err != nil {
				return 1
			}
			s.Stdin = strings.NewReader("")
		}
		return Run(ctx, s, inv.Script, stdout, stderr)
	}
}

// drain reads r to its end, or gives up when ctx ends (the command was stopped).
func drain(ctx context.Context, r io.Reader) error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
