package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"
)

// Client is a plain connection for the "pcapdaemon request" command and for
// tests: publish a message, listen on a channel.
type Client struct {
	o Options
	c rueidis.Client
}

// Dial connects to the server(s) in o. Only Addrs, Mode, MasterSet,
// credentials, TLS and DialTimeout are used.
func Dial(o Options) (*Client, error) {
	if o.Channel == "" {
		o.Channel = "unused" // withDefaults wants one; a Client names its own
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(o.clientOption())
	if err != nil {
		return nil, o.classify(err)
	}
	return &Client{o: o, c: c}, nil
}

// Publish publishes msg on channel and returns how many subscribers got it.
func (c *Client) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	n, err := c.c.Do(ctx, c.c.B().Publish().Channel(channel).Message(string(msg)).Build()).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("redis: publish on %s: %w", channel, c.o.classify(err))
	}
	return n, nil
}

// Subscribe listens on channel and calls fn for every message until fn
// returns false (then it returns nil) or ctx ends (then ctx.Err()). ready,
// if not nil, is called once the server has confirmed the subscription, so
// that a request published after it cannot be missed.
func (c *Client) Subscribe(ctx context.Context, channel string, ready func(), fn func(msg []byte) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once bool
	hctx := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" && !once && ready != nil {
			once = true
			ready()
		}
	})
	stopped := false
	err := c.c.Receive(hctx, c.c.B().Subscribe().Channel(channel).Build(), func(m rueidis.PubSubMessage) {
		if !stopped && !fn([]byte(m.Message)) {
			stopped = true
			cancel()
		}
	})
	if stopped {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err == nil {
		return fmt.Errorf("redis: subscription to %s ended", channel)
	}
	return fmt.Errorf("redis: subscribe to %s: %w", channel, c.o.classify(err))
}

// Close closes the connection.
func (c *Client) Close() { c.c.Close() }
