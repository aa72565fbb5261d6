package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

// Severities of <sys/syslog.h> that records map to.
const (
	sevErr     = 3
	sevWarning = 4
	sevInfo    = 6
	sevDebug   = 7
)

const (
	// dialTimeout bounds one connection attempt.
	dialTimeout = 5 * time.Second
	// writeTimeout bounds one message write: a syslog that takes longer
	// is treated as gone, so that a stuck reader costs syslog records,
	// never the daemon's progress.
	writeTimeout = 5 * time.Second
	// closeTimeout bounds what Close spends sending the queue.
	closeTimeout = time.Second
	// maxMessage caps one message's text: UDP and datagram sockets refuse
	// larger ones, and receivers commonly cut at 8 KiB anyway.
	maxMessage = 8 << 10
)

// Syslog sends messages to a syslog server over one connection, which it
// dials, and redials, in the background. Its methods never block and never
// fail: a message is queued (up to Options.QueueLen) or, when the queue is
// full or no connection is up, dropped and counted.
//
// What it does is said on the notes logger (stderr): once when syslog
// cannot be reached, once when a connection is up, once when a connection
// fails. The "connected" note is also the first message sent on the
// connection.
type Syslog struct {
	o        Options
	local    bool // local message format: no host name, short time stamp
	hostname string
	pid      int
	notes    *slog.Logger

	queue   chan message
	dropped atomic.Uint64
	up      atomic.Bool

	cancel    context.CancelFunc
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

// message is one record waiting for the connection.
type message struct {
	severity int
	time     time.Time
	text     string
}

// NewSyslog checks o and starts the client's connection loop, which runs
// until ctx is done or Close is called. notes receives the client's own
// reports (nil discards them). An unreachable syslog is not an error.
func NewSyslog(ctx context.Context, o Options, notes *slog.Logger) (*Syslog, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Priority == 0 {
		return nil, fmt.Errorf("%w: priority 0 turns syslog off", ErrOptions)
	}
	if notes == nil {
		notes = slog.New(slog.DiscardHandler)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Syslog{
		o:        o,
		local:    o.Network == "" || o.Network == "unix" || o.Network == "unixgram",
		hostname: host,
		pid:      os.Getpid(),
		notes:    notes,
		queue:    make(chan message, o.QueueLen),
		cancel:   cancel,
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	go s.run(ctx)
	return s, nil
}

// Err queues m with severity err.
func (s *Syslog) Err(m string) error { s.send(sevErr, m); return nil }

// Warning queues m with severity warning.
func (s *Syslog) Warning(m string) error { s.send(sevWarning, m); return nil }

// Info queues m with severity info.
func (s *Syslog) Info(m string) error { s.send(sevInfo, m); return nil }

// Debug queues m with severity debug.
func (s *Syslog) Debug(m string) error { s.send(sevDebug, m); return nil }

func (s *Syslog) send(sev int, m string) {
	select {
	case s.queue <- message{severity: sev, time: time.Now(), text: m}:
	default:
		s.dropped.Add(1)
	}
}

// Dropped returns how many messages were not sent: queued or written while
// no connection was up, or beyond a full queue.
func (s *Syslog) Dropped() uint64 { return s.dropped.Load() }

// Connected reports whether a connection is up.
func (s *Syslog) Connected() bool { return s.up.Load() }

// Close sends what is queued, if a connection is up and within a second,
// then closes the connection and waits for the connection loop to end.
// Calling it again does nothing.
func (s *Syslog) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		// A write to a stuck reader or a dial to a silent host is cut
		// short: Close never waits longer than closeTimeout for them.
		t := time.AfterFunc(closeTimeout, s.cancel)
		<-s.done
		t.Stop()
		s.cancel()
	})
	<-s.done
	return nil
}

// where names the syslog for notes.
func (s *Syslog) where() string {
	if s.o.Network != "" {
		return s.o.Network + "://" + s.o.Address
	}
	return strings.Join(s.o.LocalPaths, ", ")
}

// run dials, serves the connection until it fails, and dials again after
// a backoff, until ctx is done or Close is called.
func (s *Syslog) run(ctx context.Context) {
	defer close(s.done)
	// No jitter: one agent's syslog reconnects do not herd with others'.
	backoff := retry.Backoff{Policy: retry.Policy{Initial: s.o.MinBackoff, Max: s.o.MaxBackoff, Multiplier: 2}}
	warned := false   // a note already says syslog is away
	var lostAt uint64 // Dropped() when the last connection was lost
	for {
		c, err := s.dial(ctx)
		if err != nil {
			if s.stopped(ctx) {
				return
			}
			if !warned {
				s.notes.Warn("syslog unreachable: logging to stderr only and retrying",
					"syslog", s.where(), "error", err, "retry_max", s.o.MaxBackoff)
				warned = true
			}
			if !s.discard(ctx, backoff.Next()) {
				return
			}
			continue
		}
		s.up.Store(true)
		attrs := []any{"syslog", s.where(), "dropped", s.dropped.Load() - lostAt}
		s.notes.Info("syslog connected", attrs...)
		warned = false
		since := time.Now()

		// Closing c wakes a write blocked on a reader that does not read.
		stop := context.AfterFunc(ctx, func() { c.Close() })
		// The same note opens the connection's stream, ahead of what is
		// queued, so that the syslog side sees where its gap ended.
		hello := message{severity: sevInfo, time: since, text: noteText("syslog connected", attrs...)}
		err = s.write(c, hello, since.Add(writeTimeout))
		if err == nil {
			err = s.serve(ctx, c)
		}
		stop()
		s.up.Store(false)
		c.Close()
		if err == nil || ctx.Err() != nil {
			return
		}
		lostAt = s.dropped.Load()
		s.notes.Warn("syslog write failed: logging to stderr only and reconnecting",
			"syslog", s.where(), "error", err)
		warned = true
		// A connection that lasted redials at once; one that failed
		// quickly (a server that accepts and drops) waits and backs off
		// further, so that a flapping syslog cannot flood stderr with
		// notes.
		if time.Since(since) >= s.o.MaxBackoff {
			backoff.Reset()
			continue
		}
		if !s.discard(ctx, backoff.Next()) {
			return
		}
	}
}

