// Package cssp holds the pieces of MS-CSSP (CredSSP) that both ends of a WinRM CredSSP logon share:
// the TSRequest and TSCredentials messages, the public-key binding, TLS run over a token exchange,
// and the MS-WSMV framing of CredSSP-encrypted bodies.
package cssp
