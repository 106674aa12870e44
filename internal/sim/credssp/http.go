package credssp

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/ocsha/ocs-ha-operator/internal/sim/ntlm"
	"github.com/ocsha/ocs-ha-operator/internal/winrm/cssp"
)

// maxBody bounds a request body read here; the WS-Management handler has its own, lower limit.
const maxBody = 64 << 20

// Authenticator puts CredSSP in front of a WS-Management handler. Requests that are not CredSSP's
// (another scheme, or no Authorization on a connection without a CredSSP logon) go to Other, the
// authenticator of the other schemes, which also answers unauthenticated requests. A CredSSP logon
// belongs to its TCP connection, so the http.Server must install ConnContext. Fields must not
// change while serving.
type Authenticator struct {
	Server
	// Other serves every request CredSSP does not; required.
	Other http.Handler
	// RequireEncryptionOverHTTP is AllowUnencrypted=false: over plain HTTP only encrypted bodies
	// are served.
	RequireEncryptionOverHTTP bool
	// OnLogonFailure, when set, is told why a CredSSP logon failed (the client sees a 401).
	OnLogonFailure func(r *http.Request, err error)
}

type connKey struct{}

// connState is the CredSSP state of one TCP connection; HTTP/1.1 serves its requests one by one.
type connState struct {
	mu    sync.Mutex
	logon *Logon
}

func (c *connState) set(l *Logon) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logon != nil && c.logon != l {
		c.logon.Close()
	}
	c.logon = l
}

func (c *connState) get() *Logon {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logon
}

// ConnContext is the http.Server hook that gives each connection its CredSSP state; a server with
// other ConnContext hooks chains them.
func (a *Authenticator) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{})
}

// resetConn drops the connection's logon: its TLS channel is out of step with the client's.
func resetConn(ctx context.Context) {
	if st, ok := ctx.Value(connKey{}).(*connState); ok {
		st.set(nil)
	}
}

// Wrap returns next behind CredSSP, with every other request going to a.Other. next sees the
// plain SOAP request and the identity (ntlm.IdentityFromContext, Delegated set).
func (a *Authenticator) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, _ := r.Context().Value(connKey{}).(*connState)
		scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		switch {
		case st == nil:
			http.Error(w, "credssp: http.Server.ConnContext is not installed", http.StatusInternalServerError)
		case strings.EqualFold(scheme, "CredSSP"):
			a.step(w, r, next, st, strings.TrimSpace(token))
		case scheme == "" && st.get() != nil && st.get().Done():
			a.serve(w, r, next, st.get())
		default:
			// Another scheme ends a CredSSP logon of the connection, as a new logon would.
			st.set(nil)
			a.Other.ServeHTTP(w, r)
		}
	})
}

// step runs one leg of a logon; the leg that completes it is served as the request it carries.
func (a *Authenticator) step(w http.ResponseWriter, r *http.Request, next http.Handler, st *connState, token string) {
	in, err := base64.StdEncoding.DecodeString(token)
	l := st.get()
	if l == nil || l.phase == phaseDone || l.phase == phaseFailed {
		l = a.NewLogon()
		st.set(l)
	}
	if err != nil || len(in) == 0 {
		a.refused(w, r, st, nil, errEmptyToken)
		return
	}
	out, done, err := l.Step(in)
	switch {
	case err != nil:
		a.refused(w, r, st, out, err)
	case done:
		a.serve(w, r, next, l)
	default:
		drain(r)
		w.Header().Set("WWW-Authenticate", "CredSSP "+base64.StdEncoding.EncodeToString(out))
		writeEmpty(w, http.StatusUnauthorized)
	}
}

type protocolError string

func (e protocolError) Error() string { return string(e) }

const errEmptyToken = protocolError("credssp: empty or invalid base64 token")

// refused answers a failed logon: 401 with the errorCode token when there is one, else the offers.
func (a *Authenticator) refused(w http.ResponseWriter, r *http.Request, st *connState, out []byte, err error) {
	if a.OnLogonFailure != nil {
		a.OnLogonFailure(r, err)
	}
	st.set(nil)
	if out == nil {
		a.Other.ServeHTTP(w, withoutAuthorization(r))
		return
	}
	drain(r)
	w.Header().Set("WWW-Authenticate", "CredSSP "+base64.StdEncoding.EncodeToString(out))
	writeEmpty(w, http.StatusUnauthorized)
}

// withoutAuthorization lets Other answer with its plain 401 and list of offers.
func withoutAuthorization(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Header.Del("Authorization")
	return r2
}

// serve hands an authenticated request to next, decrypting and encrypting as needed.
func (a *Authenticator) serve(w http.ResponseWriter, r *http.Request, next http.Handler, l *Logon) {
	r = r.WithContext(ntlm.ContextWithIdentity(r.Context(), l.Identity()))
	switch {
	case cssp.IsEncrypted(r.Header.Get("Content-Type")):
		a.serveEncrypted(w, r, next, l)
	case r.ContentLength == 0:
		// The logon's last leg, or a client opening the context with an empty POST.
		drain(r)
		writeEmpty(w, http.StatusOK)
	case a.RequireEncryptionOverHTTP && r.TLS == nil:
		refuseUnencrypted(a, w, r)
	default:
		next.ServeHTTP(w, r)
	}
}

func (a *Authenticator) serveEncrypted(w http.ResponseWriter, r *http.Request, next http.Handler, l *Logon) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}
	plain, origType, err := cssp.Open(l.Tunnel(), r.Header.Get("Content-Type"), body)
	if err != nil || len(body) > maxBody {
		// A lost record breaks the channel; the client must log on again.
		resetConn(r.Context())
		writeEmpty(w, statusBadEncryptedBody)
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
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(rec.status)
		return
	}
	ct, sealed, err := cssp.Seal(l.Tunnel(), rec.body.Bytes())
	if err != nil {
		resetConn(r.Context())
		writeEmpty(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(sealed)))
	w.WriteHeader(rec.status)
	_, _ = w.Write(sealed)
}

func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Server", "Microsoft-HTTPAPI/2.0")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// drain reads a body left unread, so that the connection (and its logon) survives.
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
	}
}

// recorder buffers next's response so that it can be encrypted as a whole.
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
