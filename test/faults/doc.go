// Package faults is the fault-matrix suite: the manager and emulator binaries against a real
// API server, each scenario injecting one fault (a killed manager, a lost leader, a second crash,
// a flapping server, a defect of issue 20, latency spikes) and checking the end state from the
// emulator: every user homed once on a serving server, every contact where it must be.
package faults
