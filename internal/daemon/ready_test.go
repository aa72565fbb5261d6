package daemon

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
)

// TestReadyDelivery checks /readyz's "delivery" check: not ready when
// every sink's most recent delivery failed and the spool cannot keep a
// capture of maxbytes (none configured, or too little room left under
// spoolmaxbytes); ready again once a sink delivers. The sinks are real
// local sinks whose directory is taken away to make them fail.
func TestReadyDelivery(t *testing.T) {
	const kib = 1 << 10
	tests := []struct {
		name      string
		fail      []bool // per sink: its last delivery failed
		spool     bool
		spoolMax  int64
		spooled   int64 // bytes already in the spool
		maxBytes  int64 // [general] maxbytes
		wantReady bool
		wantWhy   []string
	}{
		{name: "no delivery yet", fail: []bool{false, false}, wantReady: true},
		{name: "one of two fails", fail: []bool{true, false}, wantReady: true},
		{name: "all fail, no spool", fail: []bool{true, true},
			wantWhy: []string{"local0: last delivery failed", "local1: last delivery failed", "no spool directory"}},
		{name: "all fail, spool with room", fail: []bool{true}, spool: true, spoolMax: 1 << 20, spooled: 100 * kib, maxBytes: 500 * kib, wantReady: true},
		{name: "all fail, spool full", fail: []bool{true}, spool: true, spoolMax: 1 << 20, spooled: 600 * kib, maxBytes: 500 * kib,
			wantWhy: []string{"local0: last delivery failed", "spool full", "less than maxbytes 512000 left"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := metrics.New("test", nil)
			log := slog.New(slog.DiscardHandler)
			var sinks []agent.Sink
			for i, fail := range tt.fail {
				dir := t.TempDir()
				l, err := local.New(dir, log)
				if err != nil {
					t.Fatal(err)
				}
				s := &renamedSink{Sink: l, name: "local" + string(rune('0'+i))}
				sinks = append(sinks, reg.InstrumentSink(s))
				if fail {
					os.RemoveAll(dir)
				}
			}
			g := config.General{SpoolMaxBytes: tt.spoolMax, MaxBytes: tt.maxBytes}
			if tt.spool {
				g.SpoolDir = t.TempDir()
			}
			sw := newSpoolSwitch(log, reg.SpoolDropped)
			sc, err := sw.prepare(g, sinks)
			if err != nil {
				t.Fatal(err)
			}
			sw.set(sc)
			if tt.spooled > 0 {
				if _, err := sw.Deliver(context.Background(), sinktest.Capture("old", sinktest.Pcap(int(tt.spooled), 1))); err != nil {
					t.Fatal(err)
				}
			}
			c := sinktest.Capture("now", sinktest.Pcap(2*kib, 2))
			for _, s := range sinks {
				s.Deliver(context.Background(), c)
			}
			health := &metrics.Health{}
			health.AddCheck("delivery", func() error { return sw.canTakeCapture(reg.SinkFailing) })
			ok, report := health.Ready()
			if ok != tt.wantReady {
				t.Fatalf("ready = %v, want %v:\n%s", ok, tt.wantReady, report)
			}
			for _, w := range tt.wantWhy {
				if !strings.Contains(report, w) {
					t.Errorf("report does not say %q:\n%s", w, report)
				}
			}
			if ok {
				return
			}
			// The first sink comes back; its next delivery makes the
			// daemon ready.
			if err := os.MkdirAll(mustLocalDir(t, sinks[0]), 0o700); err != nil {
				t.Fatal(err)
			}
			if _, err := sinks[0].Deliver(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if ok, report := health.Ready(); !ok {
				t.Errorf("not ready after a delivery succeeded:\n%s", report)
			}
		})
	}
}

// renamedSink gives a sink another name, so that two local sinks can be
// told apart.
type renamedSink struct {
	agent.Sink
	name string
}

func (s *renamedSink) Name() string { return s.name }

// mustLocalDir finds the directory of the local sink under s.
func mustLocalDir(t *testing.T, s agent.Sink) string {
	t.Helper()
	for {
		switch v := s.(type) {
		case *local.Sink:
			return v.Dir()
		case *renamedSink:
			s = v.Sink
		case interface{ Unwrap() agent.Sink }:
			s = v.Unwrap()
		default:
			t.Fatalf("no local sink under %T", s)
		}
	}
}

// TestSpoolCapMetrics fills a capped spool through the daemon's wiring:
// the capture that does not fit displaces the oldest, and /metrics counts
// the drop and shows what the spool holds.
func TestSpoolCapMetrics(t *testing.T) {
	reg := metrics.New("test", nil)
	log := slog.New(slog.DiscardHandler)
	sw := newSpoolSwitch(log, reg.SpoolDropped)
	reg.WatchSpool(sw.state)
	down := &countingSink{}
	down.down.Store(true)
	sc, err := sw.prepare(config.General{SpoolDir: t.TempDir(), SpoolMaxBytes: 100 << 10}, []agent.Sink{down})
	if err != nil {
		t.Fatal(err)
	}
	sw.set(sc)
	var sizes []int64
	for i, id := range []string{"first", "second", "third"} {
		c := sinktest.Capture(id, sinktest.Pcap(40<<10, uint64(i)))
		if _, err := sw.Deliver(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, c.Data.Len())
	}
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	m := testenv.Scrape(t, srv.URL)
	for _, tt := range []struct {
		name string
		want float64
	}{
		{"pcapdaemon_spool_dropped_total", 1},
		{"pcapdaemon_spool_dropped_bytes_total", float64(sizes[0])},
		{"pcapdaemon_spool_captures", 2},
		{"pcapdaemon_spool_bytes", float64(sizes[1] + sizes[2])},
		{"pcapdaemon_spool_max_bytes", 100 << 10},
	} {
		if got := m[tt.name]; got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
}
