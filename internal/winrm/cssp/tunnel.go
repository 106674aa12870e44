package cssp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Tunnel runs TLS over a token exchange instead of a socket: CredSSP carries the TLS handshake and
// then its records in HTTP headers and bodies (MS-CSSP 3.1.5). During the handshake Step hands
// over what TLS wrote once TLS waits for the peer; afterwards Wrap and Unwrap encrypt and decrypt
// whole messages. A Tunnel is used by one goroutine at a time.
type Tunnel struct {
	conn *tls.Conn
	pipe *pipe
	err  error // the handshake's result, once over
}

// handshakeTimeout bounds a handshake, so that one the peer abandoned releases its goroutine.
const handshakeTimeout = 2 * time.Minute

// NewClientTunnel starts the client side; the first Step(nil) returns the ClientHello.
func NewClientTunnel(cfg *tls.Config) *Tunnel {
	p := newPipe()
	return startTunnel(tls.Client(p, cfg), p)
}

// NewServerTunnel starts the server side; Step gets the ClientHello first.
func NewServerTunnel(cfg *tls.Config) *Tunnel {
	p := newPipe()
	return startTunnel(tls.Server(p, cfg), p)
}

func startTunnel(conn *tls.Conn, p *pipe) *Tunnel {
	t := &Tunnel{conn: conn, pipe: p}
	expire := time.AfterFunc(handshakeTimeout, p.close)
	go func() {
		err := conn.HandshakeContext(context.Background())
		expire.Stop()
		p.handshakeOver(err)
	}()
	return t
}

// Step feeds the peer's token (nil for none) to the handshake and returns what TLS wrote in
// answer, and whether the handshake is complete. After completion out may still hold TLS's last
// flight, to be sent to the peer; bytes of the peer that followed the handshake stay buffered for
// the next Unwrap.
func (t *Tunnel) Step(in []byte) (out []byte, done bool, err error) {
	out, done, err = t.pipe.step(in)
	if done && err != nil {
		t.err = err
		return nil, true, fmt.Errorf("TLS handshake: %w", err)
	}
	return out, done, nil
}

// Established reports whether the handshake completed successfully.
func (t *Tunnel) Established() bool {
	done, err := t.pipe.result()
	return done && err == nil
}

// ConnectionState is the TLS state after the handshake.
func (t *Tunnel) ConnectionState() tls.ConnectionState { return t.conn.ConnectionState() }

// Wrap encrypts plain into TLS application-data records (any pending handshake bytes first).
func (t *Tunnel) Wrap(plain []byte) ([]byte, error) {
	if !t.Established() {
		return nil, errNotEstablished
	}
	if _, err := t.conn.Write(plain); err != nil {
		return nil, fmt.Errorf("TLS write: %w", err)
	}
	return t.pipe.takeOut(), nil
}

var errNotEstablished = errors.New("TLS tunnel not established")

// Unwrap decrypts whole TLS records, after any the handshake left buffered.
func (t *Tunnel) Unwrap(records []byte) ([]byte, error) {
	if !t.Established() {
		return nil, errNotEstablished
	}
	if !wholeRecords(records) {
		return nil, fmt.Errorf("TLS records: %w", ErrMalformed)
	}
	t.pipe.feed(records)
	var out bytes.Buffer
	buf := make([]byte, 16<<10)
	for {
		n, err := t.conn.Read(buf)
		out.Write(buf[:n])
		if errors.Is(err, errWouldBlock) {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("TLS read: %w", err)
		}
	}
}

// wholeRecords reports whether b is a sequence of complete TLS records (5-byte header, then the
// length it gives).
func wholeRecords(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 {
			return false
		}
		n := 5 + (int(b[3])<<8 | int(b[4]))
		if len(b) < n {
			return false
		}
		b = b[n:]
	}
	return true
}

// Close ends a handshake that still waits and makes later reads fail.
func (t *Tunnel) Close() { t.pipe.close() }

// errWouldBlock is what the pipe's Read returns after the handshake when no input is left. It is
// temporary, so crypto/tls does not keep it as a fatal read error.
var errWouldBlock = &blockError{}

type blockError struct{}

func (*blockError) Error() string   { return "no more input" }
func (*blockError) Timeout() bool   { return true }
func (*blockError) Temporary() bool { return true }

// pipe is the net.Conn under the Tunnel's tls.Conn. During the handshake its Read blocks until
// the next token arrives; step waits until TLS reads with nothing left (it waits for the peer) or
// the handshake ends, which makes each step's output exactly one flight.
type pipe struct {
	mu      sync.Mutex
	cond    *sync.Cond
	in, out bytes.Buffer
	waiting bool // the handshake's Read waits for input
	hsDone  bool
	hsErr   error
	closed  bool
}

func newPipe() *pipe {
	p := &pipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *pipe) step(in []byte) ([]byte, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(in) > 0 {
		p.in.Write(in)
		p.cond.Broadcast()
	}
	for !p.hsDone && !(p.waiting && p.in.Len() == 0) {
		p.cond.Wait()
	}
	out := bytes.Clone(p.out.Bytes())
	p.out.Reset()
	return out, p.hsDone, p.hsErr
}

func (p *pipe) result() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hsDone, p.hsErr
}

func (p *pipe) feed(b []byte) {
	p.mu.Lock()
	p.in.Write(b)
	p.mu.Unlock()
}

func (p *pipe) takeOut() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := bytes.Clone(p.out.Bytes())
	p.out.Reset()
	return b
}

func (p *pipe) handshakeOver(err error) {
	p.mu.Lock()
	p.hsDone, p.hsErr = true, err
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Read returns buffered input. During the handshake it waits for the next token; afterwards it
// never blocks.
func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.in.Len() == 0 && !p.closed && !p.hsDone {
		p.waiting = true
		p.cond.Broadcast()
		p.cond.Wait()
	}
	p.waiting = false
	switch {
	case p.in.Len() > 0:
		return p.in.Read(b)
	case p.closed:
		return 0, io.EOF
	default:
		return 0, errWouldBlock
	}
}

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, net.ErrClosed
	}
	return p.out.Write(b)
}

func (p *pipe) Close() error                     { p.close(); return nil }
func (p *pipe) LocalAddr() net.Addr              { return pipeAddr{} }
func (p *pipe) RemoteAddr() net.Addr             { return pipeAddr{} }
func (p *pipe) SetDeadline(time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "cssp" }
func (pipeAddr) String() string  { return "cssp-tunnel" }
