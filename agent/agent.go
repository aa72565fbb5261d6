package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// Agent takes capture requests, runs their captures and reports their
// results. It is safe for concurrent use. Submit starts captures in their
// own goroutines; Shutdown (or Run) ends them and waits for their delivery.
type Agent struct {
	log     *slog.Logger
	clock   Clock
	open    Opener
	lookup  InterfaceLookup
	compile Compiler
	// resolver looks up the names in filters (nil: bpfcompile's default).
	resolver bpfcompile.Resolver
	pubs     []ResultPublisher
	spool    Sink
	journal  Journal
	index    Index
	// indexMu serializes the index's Puts (see indexPut).
	indexMu sync.Mutex

	pool *capfile.ChunkPool

	// captureCtx is the parent of every capture; Shutdown cancels it with
	// errShutdown. hardCtx bounds deliveries and publishing; it ends when
	// the shutdown grace period runs out.
	captureCtx    context.Context
	stopCaptures  context.CancelCauseFunc
	hardCtx       context.Context
	abort         context.CancelFunc
	wg            sync.WaitGroup // running captures
	results       chan queued
	publisherDone chan struct{}

	mu        sync.Mutex
	cfg       Config
	sinks     []Sink
	closed    bool
	active    int   // interface captures admitted and not finished
	memUsed   int64 // bytes reserved by them
	store     *requestStore
	seen      *idSet
	planning  map[string]*planning // requests being decoded and compiled, by id
	qclosed   bool
	dropped   uint64 // results dropped because the queue was full
	count     counters
	closeOnce sync.Once

	// earlyCancels are cancel messages for requests not seen (yet); a.mu
	// guards it.
	earlyCancels *cancelSet
	started      time.Time // when New made the agent
	hostIfaces   func() ([]HostInterface, error)
	// lookback holds the look-back rings (nil: none); their memory comes
	// off the budget.
	lookback *Lookback
	// progs caches compiled filters (nil in CaptureOnce's agent: none).
	progs *progCache
}

// defaultCompiler is bpfcompile.Compile.
func defaultCompiler(expr string, opts bpfcompile.Options) ([]bpf.Instruction, error) {
	return bpfcompile.Compile(expr, opts)
}

// Option configures an Agent.
type Option func(*Agent)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// WithClock sets the clock the capture sessions read (default: time.Now).
func WithClock(c Clock) Option { return func(a *Agent) { a.clock = c } }

// WithOpener sets how capture handles are opened (default: OpenAFPacket).
func WithOpener(o Opener) Option { return func(a *Agent) { a.open = o } }

// WithInterfaceLookup sets how interfaces are checked and described
// (default: LookupInterface).
func WithInterfaceLookup(f InterfaceLookup) Option { return func(a *Agent) { a.lookup = f } }

// WithCompiler sets the filter compiler (default: bpfcompile.Compile).
func WithCompiler(c Compiler) Option { return func(a *Agent) { a.compile = c } }

// WithResolver sets how the names in filters are looked up (default:
// bpfcompile.DefaultResolver: DNS and the system's name files). Every
// lookup is still bounded by Config.NameTimeout and refused under
// Config.NoFilterNames.
func WithResolver(r bpfcompile.Resolver) Option { return func(a *Agent) { a.resolver = r } }

// WithSinks sets where captures are delivered.
func WithSinks(s ...Sink) Option { return func(a *Agent) { a.sinks = append(a.sinks, s...) } }

// WithPublishers sets who receives the result events.
func WithPublishers(p ...ResultPublisher) Option {
	return func(a *Agent) { a.pubs = append(a.pubs, p...) }
}

// WithSpool sets a sink used only when every other sink failed (a spool
// directory that is retried later), so that a capture is not lost.
func WithSpool(s Sink) Option { return func(a *Agent) { a.spool = s } }

