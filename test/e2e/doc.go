// Package e2e runs the full story the way users drive the operator: the manager binary as a
// separate process, the emulator binary, a real API server, and kubectl.
package e2e
