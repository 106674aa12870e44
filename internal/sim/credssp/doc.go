// Package credssp accepts CredSSP logons (MS-CSSP over WinRM's HTTP authentication) and
// CredSSP-encrypted WS-Management bodies, the way a Windows WinRM listener with
// Enable-WSManCredSSP -Role Server does.
package credssp
