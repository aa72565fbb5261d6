package agent

import (
	"context"
)

// queued is a result waiting for the publishers; after, when set, runs
// once every publisher had it (or once it is dropped).
type queued struct {
	res   Result
	after func()
}

// enqueue queues res for the publishers. When the queue is full (the
// publishers are down or slow) the result is dropped and counted: result
// events must never hold up captures or requests.
func (a *Agent) enqueue(res Result) { a.enqueueThen(res, nil) }

// enqueueThen queues res and runs after once the publishers had it (at
// once when there is no publisher or the result is dropped).
func (a *Agent) enqueueThen(res Result, after func()) {
	if !a.tryEnqueue(queued{res, after}) && after != nil {
		after()
	}
}

func (a *Agent) tryEnqueue(q queued) bool {
	if len(a.pubs) == 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.qclosed {
		return false
	}
	select {
	case a.results <- q:
		return true
	default:
		a.dropped++
		a.log.Warn("result queue full: dropping a result event", "id", q.res.ID,
			"interface", q.res.Interface, "dropped", a.dropped)
		return false
	}
}

// closeResults closes the result queue; the publisher drains it and exits.
func (a *Agent) closeResults() {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.qclosed = true
		close(a.results)
		a.mu.Unlock()
	})
}

// publishLoop hands every queued result to every publisher.
func (a *Agent) publishLoop() {
	defer close(a.publisherDone)
	for q := range a.results {
		for _, p := range a.pubs {
			a.publishOne(p, q.res)
		}
		if q.after != nil {
			q.after()
		}
	}
}

func (a *Agent) publishOne(p ResultPublisher, res Result) {
	defer func() {
		if v := recover(); v != nil {
			a.log.Error("result publisher panicked", "panic", v)
		}
	}()
	a.mu.Lock()
	timeout := a.cfg.PublishTimeout
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(a.hardCtx, timeout)
	defer cancel()
	if err := p.PublishResult(ctx, res); err != nil {
		a.log.Warn("publishing a result failed", "id", res.ID, "interface", res.Interface, "error", err)
	}
}
