// Package harness starts and drives the processes the binary-level suites (test/e2e,
// test/faults) run: the manager and emulator binaries, a control plane, kubectl and the
// emulator's admin API. Its functions return errors; the suites assert on them.
package harness
