package cmdexe

import (
	"context"
	"io"

	"github.com/ocsha/ocs-ha-operator/internal/sim/winfs"
)

// Program is an executable of the emulated server (sc.exe, dbimpexp.exe, powershell.exe, …).
// It returns the process exit code.
type Program func(ctx context.Context, p *Proc) int

// Proc is what a program sees of its process.
type Proc struct {
	// Name is the program name as typed (e.g. "DBImpExp.exe").
	Name string
	// Args are the arguments split by the Windows command-line rules (quotes removed).
	Args []string
	// RawArgs is the argument text after the program name, as cmd.exe passed it on.
	RawArgs string
	// Stdin is the command's standard input: the bytes the client Sends, EOF at End.
	Stdin io.Reader
	// Stdout and Stderr receive the program's output bytes as they are produced.
	Stdout, Stderr io.Writer
	// FS is the server's file system.
	FS *winfs.FS
	// Env holds the environment variables (upper-case names), TEMP among them.
	Env map[string]string
	// Dir is the working directory.
	Dir string
	// CodePage is the shell's code page (65001 or 437); output is already converted to it, so
	// programs write UTF-8.
	CodePage int
}
