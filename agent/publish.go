package agent

import (
	"context"
)

// enqueue queues res for the publishers. When the queue is full (the
// publishers are down or slow) the result is dropped and counted: result
// events must never hold up captures or requests.
func (a *Agent) enqueue(res Result) {
	if len(a.pubs) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.qclosed {
		return
	}
	select {
	case a.results <- res:
	default:
		a.dropped++
		a.log.Warn("result queue full: dropping a result event", "id", res.ID,
			"interface", res.Interface, "dropped", a.dropped)
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
	for res := range a.results {
		for _, p := range a.pubs {
			a.publishOne(p, res)
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
