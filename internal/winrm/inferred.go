package winrm

// Windows behaviour the transport relies on, and its evidence.
//
// Terminating a cancelled command (Pool.execute): a Signal with code
// http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate ends the command's
// process, and the server answers a Receive blocked on it with CommandState Done (MS-WSMV 3.1.4.14
// Signal and 3.1.4.14.2 Receive, https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/;
// Signal may arrive while a Receive is outstanding, as masterzen/winrm and pywinrm send it). That
// a blocked Receive answers at once is [inferred]: no recording shows it. The transport does not
// rely on it for safety: it waits at most Options.CancelWait for the command's end, and says
// "it may still be running" when the server did not confirm it; the shell is deleted in any case
// (Delete kills every command of the shell, MS-WSMV 3.1.4.11).
//
// Keeping shells between commands (shells.go): a WinRS shell runs several commands one after
// another (MS-WSMV 3.1.4.10 Command names its ShellId; winrs and masterzen's Shell.Execute run more
// than one), but Windows refuses a new Command before the previous one's Done was received
// (MS-WSMV note <121>), so a shell is kept only after its command's Done and the Signal that ends
// it. A kept shell the server no longer knows (a restart, its idle timeout) answers Command with a
// w:InvalidSelectors fault, code 2150858843: that the unknown-ShellId fault has this subcode is
// [inferred] (reference/winrm-wsman.md §6 gives the code and message; the subcode is confirmed for
// an unknown CommandId only). The transport reopens a shell only on that fault or a refused
// connection, where the command certainly did not start; any other failure of a Command on a
// kept shell is returned, never repeated.
//
// Behaviours of the CredSSP transport that rest on other clients' practice rather than on a
// recording of a Windows host (none of CredSSP over WinRM is public), each with its evidence:
//
//   - The logon runs on empty POSTs carrying "Authorization: CredSSP <base64>", each answered by a
//     401 with "WWW-Authenticate: CredSSP <base64>", and the leg that delegates the credentials
//     by a 200; the connection then stays logged on (requests-credssp's HttpCredSSPAuth.handle_401
//     and pywinrm's transport, which opens the context with an empty POST before encrypting).
//   - NTLM tokens travel raw in TSRequest.negoTokens, not wrapped in SPNEGO: requests-credssp up to
//     1.x (jborean93/requests-credssp, before commit 26c331b) logged on to Windows that way through
//     the Negotiate package. SPNEGO would need a mechListMIC, and the NTLM library offers no
//     GetMIC; Windows' acceptance of raw tokens is inferred from that client's use.
//   - pubKeyAuth and authInfo are NTLM GSS_WrapEx output laid out signature first (16 bytes), then
//     the sealed bytes; the server key is the subjectPublicKey of the TLS certificate; versions 5+
//     bind it with SHA-256 and a 32-byte nonce, versions 2-4 answer with the first byte plus one
//     ([MS-CSSP] 3.1.5; pyspnego's _get_pub_key_auth and its test vectors, cssp/messages_test.go).
//   - A refused logon of version 3, 4 or 6+ carries errorCode STATUS_LOGON_FAILURE in the 401's
//     token (requests-credssp's functional test against Windows expects that status).
//   - The TLS channel inside CredSSP accepts TLS 1.0: Windows Server 2008's SChannel has nothing
//     newer, and 2008 R2 enables TLS 1.1/1.2 for servers only by registry. Under TLS 1.0 with a CBC
//     suite Go splits each record 1/n-1; whether Windows' WinRM decrypts such a two-record message
//     is not confirmed (OpenSSL-based clients send one record).
//   - Encrypted bodies follow pywinrm's encryption.py: parts of at most 16 KiB of plaintext, several
//     under multipart/x-multi-encrypted, each preceded by the TLS trailer length that SChannel's
//     stream sizes give (cssp.TrailerLength, pyspnego's _tls_trailer_length).
