package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/sink/spool"
)

func TestRestartOnly(t *testing.T) {
	base := func() *config.Config {
		c := &config.Config{}
		c.Redis.Host, c.Redis.Port = "127.0.0.1", 6379
		c.HTTP.Listen = "127.0.0.1:8657"
		c.General.MaxMessage = 65536
		c.General.MaxConcurrent = 16
		return c
	}
	for _, tt := range []struct {
		name string
		edit func(*config.Config)
		want []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"limits and aliases reload", func(c *config.Config) {
			c.General.MaxConcurrent = 4
			c.Interfaces = []config.Interface{{Name: "eth0", Alias: []string{"x"}}}
		}, nil},
		{"redis address", func(c *config.Config) { c.Redis.Port = 6380 }, []string{"[redis]"}},
		{"redis seeds", func(c *config.Config) { c.Redis.Addrs = []string{"a:1"} }, []string{"[redis]"}},
		{"token and key", func(c *config.Config) { c.HTTP.Token, c.Security.HMACKey = "t", "k" }, []string{"[http]", "[security]"}},
		{"message size", func(c *config.Config) { c.General.MaxMessage = 1024 }, []string{"general.maxmessage"}},
		{"sqs and syslog", func(c *config.Config) { c.SQS.URL, c.Syslog.Priority = "u", 14 }, []string{"[sqs]", "[syslog]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(c)
			if got := restartOnly(base(), c); !slices.Equal(got, tt.want) {
				t.Errorf("restartOnly = %v, want %v", got, tt.want)
			}
		})
	}
}

// countingSink counts deliveries; it fails while down is set.
type countingSink struct {
	n    atomic.Int32
	down atomic.Bool
}

func (s *countingSink) Name() string { return "s3" }
func (s *countingSink) Deliver(context.Context, *agent.Capture) (string, error) {
	if s.down.Load() {
		return "", errors.New("unreachable")
	}
	s.n.Add(1)
	return "s3://b/k", nil
}

// memData is a capture file held in memory.
type memData []byte

func (d memData) Len() int64               { return int64(len(d)) }
func (d memData) NewReader() io.ReadSeeker { return bytes.NewReader(d) }

// pcapBytes is an empty pcap file (the header alone).
func pcapBytes() memData {
	return memData{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
}

// TestSpoolSwitch replaces the spool (as a reload does) while its retry
// loop runs: what was spooled before is delivered by the new spool's
// sinks, once.
func TestSpoolSwitch(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	s := newSpoolSwitch(log)
	if _, err := s.Deliver(context.Background(), &agent.Capture{}); !errors.Is(err, spool.ErrNoSpool) {
		t.Fatalf("Deliver without a spool directory: %v, want ErrNoSpool", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	dir := t.TempDir()
	old := &countingSink{}
	old.down.Store(true)
	sp, err := s.prepare(dir, []agent.Sink{old})
	if err != nil {
		t.Fatal(err)
	}
	s.set(sp)
	c := &agent.Capture{ID: "spooled", FileName: "h-eth0-1-spooled.pcap", Data: pcapBytes()}
	if _, err := s.Deliver(context.Background(), c); err != nil {
		t.Fatalf("spool: %v", err)
	}

	// The reload brings a working sink of the same name.
	fresh := &countingSink{}
	sp2, err := s.prepare(dir, []agent.Sink{fresh})
	if err != nil {
		t.Fatal(err)
	}
	s.set(sp2)
	// A spool that replaces another retries everything at once.
	deadline := time.Now().Add(2 * time.Second)
	for fresh.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := fresh.n.Load(); n != 1 {
		t.Errorf("the new spool delivered %d times, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil at shutdown", err)
	}
	if n := old.n.Load(); n != 0 {
		t.Errorf("the replaced sink delivered %d times", n)
	}
}
