package afpacket

import "context"

// A Pool keeps prepared capture sockets so that Open does not wait for the
// kernel's ring setup. Setting up a TPACKET_V3 ring (PACKET_RX_RING) waits
// for an RCU grace period, 10-80 ms on a busy host; a Pool does that ahead
// of time in one background goroutine, and Pool.Open only attaches the
// filter, adds the promiscuous membership and binds, which wait for nothing.
// The spares made after an open carry that open's filter program already,
// so that an open repeating the previous one's filter (a request an alert
// rule repeats) skips the attach too; another filter replaces it.
//
// Memory: every spare holds a whole ring of kernel memory, BlockSize ×
// NumBlocks bytes (32 MiB with the defaults), counted against no limit of
// the agent's. Keep the spare count small (1 by default) and the geometries
// few: a Pool keeps spares for at most 4 geometries.
//
// Spares are raw sockets made in the network namespace of the Pool's
// goroutine; an Open on a cooked link, on "any", from another namespace,
// or with no matching spare is served as Open serves it.
type Pool struct {
	st poolState
}

// NewPool starts a Pool keeping spares prepared sockets (1 when spares ≤ 0)
// for the ring geometry (BlockSize, NumBlocks, BlockTimeout) of each of
// cfgs, and for each further geometry Pool.Open sees. It stops refilling
// when ctx ends; Close releases the spares. An invalid Config is an error.
func NewPool(ctx context.Context, spares int, cfgs ...Config) (*Pool, error) {
	return newPool(ctx, spares, cfgs)
}

// Open is Open served from the pool: a prepared socket whose ring matches
// cfg when there is one, then a refill in the background.
func (p *Pool) Open(ifname string, cfg Config) (*Conn, error) { return p.open(ifname, cfg) }

// Close stops the refill and unmaps and closes every spare. Handles opened
// from the pool are not affected. Close is idempotent.
func (p *Pool) Close() error { return p.close() }

// Ready reports whether a prepared socket for cfg's ring geometry is
// waiting in the calling thread's network namespace, so that the next
// Open with cfg is served from the pool.
func (p *Pool) Ready(cfg Config) bool { return p.ready(cfg) }
