// Package ocs is the typed admin agent for OCS 2007 R2 and Skype for Business Server: each
// operation is rendered as a script for the server's dialect, run over WinRM and parsed.
package ocs
