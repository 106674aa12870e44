package credssp

import "net/http"

// Behaviours below are [inferred]: chosen from the protocol documents and client code, not
// confirmed against a Windows host.

// refuseUnencrypted answers an authenticated but unencrypted body over plain HTTP when the
// listener requires encryption (AllowUnencrypted=false): the listener's usual 401, as for NTLM
// (internal/sim/ntlm/inferred.go gives the reports this rests on).
func refuseUnencrypted(a *Authenticator, w http.ResponseWriter, r *http.Request) {
	drain(r)
	a.Other.ServeHTTP(w, withoutAuthorization(r))
}

// statusBadEncryptedBody is the status of an encrypted body that does not decrypt.
//
// [inferred] 400 with an empty body, as for NTLM-sealed bodies; the logon is dropped, so the
// client's next request starts a new one.
const statusBadEncryptedBody = http.StatusBadRequest

// Other inferred choices, documented where they are made:
//   - Raw NTLMSSP tokens in TSRequest.negoTokens are accepted (requests-credssp up to 1.x sent them
//     to Windows hosts, jborean93/requests-credssp before commit 26c331b); SPNEGO-wrapped tokens
//     are refused (ErrSPNEGO) because no client of this project sends them.
//   - A failed logon of a TSRequest version with errorCode (3, 4, 6+) is answered with a 401 whose
//     CredSSP token carries STATUS_LOGON_FAILURE; requests-credssp's functional test against
//     Windows expects exactly that status for a wrong password (tests/test_credssp.py,
//     test_credssp_with_wrong_credentials). Other versions get the plain 401.
//   - The delegated TSPasswordCreds must name the account the NTLM logon proved and carry its
//     password; Windows would accept other credentials and fail later, at the second hop.
//   - The TLS channel offers TLS 1.0 only by default: SChannel of Windows Server 2008 and of
//     2008 R2 as installed (TLS 1.1/1.2 need a registry change on 2008 R2).