// stopped reports whether Close was called or ctx is done.
func (s *Syslog) stopped(ctx context.Context) bool {
	select {
	case <-s.closing:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// discard waits for d, dropping what is queued meanwhile: with no
// connection, messages are not kept (stderr has them). It returns false
// when the client is stopping.
func (s *Syslog) discard(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-s.queue:
			s.dropped.Add(1)
		case <-t.C:
			return true
		case <-s.closing:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// dial connects to the configured syslog: the network address, or the
// first local path that answers, as a datagram and then as a stream
// socket.
func (s *Syslog) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	if s.o.Network != "" {
		return d.DialContext(ctx, s.o.Network, s.o.Address)
	}
	var errs localDialErrors
	for _, p := range s.o.LocalPaths {
		var first error
		for _, network := range []string{"unixgram", "unix"} {
			c, err := d.DialContext(ctx, network, p)
			if err == nil {
				return c, nil
			}
			// A stream socket refuses the datagram dial with
			// EPROTOTYPE; the stream dial's error then says more.
			if first == nil || errors.Is(first, syscall.EPROTOTYPE) {
				first = err
			}
		}
		var op *net.OpError
		if errors.As(first, &op) {
			first = op.Err
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, first))
	}
	if len(errs) == 0 {
		return nil, errors.New("no local syslog path configured")
	}
	return nil, errs
}

// localDialErrors says why each local path failed, on one line.
type localDialErrors []error

func (e localDialErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e localDialErrors) Unwrap() []error { return e }

// serve writes queued messages to c until a write fails (that error is
// returned) or the client stops (nil). On Close it sends what is queued
// first, within closeTimeout.
func (s *Syslog) serve(ctx context.Context, c net.Conn) error {
	for {
		select {
		case m := <-s.queue:
			if err := s.write(c, m, time.Now().Add(writeTimeout)); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		case <-s.closing:
			deadline := time.Now().Add(closeTimeout)
			for {
				select {
				case m := <-s.queue:
					if s.write(c, m, deadline) != nil {
						return nil
					}
				default:
					return nil
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// write sends one message. A datagram refused by a UDP peer with no
// listener is lost, not a broken connection: the socket stays, and the
// message counts as dropped.
func (s *Syslog) write(c net.Conn, m message, deadline time.Time) error {
	if err := c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.Write(s.format(m))
	if err != nil && strings.HasPrefix(s.o.Network, "udp") && errors.Is(err, syscall.ECONNREFUSED) {
		s.dropped.Add(1)
		return nil
	}
	return err
}

// format renders m as log/syslog and the C library do: for the local
// socket "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG", for a network syslog
// "<PRI>RFC3339-TIME HOST TAG[PID]: MSG" (RFC 3164 style), each ending in
// a newline, which also frames messages on stream sockets.
func (s *Syslog) format(m message) []byte {
	pri := s.o.Priority&^7 | m.severity
	text := m.text
	if len(text) > maxMessage {
		text = text[:maxMessage]
	}
	text = strings.TrimSuffix(text, "\n")
	if s.local {
		return fmt.Appendf(nil, "<%d>%s %s[%d]: %s\n", pri, m.time.Format(time.Stamp), s.o.Tag, s.pid, text)
	}
	return fmt.Appendf(nil, "<%d>%s %s %s[%d]: %s\n", pri, m.time.Format(time.RFC3339), s.hostname, s.o.Tag, s.pid, text)
}

// noteText formats a note as NewSyslogHandler formats a record.
func noteText(msg string, args ...any) string {
	var m lastMessage
	slog.New(NewSyslogHandler(&m, nil)).Info(msg, args...)
	return string(m)
}

// lastMessage keeps the last message written to it, of any severity.
type lastMessage string

func (m *lastMessage) Err(s string) error     { *m = lastMessage(s); return nil }
func (m *lastMessage) Warning(s string) error { *m = lastMessage(s); return nil }
func (m *lastMessage) Info(s string) error    { *m = lastMessage(s); return nil }
func (m *lastMessage) Debug(s string) error   { *m = lastMessage(s); return nil }
