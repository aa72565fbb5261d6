package agent

import (
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// Defaults applied by Config for every zero field (the seed's values where the
// seed has one).
const (
	DefaultMaxPackets     = 50000
	DefaultMaxBytes       = 100_000_000
	DefaultMaxTimeout     = 3600 * time.Second
	DefaultMaxDuration    = 3600 * time.Second
	DefaultInactivity     = 10 * time.Second
	DefaultSnaplen        = 500
	DefaultMaxSnaplen     = 262144
	DefaultMaxConcurrent  = 16
	DefaultMaxMemory      = 1 << 30
	DefaultRingBytes      = 8 << 20
	DefaultChunkSize      = capfile.HugePageSize
	DefaultFreeChunks     = 8
	DefaultShutdownGrace  = 30 * time.Second
	DefaultDedupTTL       = 15 * time.Minute
	DefaultDedupSize      = 16384
	DefaultKeepRequests   = 1024
	DefaultResultQueue    = 1024
	DefaultPublishTimeout = 10 * time.Second
	DefaultCompileTimeout = 5 * time.Second
	DefaultNameTimeout    = 2 * time.Second
)

// Config is what the agent needs from the daemon's configuration. The
// daemon's main maps package config onto it. A zero field takes the Default*
// value named beside it.
type Config struct {
	// Hostname is this node's name, matched against a request's node/nodere.
	Hostname string

	// MaxPackets bounds a request's "packets" and is the default when the
	// request leaves it out (DefaultMaxPackets).
	MaxPackets int64
	// MaxBytes bounds "bytes" (file bytes, pcap overhead included) and is its
	// default (DefaultMaxBytes).
	MaxBytes int64
	// MaxTimeout bounds "timeout" (DefaultMaxTimeout).
	MaxTimeout time.Duration
	// MaxDuration bounds "duration" and is its default (DefaultMaxDuration).
	MaxDuration time.Duration
	// DefaultTimeout is the inactivity timeout when a request has none
	// (DefaultInactivity); it must not exceed MaxTimeout.
	DefaultTimeout time.Duration
	// Snaplen is the snap length when a request has none (DefaultSnaplen).
	Snaplen int
	// MaxSnaplen bounds "snap" (DefaultMaxSnaplen).
	MaxSnaplen int
	// PacketDebug turns on per-packet logging for every request (a request
	// may also ask for it).
	PacketDebug bool
	// Format is the file format when a request has none: "pcap" (default)
	// or "pcapng".
	Format string

	// Aliases maps an alias to the interfaces it names (from the config's
	// [[interface]] tables).
	Aliases map[string][]string
	// Promiscuous puts the interfaces in promiscuous mode while capturing.
	Promiscuous bool

	// MaxConcurrent caps the interface captures running at once
	// (DefaultMaxConcurrent). A request that does not fit is rejected.
	MaxConcurrent int
	// MaxMemory is the memory budget in bytes for rings and buffers of all
	// running captures (DefaultMaxMemory). Each capture reserves its worst
	// case at admission; a request that does not fit is rejected.
	MaxMemory int64
	// RingBytes is the memory one capture handle's receive ring takes
	// (DefaultRingBytes); it is charged to MaxMemory.
	RingBytes int64
	// BlockTimeout is the ring's block retire timeout (0: afpacket's
	// default): how long a frame on a quiet link may wait for delivery.
	BlockTimeout time.Duration
	// ChunkSize is the size of one buffer chunk (DefaultChunkSize).
	ChunkSize int
	// FreeChunks is how many idle chunks the agent keeps for reuse
	// (DefaultFreeChunks).
	FreeChunks int

	// ShutdownGrace is how long Run lets captures deliver after its context
	// ends (DefaultShutdownGrace).
	ShutdownGrace time.Duration
	// DedupTTL is how long a request id is remembered (DefaultDedupTTL).
	DedupTTL time.Duration
	// DedupSize is the most request ids remembered (DefaultDedupSize).
	DedupSize int
	// KeepRequests is the most finished requests kept for Lookup
	// (DefaultKeepRequests).
	KeepRequests int
	// ResultQueue is the number of result events waiting to be published
	// before new ones are dropped (DefaultResultQueue).
	ResultQueue int
	// PublishTimeout bounds one PublishResult call (DefaultPublishTimeout).
	PublishTimeout time.Duration
	// CompileTimeout bounds the compilation of one filter
	// (DefaultCompileTimeout); name lookups in a filter count against it.
	CompileTimeout time.Duration
	// NameTimeout bounds one host name lookup of a filter
	// (DefaultNameTimeout), within CompileTimeout: a name whose DNS server
	// does not answer fails the filter soon.
	NameTimeout time.Duration
	// NoFilterNames refuses request filters that name hosts, networks,
	// ports or protocols ([general] filternames = false): no requester can
	// make the agent query DNS or read the name files. Numbers still work.
	NoFilterNames bool
	// MaxLookback bounds a request's "lookback", the seconds of history
	// it asks of its interfaces' look-back rings (DefaultMaxLookback).
	MaxLookback time.Duration
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setI64 := func(p *int64, d int64) {
		if *p <= 0 {
			*p = d
		}
	}
	setInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setI64(&c.MaxPackets, DefaultMaxPackets)
	setI64(&c.MaxBytes, DefaultMaxBytes)
	setDur(&c.MaxTimeout, DefaultMaxTimeout)
	setDur(&c.MaxDuration, DefaultMaxDuration)
	setDur(&c.DefaultTimeout, min(DefaultInactivity, c.MaxTimeout))
	if c.DefaultTimeout > c.MaxTimeout {
		c.DefaultTimeout = c.MaxTimeout
	}
	setInt(&c.MaxSnaplen, DefaultMaxSnaplen)
	setInt(&c.Snaplen, min(DefaultSnaplen, c.MaxSnaplen))
	if c.Snaplen > c.MaxSnaplen {
		c.Snaplen = c.MaxSnaplen
	}
	if c.Format == "" {
		c.Format = FormatPcap
	}
	setInt(&c.MaxConcurrent, DefaultMaxConcurrent)
	setI64(&c.MaxMemory, DefaultMaxMemory)
	setI64(&c.RingBytes, DefaultRingBytes)
	setInt(&c.ChunkSize, DefaultChunkSize)
	setInt(&c.FreeChunks, DefaultFreeChunks)
	setDur(&c.ShutdownGrace, DefaultShutdownGrace)
	setDur(&c.DedupTTL, DefaultDedupTTL)
	setInt(&c.DedupSize, DefaultDedupSize)
	setInt(&c.KeepRequests, DefaultKeepRequests)
	setInt(&c.ResultQueue, DefaultResultQueue)
	setDur(&c.PublishTimeout, DefaultPublishTimeout)
	setDur(&c.CompileTimeout, DefaultCompileTimeout)
	setDur(&c.NameTimeout, DefaultNameTimeout)
	setDur(&c.MaxLookback, DefaultMaxLookback)
	return c
}
