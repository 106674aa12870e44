package ntlm

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// maxBody bounds a request body read here; the WS-Management handler has its own, lower limit.
const maxBody = 64 << 20

// Authenticator puts WinRM's HTTP authentication in front of a WS-Management handler: Basic for
// local accounts, NTLM (raw NTLMSSP tokens under the Negotiate or NTLM scheme) for every account,
// and MS-WSMV message encryption. NTLM authenticates the TCP connection, so the http.Server must
// install ConnContext. Fields must not change while serving.
type Authenticator struct {
	// Server names the host and holds the accounts.
	Server
	// AllowBasic and AllowNTLM are the listener's Auth/Basic and Auth/Negotiate settings.
	AllowBasic, AllowNTLM bool
	// RequireEncryptionOverHTTP is AllowUnencrypted=false, the Windows default: over plain HTTP
	// only NTLM-sealed bodies are accepted.
	RequireEncryptionOverHTTP bool
	// OnLogonFailure, when set, is told why a Basic or NTLM logon failed (the client only ever
	// sees the 401), e.g. ErrLogonFailure, ErrNTLMv1 or ErrMIC.
	OnLogonFailure func(r *http.Request, err error)
	// OfferCredSSP adds CredSSP to the schemes a 401 offers (a CredSSP authenticator in front of
	// this one serves it).
	OfferCredSSP bool
}

func (a *Authenticator) logonFailed(r *http.Request, err error) {
	if a.OnLogonFailure != nil {
		a.OnLogonFailure(r, err)
	}
}

type connKey struct{}

type identityKey struct{}

// connState is the NTLM state of one TCP connection. HTTP/1.1 serves a connection's requests one
// at a time; the mutex only guards against misuse.
type connState struct {
	mu        sync.Mutex
	handshake *Handshake
	identity  *Identity
	session   *Session
}

func (c *connState) reset() {
	c.mu.Lock()
	c.handshake, c.identity, c.session = nil, nil, nil
	c.mu.Unlock()
}

// ConnContext is the http.Server hook that gives each connection its own NTLM state. A server
// with a ConnContext of its own calls this one from it.
func (a *Authenticator) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{})
}

// ContextWithIdentity returns ctx carrying id, for an authenticator of another scheme in front
// of the same handler.
func ContextWithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFromContext returns who the request being served was authenticated as.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Wrap returns next behind authentication. next sees the plain SOAP request (with Content-Type
// application/soap+xml) whether or not it travelled sealed, and its response is sealed when the
// request was.
func (a *Authenticator) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(connKey{}).(*connState)
		scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		token = strings.TrimSpace(token)
		switch {
		case strings.EqualFold(scheme, "Basic") && a.AllowBasic:
			if st != nil {
				st.reset() // Basic is per request; it ends any NTLM logon of the connection
			}
			user, pass, ok := r.BasicAuth()
			id, ok2 := a.BasicLogon(user, pass)
			if !ok || !ok2 {
				a.logonFailed(r, fmt.Errorf("basic logon of %q: %w", user, ErrLogonFailure))
				a.unauthorized(w, r)
				return
			}
			a.serveAuthenticated(w, r, next, id, nil, nil, false)
		case (strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM")) && a.AllowNTLM && token != "":
			if st == nil {
				http.Error(w, "ntlm: http.Server.ConnContext is not installed", http.StatusInternalServerError)
				return
			}
			a.ntlmStep(w, r, next, st, canonicalScheme(scheme), token)
		case scheme == "" && st != nil:
			st.mu.Lock()
			id, sess := st.identity, st.session
			st.mu.Unlock()
			if id == nil || !keepsConnectionLogon(r) {
				st.reset()
				a.unauthorized(w, r)
				return
			}
			a.serveAuthenticated(w, r, next, *id, sess, st, false)
		default:
			a.unauthorized(w, r)
		}
	})
}

func canonicalScheme(s string) string {
	if strings.EqualFold(s, "NTLM") {
		return "NTLM"
	}
	return "Negotiate"
}

