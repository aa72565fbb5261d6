package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// Bounds of a listing of the presence records.
const (
	scanCount    = 1000    // keys a SCAN call looks at
	maxScanCalls = 100_000 // SCAN calls on one server, at most
	readBatch    = 500     // keys read in one round trip
)

// Node is a live agent as its presence record tells.
type Node struct {
	agent.NodeInfo
	// Key is the record's key.
	Key string
	// LastSeen is when the agent last renewed its record (from the time
	// its key has left to live); zero when the key has no time to live.
	LastSeen time.Time
	// Err is set when the record could not be decoded (NodeInfo is then
	// empty but for Node, taken from the key).
	Err error
}

// Nodes returns the agents whose presence records are under request
// channel channel, by name. It finds the keys with SCAN (never KEYS, which
// blocks the server) on the one server, or on every master of a cluster.
func (c *Client) Nodes(ctx context.Context, channel string) ([]Node, error) {
	pattern := globEscape(channel+PresenceInfix) + "*"
	keys := map[string]bool{}
	for addr, node := range c.servers() {
		if c.c.Mode() == rueidis.ClientModeCluster {
			role, err := node.Do(ctx, node.B().Role().Build()).ToArray()
			if err != nil {
				return nil, fmt.Errorf("redis: ROLE of %s: %w", addr, c.o.classify(err))
			}
			if r, _ := role[0].ToString(); r != "master" {
				continue // its master holds the same keys
			}
		}
		if err := scanKeys(ctx, node, pattern, keys); err != nil {
			return nil, fmt.Errorf("redis: SCAN %s on %s: %w", pattern, addr, c.o.classify(err))
		}
	}
	sorted := slices.Sorted(maps.Keys(keys))
	var out []Node
	for batch := range slices.Chunk(sorted, readBatch) {
		nodes, err := c.readRecords(ctx, channel, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Node, b.Node) })
	return out, nil
}

// servers returns the servers to scan: every node of a cluster (the
// caller skips the replicas), else the one the client talks to.
func (c *Client) servers() map[string]rueidis.Client {
	if c.c.Mode() == rueidis.ClientModeCluster {
		return c.c.Nodes()
	}
	return map[string]rueidis.Client{strings.Join(c.o.Addrs, ","): c.c}
}

// scanKeys adds the keys matching pattern on one server to keys.
func scanKeys(ctx context.Context, node rueidis.Client, pattern string, keys map[string]bool) error {
	var cursor uint64
	for range maxScanCalls {
		e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(scanCount).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		for _, k := range e.Elements {
			keys[k] = true
		}
		if cursor = e.Cursor; cursor == 0 {
			return nil
		}
	}
	return fmt.Errorf("more than %d SCAN calls", maxScanCalls)
}

// readRecords reads the records of keys (GET and PTTL of each, in one
// round trip); a key gone meanwhile is left out.
func (c *Client) readRecords(ctx context.Context, channel string, keys []string) ([]Node, error) {
	cmds := make(rueidis.Commands, 0, 2*len(keys))
	for _, k := range keys {
		cmds = append(cmds, c.c.B().Get().Key(k).Build(), c.c.B().Pttl().Key(k).Build())
	}
	now := time.Now()
	res := c.c.DoMulti(ctx, cmds...)
	var out []Node
	for i, k := range keys {
		body, err := res[2*i].ToString()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("redis: GET %s: %w", k, c.o.classify(err))
		}
		pttl, err := res[2*i+1].AsInt64()
		if err != nil {
			return nil, fmt.Errorf("redis: PTTL %s: %w", k, c.o.classify(err))
		}
		out = append(out, decodeRecord(channel, k, body, pttl, now))
	}
	return out, nil
}

// decodeRecord decodes the record body of key, which had pttl
// milliseconds left to live at now.
func decodeRecord(channel, key, body string, pttl int64, now time.Time) Node {
	n := Node{Key: key}
	var r record
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		n.Err = fmt.Errorf("not a presence record: %w", err)
	} else {
		n.NodeInfo = r.NodeInfo
	}
	if n.Node == "" {
		n.Node = strings.TrimPrefix(key, channel+PresenceInfix)
	}
	if pttl >= 0 && r.TTL > 0 {
		ttl := time.Duration(r.TTL * float64(time.Second))
		n.LastSeen = now.Add(time.Duration(pttl)*time.Millisecond - ttl).Truncate(time.Millisecond)
	}
	return n
}

// Present reports which of the agents named in nodes still have their
// presence record under channel.
func (c *Client) Present(ctx context.Context, channel string, nodes []string) (map[string]bool, error) {
	cmds := make(rueidis.Commands, 0, len(nodes))
	for _, n := range nodes {
		cmds = append(cmds, c.c.B().Exists().Key(PresenceKey(channel, n)).Build())
	}
	out := make(map[string]bool, len(nodes))
	for i, r := range c.c.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, fmt.Errorf("redis: EXISTS %s: %w", PresenceKey(channel, nodes[i]), c.o.classify(err))
		}
		out[nodes[i]] = n > 0
	}
	return out, nil
}

// globEscape escapes the characters that SCAN's MATCH pattern treats
// specially, so that s matches itself only.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
