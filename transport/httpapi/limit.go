package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"sync"
)

// connLimiter is a net.Listener that keeps at most max connections open,
// so that clients cannot make the daemon hold more files and memory than
// that however many connections they open.
//
// A plain cap (netutil.LimitListener) would let a few clients that open
// connections and never finish their headers hold every slot: the API
// would answer nobody until the header timeout freed one, and the kernel's
// accept queue, full of their connections, would make a real client wait
// for minutes. So when a connection arrives at the cap, the oldest
// connection that is not running a handler (still sending its request, in
// its TLS handshake, or idle between requests) is closed to make room. A
// real client sends its request at once and is served within moments of
// being accepted, long before hundreds of newer connections push it out.
// Only when every connection is running a handler does Accept wait for one
// to close.
type connLimiter struct {
	net.Listener
	max int

	mu     sync.Mutex
	freed  *sync.Cond     // a connection closed, or the listener did
	open   []*limitedConn // in the order accepted
	closed bool
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	l := &connLimiter{Listener: ln, max: max}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// Accept waits for a connection and makes room for it.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	var evicted []*limitedConn
	for len(l.open) >= l.max && !l.closed {
		if v := l.oldestIdleLocked(); v != nil {
			v.evicted = true
			l.removeLocked(v)
			evicted = append(evicted, v)
			continue
		}
		l.freed.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	lc := &limitedConn{Conn: c, l: l}
	l.open = append(l.open, lc)
	l.mu.Unlock()
	for _, v := range evicted {
		v.Conn.Close() // the server's read fails and it forgets the connection
	}
	return lc, nil
}

// Close closes the listener and wakes an Accept waiting for room.
func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.freed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// oldestIdleLocked returns the oldest connection running no handler, or nil.
func (l *connLimiter) oldestIdleLocked() *limitedConn {
	for _, c := range l.open {
		if c.handlers == 0 {
			return c
		}
	}
	return nil
}

func (l *connLimiter) removeLocked(c *limitedConn) {
	if i := slices.Index(l.open, c); i >= 0 {
		l.open = slices.Delete(l.open, i, i+1)
		l.freed.Signal()
	}
}

// count returns the connections open.
func (l *connLimiter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// trackConns marks a connection busy while a handler runs on it, so that
// it is not closed to make room. A request read from a connection that was
// closed for room meanwhile is dropped before its handler runs: its client
// sees a closed connection and nothing happened.
func trackConns(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(connKey{}).(*limitedConn)
		if !ok {
			next.ServeHTTP(w, r) // not from a connLimiter (tests, embedding)
			return
		}
		l := c.l
		l.mu.Lock()
		if c.evicted {
			l.mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		c.handlers++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			c.handlers--
			l.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// connContext is the http.Server's ConnContext: it gives handlers their
// connection (under TLS, the one the TLS connection wraps).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

type connKey struct{}

// limitedConn is a connection counted by a connLimiter.
type limitedConn struct {
	net.Conn
	l        *connLimiter
	once     sync.Once
	handlers int  // handlers running on it (HTTP/2 runs several); l.mu
	evicted  bool // closed to make room; l.mu
}

// Close closes the connection and gives its slot back.
func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.removeLocked(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