// ntlmStep runs one leg of the handshake: NEGOTIATE gets the challenge, AUTHENTICATE logs the
// connection on and is itself served.
func (a *Authenticator) ntlmStep(w http.ResponseWriter, r *http.Request, next http.Handler, st *connState, scheme, token string) {
	msg, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		a.logonFailed(r, fmt.Errorf("%s token: %w", scheme, ErrMalformed))
		st.reset()
		a.unauthorized(w, r)
		return
	}
	switch MessageType(msg) {
	case int(typeNegotiate):
		h, challenge, err := a.Challenge(msg)
		if err != nil {
			a.logonFailed(r, err)
			st.reset()
			a.unauthorized(w, r)
			return
		}
		st.mu.Lock()
		st.handshake, st.identity, st.session = h, nil, nil
		st.mu.Unlock()
		drain(r)
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(challenge))
		writeEmpty(w, http.StatusUnauthorized)
	case int(typeAuthenticate):
		st.mu.Lock()
		h := st.handshake
		st.handshake = nil
		st.mu.Unlock()
		if h == nil {
			a.logonFailed(r, errors.New("AUTHENTICATE_MESSAGE without a pending challenge on this connection"))
			a.unauthorized(w, r)
			return
		}
		sess, id, err := h.Authenticate(msg)
		if err != nil {
			a.logonFailed(r, err)
			st.reset()
			a.unauthorized(w, r)
			return
		}
		st.mu.Lock()
		st.identity, st.session = &id, sess
		st.mu.Unlock()
		a.serveAuthenticated(w, r, next, id, sess, st, true)
	default:
		// SPNEGO-wrapped tokens (Kerberos, or NTLM inside SPNEGO) are not spoken here.
		a.logonFailed(r, errors.New("not a raw NTLMSSP token (SPNEGO and Kerberos are not supported)"))
		st.reset()
		a.unauthorized(w, r)
	}
}

// serveAuthenticated hands an authenticated request to next, unsealing and sealing as needed.
// fresh is true for the request that carried the AUTHENTICATE_MESSAGE.
func (a *Authenticator) serveAuthenticated(w http.ResponseWriter, r *http.Request, next http.Handler,
	id Identity, sess *Session, st *connState, fresh bool) {
	r = r.WithContext(ContextWithIdentity(r.Context(), id))
	if IsEncrypted(r.Header.Get("Content-Type")) {
		if sess == nil || sess.Flags()&NegotiateSeal == 0 {
			drain(r)
			a.unauthorized(w, r)
			return
		}
		a.serveSealed(w, r, next, sess, st)
		return
	}
	if fresh && r.ContentLength == 0 {
		// The sealing clients authenticate with an empty POST first to set up the security context;
		// there is nothing to pass on.
		writeEmpty(w, http.StatusOK)
		return
	}
	if a.RequireEncryptionOverHTTP && r.TLS == nil {
		refuseUnencrypted(a, w, r)
		return
	}
	next.ServeHTTP(w, r)
}

func (a *Authenticator) serveSealed(w http.ResponseWriter, r *http.Request, next http.Handler, sess *Session, st *connState) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	plain, origType, err := unwrap(sess, r.Header.Get("Content-Type"), body)
	if err != nil || len(body) > maxBody {
		// The security context cannot recover from a lost message; the client must log on again.
		if st != nil {
			st.reset()
		}
		writeEmpty(w, statusBadSealedBody)
		return
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(plain))
	r2.ContentLength = int64(len(plain))
	r2.Header.Set("Content-Type", origType)
	r2.Header.Set("Content-Length", strconv.Itoa(len(plain)))

	rec := &recorder{header: make(http.Header)}
	next.ServeHTTP(rec, r2)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	if rec.body.Len() == 0 {
		// Nothing to seal (an empty 401 or 415 from next); Windows sends those in the clear.
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(rec.status)
		return
	}
	ct, sealed := WrapResponse(sess, rec.body.Bytes())
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(sealed)))
	w.WriteHeader(rec.status)
	_, _ = w.Write(sealed)
}

// unauthorized writes the 401 Windows answers any failed or missing logon with: the schemes on
// offer, an empty body and no SOAP Content-Type (masterzen then reports "401 - invalid content type").
func (a *Authenticator) unauthorized(w http.ResponseWriter, r *http.Request) {
	drain(r)
	if a.AllowNTLM {
		w.Header().Add("WWW-Authenticate", "Negotiate")
	}
	if a.AllowBasic {
		w.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
	}
	if a.OfferCredSSP {
		w.Header().Add("WWW-Authenticate", "CredSSP")
	}
	writeEmpty(w, http.StatusUnauthorized)
}

func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Server", "Microsoft-HTTPAPI/2.0")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// drain reads the body a refused request carried, so that the connection (and with it the NTLM
// handshake) survives: net/http closes connections whose large bodies were left unread.
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
	}
}

// recorder buffers next's response so that it can be sealed as a whole.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.body.Write(b)
}
