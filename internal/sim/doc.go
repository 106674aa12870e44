// Package sim runs the Windows/OCS emulator: one WS-Management endpoint per emulated server and
// an admin HTTP API over the shared emulated deployment.
package sim
