// Package cmdexe emulates cmd.exe /C: command-line composition, built-ins, redirection and the
// dispatch to the emulated server's programs.
package cmdexe
