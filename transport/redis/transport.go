package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// Source is the source name given to the Submitter.
const Source = "redis"

// The connection states reported by State.
const (
	StateConnecting = "connecting" // before the first subscription
	StateUp         = "subscribed"
	StateDown       = "down"
	StateAuth       = "auth-failed"
)

// ErrNotConnected is returned by PublishResult before the first connection.
var ErrNotConnected = errors.New("redis: not connected")

var _ agent.ResultPublisher = (*Transport)(nil)

// Transport subscribes to the request channel and publishes results.
type Transport struct {
	o   Options
	sub transport.Submitter
	log *slog.Logger

	client atomic.Pointer[rueidis.Client] // nil until connected
	state  transport.StateLog
	queue  chan []byte
	queued atomic.Int64 // bytes of the messages in queue
	rejLog transport.Sometimes

	// Messages dropped on arrival (drop.go), and the rejected results
	// that answer them, waiting to be published.
	dropped     atomic.Uint64
	tooLarge    atomic.Uint64
	answers     chan agent.Result
	answersLost atomic.Uint64
	dropLog     transport.Sometimes

	everUp     atomic.Bool // a subscription was confirmed once
	subscribed atomic.Bool // confirmed since the last Receive began

	// The presence record (presence.go).
	presenceKick   chan struct{}
	presenceErr    string // the last refresh's failure; only the presence loop uses it
	presenceWrites atomic.Uint64
}

// New returns a Transport that hands requests to sub. It does not connect:
// Run does.
func New(o Options, sub transport.Submitter, log *slog.Logger) (*Transport, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("transport", Source)
	t := &Transport{o: o, sub: sub, log: log, queue: make(chan []byte, o.QueueSize), answers: make(chan agent.Result, answerQueue)}
	t.state.Log = log
	t.state.Set(StateConnecting, slog.LevelDebug, "redis: connecting", "addrs", o.Addrs)
	t.rejLog = transport.Sometimes{Burst: 10, Interval: time.Second}
	t.dropLog = transport.Sometimes{Burst: 10, Interval: time.Second}
	t.presenceKick = make(chan struct{}, 1)
	return t, nil
}

// State returns the connection state: StateConnecting, StateUp, StateDown
// or StateAuth.
func (t *Transport) State() string { return t.state.State() }

// Dropped returns how many messages were dropped on arrival: larger than
// MaxMessage, or with the queue full (QueueSize messages or QueueBytes
// bytes waiting for the Submitter).
func (t *Transport) Dropped() uint64 { return t.dropped.Load() }

// DroppedTooLarge returns how many of the dropped messages were larger than
// MaxMessage.
func (t *Transport) DroppedTooLarge() uint64 { return t.tooLarge.Load() }

// Run connects, subscribes and submits requests until ctx ends, then
// returns nil. It reconnects and resubscribes whenever the connection is
// lost. It returns an error matching ErrAuth if the server refuses the
// credentials before the first subscription succeeded: that is a
// configuration mistake, not an outage.
func (t *Transport) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the loops before wg.Wait when Run returns an error
	for range t.o.Workers {
		wg.Go(func() { t.submitLoop(ctx) })
	}
	wg.Go(func() { t.answerLoop(ctx) })
	stopPresence := t.startPresence()
	defer stopPresence()

	// Up to 20% jitter, so that a fleet does not reconnect in step.
	bo := retry.Backoff{Policy: retry.Policy{Initial: t.o.MinBackoff, Max: t.o.MaxBackoff, Jitter: 0.2}}
	for {
		c, err := rueidis.NewClient(t.o.clientOption())
		if err != nil {
			err = t.o.classify(err)
			if errors.Is(err, ErrAuth) && !t.everUp.Load() {
				t.state.Set(StateAuth, slog.LevelError, "redis: authentication failed", "err", err)
				return err
			}
			t.down(err)
			if retry.Wait(ctx, bo.Next()) != nil {
				return nil
			}
			continue
		}
		t.client.Store(&c)
		err = t.receive(ctx, c, &bo)
		if ctx.Err() != nil {
			stopPresence() // deletes the record while c is there to do it
		}
		t.client.Store(nil)
		c.Close()
		if err != nil {
			t.state.Set(StateAuth, slog.LevelError, "redis: authentication failed", "err", err)
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// startPresence starts the presence loop when o.Presence is set, on a
// context of its own: the function returned ends it (deleting the record)
// and waits for it, once, so that Run can do so before it closes the
// client.
func (t *Transport) startPresence() (stop func()) {
	if t.o.Presence == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.presenceLoop(ctx)
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// receive subscribes on c and resubscribes after each loss until ctx ends.
// rueidis redials a broken connection on the next call, so the client is
// kept; only an authentication failure before the first subscription
// returns an error.
func (t *Transport) receive(ctx context.Context, c rueidis.Client, bo *retry.Backoff) error {
	// The hook runs on rueidis's connection goroutine: no blocking there.
	hookCtx := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" && s.Channel == t.o.Channel {
			t.everUp.Store(true)
			t.subscribed.Store(true)
			t.kickPresence()
			t.state.Set(StateUp, slog.LevelInfo, "redis: subscribed", "addrs", t.o.Addrs, "channel", t.o.Channel)
		}
	})
	cmd := c.B().Subscribe().Channel(t.o.Channel).Build()
	for {
		err := c.Receive(hookCtx, cmd, t.onMessage)
		if ctx.Err() != nil {
			return nil
		}
		if t.subscribed.Swap(false) {
			bo.Reset()
		}
		if err == nil {
			err = errors.New("subscription ended by the server")
		}
		err = t.o.classify(err)
		if errors.Is(err, ErrAuth) && !t.everUp.Load() {
			return err
		}
		t.down(err)
		if retry.Wait(ctx, bo.Next()) != nil {
			return nil
		}
	}
}