// New returns an Agent for cfg. A zero field of cfg takes its default; an
// empty Hostname is the kernel's host name.
func New(cfg Config, opts ...Option) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	a := &Agent{
		log:      slog.New(slog.DiscardHandler),
		clock:    systemClock{},
		open:     OpenAFPacket,
		lookup:   LookupInterface,
		compile:  defaultCompiler,
		cfg:      cfg,
		store:    newRequestStore(cfg.KeepRequests),
		seen:     newIDSet(cfg.DedupTTL, cfg.DedupSize),
		planning: map[string]*planning{},
		pool:     capfile.NewChunkPool(cfg.ChunkSize, cfg.FreeChunks),
		results:  make(chan queued, cfg.ResultQueue),

		publisherDone: make(chan struct{}),
		earlyCancels:  newCancelSet(earlyCancelTTL, earlyCancelSize),
		hostIfaces:    ListHostInterfaces,
		progs:         newProgCache(progCacheEntries, progCacheBytes),
	}
	for _, o := range opts {
		o(a)
	}
	if a.compile == nil {
		a.compile = defaultCompiler
	}
	if a.open == nil {
		a.open = OpenAFPacket
	}
	if a.lookup == nil {
		a.lookup = LookupInterface
	}
	if a.clock == nil {
		a.clock = systemClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.hostIfaces == nil {
		a.hostIfaces = ListHostInterfaces
	}
	a.started = a.clock.Now()
	a.captureCtx, a.stopCaptures = context.WithCancelCause(context.Background())
	a.hardCtx, a.abort = context.WithCancel(context.Background())
	go a.publishLoop()
	return a, nil
}

func checkConfig(cfg *Config) error {
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent: no hostname configured and the system's is unknown: %w", err)
		}
		cfg.Hostname = h
	}
	if cfg.Format != FormatPcap && cfg.Format != FormatPcapNG {
		return fmt.Errorf("agent: format %q: must be %q or %q", cfg.Format, FormatPcap, FormatPcapNG)
	}
	if cfg.ChunkSize < 64 {
		return fmt.Errorf("agent: chunk size %d is too small", cfg.ChunkSize)
	}
	for alias, ifaces := range cfg.Aliases {
		for _, i := range ifaces {
			if err := checkIfName(i); err != nil {
				return fmt.Errorf("agent: alias %q: %w", alias, err)
			}
		}
	}
	return nil
}

// Reload replaces the configuration (limits, aliases, ...) and, when sinks
// is not nil, the sinks. Running captures keep what they started with.
func (a *Agent) Reload(cfg Config, sinks []Sink) error {
	cfg = cfg.withDefaults()
	if err := checkConfig(&cfg); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfg = cfg
	a.seen.ttl, a.seen.size, a.store.keep = cfg.DedupTTL, cfg.DedupSize, cfg.KeepRequests
	if sinks != nil {
		a.sinks = append([]Sink(nil), sinks...)
	}
	return nil
}

// Hostname is the node name requests are matched against.
func (a *Agent) Hostname() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Hostname
}

// Submit takes one request message from source ("redis", "sqs", "http", ...
// for the logs). It decodes and validates it, matches it to this node,
// admits it and starts one capture per interface, and returns the request
// id without waiting for the captures.
//
// A request for other nodes returns ErrNotForNode and nothing else happens.
// A request id held by another request (running, finished and still kept
// for Lookup, or admitted within the dedup TTL) returns an error matching
// ErrDuplicate: the same message again (a redelivery) is ignored, another
// request with that id is refused with a rejected Result that is published
// but does not replace the stored request. An invalid request
// (*ValidationError) or one that does not fit the budget (ErrNotAdmitted)
// is rejected: a Result with status rejected is published and kept for
// Lookup, and the error returned. After Shutdown it returns ErrShuttingDown.
//
// A cancel message ({"cancel": "<id>"}, see DecodeCancel) cancels request
// id instead: nil when this agent runs it, an error matching ErrNotForNode
// and ErrUnknownID when it does not.
func (a *Agent) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	a.mu.Lock()
	cfg, closed := a.cfg, a.closed
	a.mu.Unlock()
	if closed {
		return "", ErrShuttingDown
	}
	log := a.log.With("source", source)
	if id, ok, err := DecodeCancel(msg); ok {
		if err != nil {
			log.Warn("cancel message rejected", "error", err)
			return "", err
		}
		return id, a.submitCancel(id, source)
	}

	sum := digest(sha256.Sum256(msg))
	d, err := decode(msg)
	if err != nil {
		if !mayBeForNode(msg, cfg.Hostname) {
			log.Debug("ignoring an invalid request for other nodes", "error", err)
			a.bump(&a.count.notForNode)
			return "", ErrNotForNode
		}
		id := d.req.ID
		if !ValidID(id) {
			id = a.newID()
		}
		return id, a.reject(id, source, &d.req, err)
	}
	if !MatchNode(cfg.Hostname, d.req.Node, d.nodeRE) {
		log.Debug("request is for other nodes", "id", d.req.ID, "node", d.req.Node, "nodere", d.req.NodeRE)
		a.bump(&a.count.notForNode)
		return d.req.ID, ErrNotForNode
	}
	if d.req.ID == "" {
		d.req.ID = a.newID()
	}
	id := d.req.ID
	log = log.With("id", id)
	if c := a.claim(id, sum); c != idFree {
		return id, a.duplicate(log, id, &d.req, c)
	}
	// Submit runs concurrently for several requests, and compiling a
	// filter may take seconds: a Cancel arriving meanwhile is kept for
	// admit.
	a.startPlanning(id)
	defer a.endPlanning(id)
	p, err := a.makePlan(ctx, &cfg, &d)
	if err != nil {
		return id, a.reject(id, source, &d.req, err)
	}
	a.mu.Lock()
	sinks := a.sinks
	a.mu.Unlock()
	if err := checkSinks(sinks, p.req); err != nil {
		return id, a.reject(id, source, &d.req, err)
	}
	r, err := a.admit(id, source, sum, p)
	if err != nil {
		var ce *claimError
		if errors.As(err, &ce) { // taken while the plan was made
			return id, a.duplicate(log, id, &d.req, ce.claim)
		}
		if errors.Is(err, ErrShuttingDown) {
			return id, err
		}
		return id, a.reject(id, source, &d.req, err)
	}
	log.Info("capture request accepted", "interfaces", r.ifaces, "bpf", p.req.BPF,
		"packets", p.packets, "bytes", p.bytes, "duration", p.duration, "timeout", p.timeout,
		"snap", p.snaplen, "format", p.format)
	for _, cp := range p.captures {
		go a.runCapture(r, cp)
	}
	// Journaled while the sockets are armed: the fsync does not delay the
	// capture.
	a.journalAdd(r, cfg.Hostname)
	return id, nil
}

