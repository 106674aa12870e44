// Package winrm runs command lines on Windows servers over WS-Management, one client per server,
// with concurrency limits, timeouts, safe retries and error classification.
package winrm
