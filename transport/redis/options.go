package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// ResultsSuffix makes the default results channel from the request
// channel: "capture" publishes its results on "capture.results".
const ResultsSuffix = ".results"

// Options says where and how to connect.
type Options struct {
	// Addrs are host:port addresses: one server, cluster seeds, or the
	// sentinels when MasterSet is set.
	Addrs []string
	// Mode is "" (a single server or a cluster, detected), "single",
	// "cluster" or "sentinel".
	Mode string
	// MasterSet is the sentinel master set name (Mode "sentinel").
	MasterSet string
	// Username (an ACL user; empty means "default") and Password are sent
	// with HELLO/AUTH when Password is set.
	Username, Password string
	// TLS, when not nil, wraps every connection.
	TLS *tls.Config
	// Channel is subscribed to for requests; ResultsChannel receives
	// result events (default Channel + ResultsSuffix).
	Channel, ResultsChannel string
	// MinBackoff and MaxBackoff bound the reconnect delay (100ms, 10s).
	MinBackoff, MaxBackoff time.Duration
	// MaxMessage is the largest message taken, in bytes (default
	// agent.MaxMessageSize; the daemon sets [general] maxmessage). A larger
	// one is dropped as it arrives, before it is copied or queued.
	MaxMessage int
	// QueueSize is how many received messages may wait for the Submitter
	// before new ones are dropped (default 256).
	QueueSize int
	// QueueBytes bounds the bytes of the messages waiting (default 16
	// times MaxMessage): beyond it new ones are dropped too, so that a
	// flood holds at most QueueBytes, plus Workers messages being
	// submitted, plus what the client library reads (see the package doc).
	QueueBytes int
	// Workers is how many messages are submitted at once (default 8): a
	// request whose filter takes seconds to compile (its names resolve
	// slowly) does not hold up the requests behind it.
	Workers int
	// Node returns this agent's node name (the agent's Hostname; nil or
	// "" means the kernel's host name). A message dropped unread is
	// answered with a rejected result only when it may be for this node,
	// and the result names it.
	Node func() string
	// DialTimeout bounds one connection attempt (default 5s).
	DialTimeout time.Duration
	// Presence, when set, describes this agent for its presence record
	// (see presence.go): Run keeps the key PresenceKey(Channel, node)
	// holding it, renewed every PresenceEvery (DefaultPresenceEvery) with
	// a time to live of PresenceTTL (DefaultPresenceTTL), and deletes it
	// when it ends. An empty Node in what it returns is Node's.
	Presence                   func() agent.NodeInfo
	PresenceEvery, PresenceTTL time.Duration
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if len(o.Addrs) == 0 {
		return o, errors.New("redis: no server address")
	}
	if o.Channel == "" {
		return o, errors.New("redis: no channel")
	}
	if o.ResultsChannel == "" {
		o.ResultsChannel = o.Channel + ResultsSuffix
	}
	if o.ResultsChannel == o.Channel {
		return o, fmt.Errorf("redis: results channel %q is the request channel", o.Channel)
	}
	switch o.Mode {
	case "", "single", "cluster":
	case "sentinel":
		if o.MasterSet == "" {
			return o, errors.New("redis: sentinel mode needs a master set name")
		}
	default:
		return o, fmt.Errorf("redis: unknown mode %q", o.Mode)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = agent.MaxMessageSize
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 16 * o.MaxMessage
	}
	if o.QueueBytes < o.MaxMessage {
		return o, fmt.Errorf("redis: queue of %d bytes cannot hold one message of the %d byte limit", o.QueueBytes, o.MaxMessage)
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.PresenceEvery <= 0 {
		o.PresenceEvery = DefaultPresenceEvery
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = DefaultPresenceTTL
	}
	if o.PresenceTTL <= o.PresenceEvery {
		return o, fmt.Errorf("redis: presence TTL %v must be longer than its refresh interval %v", o.PresenceTTL, o.PresenceEvery)
	}
	return o, nil
}

// clientOption is the rueidis configuration for o.
func (o Options) clientOption() rueidis.ClientOption {
	co := rueidis.ClientOption{
		InitAddress: append([]string(nil), o.Addrs...),
		Username:    o.Username,
		Password:    o.Password,
		TLSConfig:   o.TLS,
		ClientName:  "pcapdaemon",
		// No client-side caching (it needs CLIENT TRACKING, which an ACL
		// user may lack), and no hidden retries: the Transport's own loop
		// retries so that it sees, and logs, every state change.
		DisableCache: true,
		DisableRetry: true,
		// Ping a silent connection so that a vanished server is noticed
		// even when no request arrives.
		ConnWriteTimeout: 10 * time.Second,
	}
	co.Dialer.Timeout = o.DialTimeout
	co.Dialer.KeepAlive = 5 * time.Second
	switch o.Mode {
	case "single":
		co.ForceSingleClient = true
	case "sentinel":
		co.Sentinel = rueidis.SentinelOption{
			MasterSet: o.MasterSet,
			Username:  o.Username,
			Password:  o.Password,
			TLSConfig: o.TLS,
		}
		co.Sentinel.Dialer.Timeout = o.DialTimeout
	}
	return co
}

// ErrAuth matches errors from a server that refused the credentials.
var ErrAuth = errors.New("redis authentication failed")

// classify wraps err from a connection to o with the address, and with
// ErrAuth when the server refused the credentials.
func (o Options) classify(err error) error {
	where := strings.Join(o.Addrs, ",")
	if isAuthError(err) {
		user := o.Username
		if user == "" {
			user = "default"
		}
		if o.Password == "" {
			return fmt.Errorf("redis %s: %w: the server wants a password and none is configured ([redis] auth): %w", where, ErrAuth, err)
		}
		return fmt.Errorf("redis %s: %w for user %q (check [redis] auth and username): %w", where, ErrAuth, user, err)
	}
	return fmt.Errorf("redis %s: %w", where, err)
}

// isAuthError reports whether err is the server refusing credentials.
func isAuthError(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"WRONGPASS", "NOAUTH", "NOPERM"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return strings.Contains(msg, "invalid password") || strings.Contains(msg, "without any password configured")
}
