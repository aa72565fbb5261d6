package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/redis/rueidis"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// Presence: each agent keeps a key <channel>.node.<node> (PresenceKey)
// holding its agent.NodeInfo as JSON, with a time to live (PresenceTTL,
// 30s) that it renews every PresenceEvery (10s), and deletes when it
// stops. "pcapdaemon nodes" lists the keys (Client.Nodes), and "pcapdaemon
// request -wait" matches a request against them to know whose results to
// wait for; an agent that dies without deleting its key drops out when
// the key expires.
//
// A refresh rewrites the record only when it changed (a capture started
// or ended, an interface came or went); otherwise it only renews the
// key's time to live (PEXPIRE), which keeps the steady cost to one short
// command per agent every PresenceEvery, however many interfaces the host
// has. PEXPIRE answering 0 (the key is gone: a server restarted, a
// failover) writes the record again at once.

// PresenceInfix joins the request channel and the node name in a
// presence key.
const PresenceInfix = ".node."

// The presence timings by default.
const (
	DefaultPresenceEvery = 10 * time.Second
	DefaultPresenceTTL   = 30 * time.Second
)

// presenceTimeout bounds one refresh; leaveTimeout the delete at the end,
// which holds up the daemon's exit when the server does not answer (the
// key then expires by itself).
const (
	presenceTimeout = 5 * time.Second
	leaveTimeout    = 2 * time.Second
)

// PresenceKey is the presence key of node for request channel channel.
func PresenceKey(channel, node string) string { return channel + PresenceInfix + node }

// record is a presence record as stored: the agent's description and the
// time to live its key gets at each refresh, so that a reader can tell
// from the time left when the key was last renewed.
type record struct {
	agent.NodeInfo
	TTL float64 `json:"ttl"` // seconds
}

// presenceState is what the presence loop wrote last.
type presenceState struct {
	key  string // "" before the first write
	body []byte
}

// kickPresence asks the presence loop to refresh now (after a
// subscription: a reconnect may follow a server restart that lost the
// key). It never blocks.
func (t *Transport) kickPresence() {
	select {
	case t.presenceKick <- struct{}{}:
	default:
	}
}

// presenceLoop keeps the presence record until ctx ends, then deletes it
// (when a client is still there to do so) and returns.
func (t *Transport) presenceLoop(ctx context.Context) {
	var st presenceState
	tick := time.NewTicker(t.o.PresenceEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.leavePresence(&st)
			return
		case <-tick.C:
		case <-t.presenceKick:
		}
		if cp := t.client.Load(); cp != nil {
			t.refreshPresence(ctx, *cp, &st)
		}
	}
}

// refreshPresence writes or renews the record on c.
func (t *Transport) refreshPresence(ctx context.Context, c rueidis.Client, st *presenceState) {
	info := t.o.Presence()
	if info.Node == "" {
		info.Node = t.node()
	}
	key := PresenceKey(t.o.Channel, info.Node)
	body, err := json.Marshal(record{NodeInfo: info, TTL: t.o.PresenceTTL.Seconds()})
	if err != nil {
		t.presenceFailed(key, err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, presenceTimeout)
	defer cancel()
	ttl := t.o.PresenceTTL.Milliseconds()
	if st.key != "" && st.key != key {
		// The node was renamed ([general] hostname reloaded).
		_ = c.Do(rctx, c.B().Del().Key(st.key).Build()).Error()
		st.key, st.body = "", nil
	}
	if st.key == key && bytes.Equal(st.body, body) {
		n, err := c.Do(rctx, c.B().Pexpire().Key(key).Milliseconds(ttl).Build()).AsInt64()
		if err != nil {
			t.presenceFailed(key, err)
			return
		}
		if n == 1 {
			t.presenceOK(key)
			return
		}
	}
	if err := c.Do(rctx, c.B().Set().Key(key).Value(string(body)).PxMilliseconds(ttl).Build()).Error(); err != nil {
		st.key, st.body = "", nil
		t.presenceFailed(key, err)
		return
	}
	st.key, st.body = key, body
	t.presenceWrites.Add(1)
	t.presenceOK(key)
}

// presenceFailed logs a refresh that failed: at Warn when the failure is
// new (an ACL that forbids the key, a server gone), then at Debug while it
// lasts, so that a fleet whose Redis user may only publish and subscribe
// does not log it every refresh; presenceOK says when it is over.
func (t *Transport) presenceFailed(key string, err error) {
	if msg := err.Error(); msg != t.presenceErr {
		t.presenceErr = msg
		t.log.Warn("redis: presence record not written; \"pcapdaemon nodes\" and \"request -wait\" will not see this agent", "key", key, "err", err)
		return
	}
	t.log.Debug("redis: presence record still not written", "key", key, "err", err)
}

// presenceOK notes a refresh that succeeded.
func (t *Transport) presenceOK(key string) {
	if t.presenceErr != "" {
		t.presenceErr = ""
		t.log.Info("redis: presence record written again", "key", key)
	}
}

// leavePresence deletes the record at the end, so that the agent drops out
// of the fleet at once rather than when its key expires.
func (t *Transport) leavePresence(st *presenceState) {
	cp := t.client.Load()
	if cp == nil || st.key == "" {
		return
	}
	c := *cp
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	if err := c.Do(ctx, c.B().Del().Key(st.key).Build()).Error(); err != nil {
		t.log.Warn("redis: presence record not deleted; it expires by itself", "key", st.key, "ttl", t.o.PresenceTTL, "err", err)
	}
}

// PresenceWrites returns how many times the presence record was written
// whole (the other refreshes only renewed its time to live).
func (t *Transport) PresenceWrites() uint64 { return t.presenceWrites.Load() }