// admit reserves capture slots and memory for p, or says why it cannot.
func (a *Agent) admit(id, source string, sum digest, p *plan) (*request, error) {
	n := len(p.captures)
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg := &a.cfg
	now := a.clock.Now()
	if a.closed {
		return nil, ErrShuttingDown
	}
	if c := a.claimLocked(id, sum, now); c != idFree {
		return nil, &claimError{claim: c}
	}
	switch {
	case a.active+n > cfg.MaxConcurrent:
		return nil, fmt.Errorf("%w: %d captures running, the limit is %d and this request needs %d",
			ErrNotAdmitted, a.active, cfg.MaxConcurrent, n)
	}
	budget := cfg.MaxMemory - a.lookback.Memory() // the look-back rings take theirs first
	if free := (budget - a.memUsed) / int64(n); p.reserve > free && p.ring > cfg.RingBytes {
		// The ring the limits ask for does not fit: a smaller one, down
		// to the configured ringsize (what the ring has no room for is
		// kept in chunks, which the reservation covers either way).
		if ring := shrinkRing(cfg.RingBytes, free-(p.reserve-p.ring)); ring > 0 {
			p.reserve -= p.ring - ring
			p.ring = ring
		} else {
			p.reserve -= p.ring - cfg.RingBytes
			p.ring = cfg.RingBytes
		}
	}
	if p.reserve > budget/int64(n) {
		return nil, fmt.Errorf("%w: needs %d bytes of memory for each of %d captures, more than the whole %d byte budget%s",
			ErrNotAdmitted, p.reserve, n, budget, lookbackNote(cfg.MaxMemory, budget))
	}
	need := int64(n) * p.reserve
	if need > budget-a.memUsed {
		return nil, fmt.Errorf("%w: needs %d bytes of memory, %d of the %d byte budget are in use%s",
			ErrNotAdmitted, need, a.memUsed, budget, lookbackNote(cfg.MaxMemory, budget))
	}
	a.active += n
	a.memUsed += need
	a.count.accepted++
	a.seen.add(id, sum, now)
	ctx, cancel := context.WithCancelCause(a.captureCtx)
	r := &request{
		id: id, source: source, submitted: now, plan: p, ctx: ctx, cancel: cancel,
		phase: PhasePending, remaining: n, digest: sum, bpf: p.req.BPF,
	}
	for _, cp := range p.captures {
		r.ifaces = append(r.ifaces, cp.iface)
		r.live = append(r.live, &liveCounters{iface: cp.iface})
	}
	if a.journal != nil {
		r.journaled = make(chan struct{})
	}
	a.store.add(r)
	a.wg.Add(n)
	if pl := a.planning[id]; (pl != nil && pl.cancelled) || a.earlyCancels.take(id, now) {
		// Cancelled while it was being planned, or before it arrived: its
		// captures start and end at once with stop reason cancelled, so
		// that the requester gets the results it waits for.
		cancel(errCancelled)
	}
	return r, nil
}

