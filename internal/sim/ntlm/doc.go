// Package ntlm verifies NTLMv2 logons and seals WS-Management bodies the way a Windows WinRM listener does.
package ntlm
