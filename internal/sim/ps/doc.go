// Package ps is a small PowerShell interpreter for the subset of scripts the operator sends to
// an emulated Windows server (see docs/admin-scripts.md).
package ps