// reject publishes and records a rejected Result for id and returns err;
// the Result echoes req's alertid, tags and customer (as far as req was
// decoded: nil for none).
// Its log line is the only one a rejection gets (the transports log only
// what never reached the agent), so it carries the id, the source and the
// reason.
//
// The record never replaces a request that holds the id (see
// request.holdsID): that one keeps its state and results.
func (a *Agent) reject(id, source string, req *Request, err error) error {
	a.log.Warn("capture request rejected", "id", id, "source", source, "error", err)
	now := a.clock.Now()
	a.mu.Lock()
	a.count.rejected++
	res := a.rejectedLocked(id, now, err)
	echo(&res, req)
	if old, ok := a.store.get(id); !ok || !old.holdsID() {
		a.store.add(&request{id: id, source: source, submitted: now, phase: PhaseDone, results: []Result{res}})
	}
	a.mu.Unlock()
	a.enqueue(res)
	return err
}

// rejectedLocked is the rejected Result for id; a.mu is held.
func (a *Agent) rejectedLocked(id string, now time.Time, err error) Result {
	return Result{
		ID: id, Node: a.cfg.Hostname, Status: StatusRejected,
		Started: now, Ended: now, Locations: []string{}, Error: err.Error(),
	}
}

// Lookup returns the state of a running or recently finished request,
// with the live counters of its running captures.
func (a *Agent) Lookup(id string) (RequestState, bool) {
	a.mu.Lock()
	r, ok := a.store.get(id)
	if !ok {
		a.mu.Unlock()
		return RequestState{}, false
	}
	st, live := r.snapshot(), r.running()
	a.mu.Unlock()
	// Outside the lock: reading the kernel's counters is a system call.
	st.Live = readLive(live, a.clock.Now())
	return st, true
}

// Cancel ends the captures of a running request early (stop reason
// cancelled); what they hold is still delivered. A request still being
// decoded and compiled is cancelled as soon as it is admitted.
func (a *Agent) Cancel(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.store.get(id)
	if !ok || r.phase == PhaseDone || r.cancel == nil {
		if pl := a.planning[id]; pl != nil {
			pl.cancelled = true
			return nil
		}
		return fmt.Errorf("cancel %q: %w", id, ErrUnknownID)
	}
	r.cancel(errCancelled)
	return nil
}

// planning is a request id whose Submit calls are between decoding and
// admission.
type planning struct {
	n         int  // Submit calls planning this id
	cancelled bool // Cancel was called meanwhile
}

func (a *Agent) startPlanning(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pl := a.planning[id]
	if pl == nil {
		pl = &planning{}
		a.planning[id] = pl
	}
	pl.n++
}

func (a *Agent) endPlanning(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if pl := a.planning[id]; pl != nil {
		if pl.n--; pl.n == 0 {
			delete(a.planning, id)
		}
	}
}

// Running returns the number of interface captures admitted and not
// finished, and the memory they reserved.
func (a *Agent) Running() (captures int, memory int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active, a.memUsed
}

// Run waits until ctx ends, then shuts the agent down, giving running
// captures the configured grace period to deliver.
func (a *Agent) Run(ctx context.Context) error {
	<-ctx.Done()
	a.mu.Lock()
	grace := a.cfg.ShutdownGrace
	a.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return a.Shutdown(sctx)
}

// Shutdown stops taking requests, ends running captures early (stop reason
// shutdown), lets them deliver what they hold and publishes their results.
// When ctx ends first, deliveries and publishing are abandoned and
// Shutdown returns ctx's error.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	n := a.active
	a.mu.Unlock()
	if n > 0 {
		a.log.Info("shutting down: ending running captures", "captures", n)
	}
	a.stopCaptures(errShutdown)
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		a.abort()
		return fmt.Errorf("agent: shutdown: captures still delivering: %w", ctx.Err())
	}
	a.closeResults()
	select {
	case <-a.publisherDone:
	case <-ctx.Done():
		a.abort()
		return fmt.Errorf("agent: shutdown: results still publishing: %w", ctx.Err())
	}
	a.abort()
	a.pool.Drain() // every capture has ended: give the idle chunks back
	return nil
}

// newID makes a request id from the time and 48 random bits.
func (a *Agent) newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return a.clock.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
