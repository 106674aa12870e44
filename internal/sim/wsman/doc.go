// Package wsman serves the WS-Management cmd shell resource (WinRS) the way a Windows host does.
package wsman