// down records the down state (logged once per change). Before the first
// subscription it says "unreachable", after it "connection lost".
func (t *Transport) down(err error) {
	state, msg := StateDown, "redis: connection lost; reconnecting"
	if !t.everUp.Load() {
		msg = "redis: server unreachable; retrying"
	}
	if errors.Is(err, ErrAuth) {
		state, msg = StateAuth, "redis: authentication failed; retrying"
	}
	t.state.Set(state, slog.LevelWarn, msg, "err", err, "max_backoff", t.o.MaxBackoff)
}

// onMessage queues a message for submitLoop. It runs in the Receive loop,
// which must keep draining rueidis's buffer, so it never blocks. A message
// larger than MaxMessage is dropped before it is copied; so is one that
// does not fit the queue (QueueSize messages, QueueBytes bytes). Either is
// answered when it names its id (drop.go).
func (t *Transport) onMessage(m rueidis.PubSubMessage) {
	n := len(m.Message)
	if n > t.o.MaxMessage {
		t.drop(m.Message, dropTooLarge)
		return
	}
	// onMessage is the only producer: what it checks here can only shrink
	// until it adds.
	if t.queued.Load()+int64(n) > int64(t.o.QueueBytes) {
		t.drop(m.Message, dropQueueFull)
		return
	}
	t.queued.Add(int64(n))
	select {
	case t.queue <- []byte(m.Message):
	default:
		t.queued.Add(-int64(n))
		t.drop(m.Message, dropQueueFull)
	}
}

// submitLoop hands queued messages to the Submitter until ctx ends. Workers
// of them run at once, so requests may be submitted out of their order of
// arrival; the agent keeps a Cancel for a request it is still planning.
func (t *Transport) submitLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-t.queue:
			t.queued.Add(-int64(len(msg)))
			id, err := t.sub.Submit(ctx, msg, Source)
			if errors.Is(err, transport.ErrRejected) {
				// The Guard's rejections reach no one else: log them here,
				// a few per second at most (a flood must not flood the log).
				if ok, suppressed := t.rejLog.Allow(time.Now()); ok {
					t.log.Warn("redis: request rejected", "err", err, "bytes", len(msg), "suppressed", suppressed)
				}
				continue
			}
			if err != nil {
				// The agent logs its own rejections; a request for other
				// nodes is the normal case in a fleet.
				t.log.Debug("redis: request not taken", "id", id, "err", err)
				continue
			}
			t.log.Debug("redis: request submitted", "id", id)
		}
	}
}

// PublishResult publishes r as JSON on the results channel. It implements
// agent.ResultPublisher. While the connection is down it retries until ctx
// ends, so that a result finished during a short outage still arrives; with
// a context that never ends it tries once.
func (t *Transport) PublishResult(ctx context.Context, r agent.Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redis: encoding result %s: %w", r.ID, err)
	}
	last := ErrNotConnected
	for {
		if cp := t.client.Load(); cp != nil {
			c := *cp
			err := c.Do(ctx, c.B().Publish().Channel(t.o.ResultsChannel).Message(string(b)).Build()).Error()
			if err == nil {
				return nil
			}
			if _, refused := rueidis.IsRedisErr(err); refused {
				// The server answered (NOPERM, ...): retrying will not help.
				return fmt.Errorf("redis: publishing result %s on %s: %w", r.ID, t.o.ResultsChannel, err)
			}
			last = err
		}
		if ctx.Done() == nil || retry.Wait(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("redis: result %s not published on %s: %w", r.ID, t.o.ResultsChannel, last)
		}
	}
}
