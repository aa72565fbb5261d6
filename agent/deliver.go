package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// deliver hands c to every sink at once and fills in res's locations,
// status and error. When every sink fails, the spool (if any) takes it:
// spooled is then the spool's location of c, which a later Redelivered
// names.
func (a *Agent) deliver(log *slog.Logger, c *Capture, sinks []Sink, res *Result) (spooled string) {
	ctx := a.hardCtx
	if len(sinks) == 0 {
		return a.deliverFallback(ctx, log, c, res, "no sink is configured")
	}
	type outcome struct {
		loc string
		err error
	}
	outs := make([]outcome, len(sinks))
	var wg sync.WaitGroup
	for i, s := range sinks {
		wg.Go(func() {
			loc, err := deliverOne(ctx, s, c)
			outs[i] = outcome{loc, err}
		})
	}
	wg.Wait()
	var failed []string
	retry := false
	for i, o := range outs {
		if o.err != nil {
			retry = retry || retryable(o.err)
			log.Error("delivery failed", "sink", sinks[i].Name(), "error", o.err)
			failed = append(failed, sinkError(sinks[i].Name(), o.err))
			continue
		}
		log.Info("capture delivered", "sink", sinks[i].Name(), "location", o.loc)
		res.Locations = append(res.Locations, o.loc)
	}
	if len(res.Locations) > 0 {
		if len(failed) > 0 {
			res.Error = "delivery failed: " + strings.Join(failed, "; ")
		}
		return ""
	}
	why := "every sink failed: " + strings.Join(failed, "; ")
	if !retry {
		// A refused override or a permanent refusal fails the same way on
		// every retry: spooling it would only resend it to where it was
		// refused (or keep traffic on disk that the request may not have).
		res.Status = StatusError
		res.Error = why + "; not kept: every failure is permanent"
		log.Error("capture not delivered", "reason", why)
		return ""
	}
	return a.deliverFallback(ctx, log, c, res, why)
}

// retryable reports whether a sink error may go away on a later attempt:
// errors that say otherwise have an Unretryable() bool method returning true.
func retryable(err error) bool {
	var u interface{ Unretryable() bool }
	return !errors.As(err, &u) || !u.Unretryable()
}

// deliverFallback hands c to the spool after the sinks failed for why and
// returns the spool's location of c ("" when the spool did not take it).
func (a *Agent) deliverFallback(ctx context.Context, log *slog.Logger, c *Capture, res *Result, why string) string {
	res.Status = StatusError
	if a.spool == nil {
		res.Error = fmt.Sprintf("%s; the capture (%d packets, %d bytes) is lost", why, c.Packets, c.Data.Len())
		log.Error("capture lost", "reason", why)
		return ""
	}
	loc, err := deliverOne(ctx, a.spool, c)
	if err != nil {
		res.Error = fmt.Sprintf("%s; spool: %v; the capture (%d packets, %d bytes) is lost", why, err, c.Packets, c.Data.Len())
		log.Error("capture lost", "reason", why, "spool_error", err)
		return ""
	}
	res.Locations = append(res.Locations, loc)
	res.Error = why + "; spooled for a retry"
	log.Warn("capture spooled", "reason", why, "location", loc)
	return loc
}

// deliverOne calls one sink, turning a panic into an error: a broken sink
// must not take the daemon down.
func deliverOne(ctx context.Context, s Sink, c *Capture) (loc string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sink %s panicked: %v", s.Name(), v)
		}
	}()
	return s.Deliver(ctx, c)
}

// sinkError is a sink's failure as the Result says it: named by the sink,
// once (most sinks already start their errors with their name).
func sinkError(name string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, name+":") || strings.HasPrefix(msg, name+" ") {
		return msg
	}
	return name + ": " + msg
}
