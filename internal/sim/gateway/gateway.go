package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// States of an emulated gateway, as the admin API reports them.
const (
	// StateUp: it answers OPTIONS with 200 OK.
	StateUp = "up"
	// StateSilent: it accepts connections but answers nothing (a hung SIP stack).
	StateSilent = "silent"
	// StateDown: nothing listens (powered off); connections are refused.
	StateDown = "down"
)

// Gateway is one emulated gateway. It is safe for concurrent use.
type Gateway struct {
	name      string
	transport string // "TCP" or "TLS"
	tls       *tls.Config

	mu    sync.Mutex
	addr  string // host:port, fixed after the first listen
	state string
	ln    net.Listener
	srv   *sipgo.Server
	ua    *sipgo.UserAgent
	// answered counts OPTIONS answered, for tests.
	answered int
}

// New returns a gateway that will listen on addr (port 0 picks one) over TCP, or TLS when conf
// is not nil. Start opens it.
func New(name, addr string, conf *tls.Config) *Gateway {
	g := &Gateway{name: name, addr: addr, transport: "TCP", tls: conf, state: StateDown}
	if conf != nil {
		g.transport = "TLS"
	}
	return g
}

// Name returns the gateway's name.
func (g *Gateway) Name() string { return g.name }

// Transport returns "TCP" or "TLS".
func (g *Gateway) Transport() string { return g.transport }

// Addr returns the host:port it listens on (fixed by the first Start).
func (g *Gateway) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addr
}

// State returns StateUp, StateSilent or StateDown.
func (g *Gateway) State() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// Answered returns how many OPTIONS it answered.
func (g *Gateway) Answered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answered
}

// Start listens (again, on the same address) and answers OPTIONS.
func (g *Gateway) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.listenLocked(); err != nil {
		return err
	}
	g.state = StateUp
	return nil
}

// Silence keeps the listener open but stops answering: OPTIONS time out.
func (g *Gateway) Silence() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.listenLocked(); err != nil {
		return err
	}
	g.state = StateSilent
	return nil
}

// Crash closes the listener and every connection: connections are refused.
func (g *Gateway) Crash() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeLocked()
	g.state = StateDown
}

// Close is Crash.
func (g *Gateway) Close() { g.Crash() }

func (g *Gateway) closeLocked() {
	if g.ln != nil {
		_ = g.ln.Close()
		g.ln = nil
	}
	if g.ua != nil {
		// Closing the user agent closes the accepted connections too.
		_ = g.ua.Close()
		g.ua, g.srv = nil, nil
	}
}

func (g *Gateway) listenLocked() error {
	if g.ln != nil {
		return nil
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("ocs-sim gateway "+g.name), sipgo.WithUserAgentHostname(g.name))
	if err != nil {
		return fmt.Errorf("gateway %s: %w", g.name, err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("gateway %s: %w", g.name, err)
	}
	srv.OnOptions(g.onOptions)
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("gateway %s: listening: %w", g.name, err)
	}
	g.addr = ln.Addr().String()
	serve := srv.ServeTCP
	if g.tls != nil {
		ln = tls.NewListener(ln, g.tls)
		serve = srv.ServeTLS
	}
	g.ln, g.srv, g.ua = ln, srv, ua
	go func() { _ = serve(ln) }()
	return nil
}

// onOptions answers 200 OK while up; while silent it lets the transaction die unanswered.
func (g *Gateway) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	g.mu.Lock()
	up := g.state == StateUp
	if up {
		g.answered++
	}
	g.mu.Unlock()
	if !up {
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	_ = tx.Respond(res)
}

// ErrUnknown is returned for an unknown gateway name.
var ErrUnknown = errors.New("unknown gateway")

// Port returns the port of addr (0 when it does not parse).
func Port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Run is a helper for tests and ocs-sim: it starts every gateway and closes them when ctx ends.
func Run(ctx context.Context, gws ...*Gateway) error {
	for _, g := range gws {
		if err := g.Start(); err != nil {
			for _, o := range gws {
				o.Close()
			}
			return err
		}
	}
	go func() {
		<-ctx.Done()
		for _, g := range gws {
			g.Close()
		}
	}()
	return nil
}
