// Command bench measures failover, drain, backup, the manual procedure and the manager's memory
// against the emulator's cost model, and writes docs/benchmarks.md and bin/bench/results.json.
package main
