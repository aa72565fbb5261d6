package daemon

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
		{"log level reloads", func(c *config.Config) { c.Log.Level = "debug" }, nil},
		{"log format and metrics", func(c *config.Config) { c.Log.Format, c.Metrics.Listen = "json", ":8658" }, []string{"[metrics]", "log.format"}},
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
// sinks, once, by the round over every capture that a replacement starts
// with (the retry interval is an hour: no due round can do it), and the
// delivery is reported. Run may see the replacement before it saw the
// first spool: the replacement must still start with that round.
func TestSpoolSwitch(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	s := newSpoolSwitch(log, nil)
	s.interval = time.Hour
	if _, err := s.Deliver(context.Background(), &agent.Capture{}); !errors.Is(err, spool.ErrNoSpool) {
		t.Fatalf("Deliver without a spool directory: %v, want ErrNoSpool", err)
	}
	reports := make(chan agent.Redelivery, 4)
	s.reportTo(func(d agent.Redelivery) { reports <- d })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	dir := t.TempDir()
	old := &countingSink{}
	old.down.Store(true)
	sp, err := s.prepare(config.General{SpoolDir: dir}, []agent.Sink{old})
	if err != nil {
		t.Fatal(err)
	}
	s.set(sp)
	c := &agent.Capture{ID: "spooled", FileName: "h-eth0-1-spooled.pcap", Data: pcapBytes()}
	loc, err := s.Deliver(context.Background(), c)
	if err != nil {
		t.Fatalf("spool: %v", err)
	}

	// The reload brings a working sink of the same name.
	fresh := &countingSink{}
	sp2, err := s.prepare(config.General{SpoolDir: dir}, []agent.Sink{fresh})
	if err != nil {
		t.Fatal(err)
	}
	s.set(sp2)
	select {
	case d := <-reports:
		if d.ID != "spooled" || d.Spooled != loc || !slices.Equal(d.Locations, []string{"s3://b/k"}) || len(d.Pending) != 0 {
			t.Errorf("reported %+v, want spooled (at %s) delivered to s3://b/k", d, loc)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the replacement spool did not deliver the spooled capture")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil at shutdown", err)
	}
	if n := fresh.n.Load(); n != 1 {
		t.Errorf("the new spool delivered %d times, want 1", n)
	}
	if n := old.n.Load(); n != 0 {
		t.Errorf("the replaced sink delivered %d times", n)
	}
}
