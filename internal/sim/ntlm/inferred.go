package ntlm

import "net/http"

// Behaviours below are [inferred]: chosen from client code and public reports, not confirmed
// against a Windows host.

// refuseUnencrypted answers an authenticated but unencrypted body over plain HTTP when the
// listener requires encryption (AllowUnencrypted=false).
//
// [inferred] Windows answers 401 with its usual empty Negotiate/Basic challenge, not a SOAP fault:
// public reports say NTLM clients without message encryption "constantly" get 401 from a default
// listener (hashicorp/packer issue 6205, analysed by a pywinrm maintainer), and pywinrm users
// sending Basic over HTTP see its 401 message "the specified credentials were rejected". Reports
// about Kerberos mention HTTP 500 instead; that scheme is not emulated. masterzen turns the empty
// 401 into "http response error: 401 - invalid content type", as for a wrong password.
func refuseUnencrypted(a *Authenticator, w http.ResponseWriter, r *http.Request) {
	a.unauthorized(w, r)
}

// statusBadSealedBody is the status of a sealed body that fails to unseal (bad framing, signature
// or sequence number).
//
// [inferred] 400 with an empty body; the security context is dropped, so the client's next
// request starts a new logon.
const statusBadSealedBody = http.StatusBadRequest

// keepsConnectionLogon reports whether a request without an Authorization header is served under
// its connection's NTLM logon.
//
// [inferred] An authenticated connection keeps its logon (http.sys connection-based
// authentication, which go-ntlmssp's Negotiator relies on by first trying every request without
// credentials), except for an empty POST: the sealing clients send one to open each new security
// context (masterzen before every message), so it restarts the handshake with a 401 instead of
// being answered under the old keys, which the client no longer has.
func keepsConnectionLogon(r *http.Request) bool {
	return r.ContentLength != 0
}
