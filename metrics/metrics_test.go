package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// value returns the value of the metric name with exactly labels (name=value
// pairs), and whether it exists.
func value(t *testing.T, r *metrics.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return metricValue(mf.GetType(), m), true
		}
	}
	return 0, false
}

func metricValue(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

func mustValue(t *testing.T, r *metrics.Registry, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(t, r, name, labels...)
	if !ok {
		t.Fatalf("metric %s%v not found", name, labels)
	}
	return v
}

func TestOutcome(t *testing.T) {
	for _, tt := range []struct {
		name          string
		err           error
		outcome, want string
	}{
		{"accepted", nil, metrics.OutcomeAccepted, ""},
		{"not for node", agent.ErrNotForNode, metrics.OutcomeNotForNode, ""},
		{"duplicate", fmt.Errorf("x: %w", agent.ErrDuplicate), metrics.OutcomeDuplicate, ""},
		{"guard", &transport.RejectError{Reason: transport.ReasonBadSignature}, metrics.OutcomeRejected, "bad_signature"},
		{"too large", fmt.Errorf("redis: %w", &transport.RejectError{Reason: transport.ReasonTooLarge}), metrics.OutcomeRejected, "too_large"},
		{"invalid", &agent.ValidationError{Field: "packets", Reason: "negative"}, metrics.OutcomeRejected, metrics.ReasonInvalid},
		{"budget", fmt.Errorf("%w: 4 running", agent.ErrNotAdmitted), metrics.OutcomeRejected, metrics.ReasonNotAdmitted},
		{"shutdown", agent.ErrShuttingDown, metrics.OutcomeRejected, metrics.ReasonShuttingDown},
		{"other", errors.New("boom"), metrics.OutcomeError, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, r := metrics.Outcome(tt.err)
			if o != tt.outcome || r != tt.want {
				t.Errorf("Outcome(%v) = %q, %q; want %q, %q", tt.err, o, r, tt.outcome, tt.want)
			}
		})
	}
}

func TestCountRequests(t *testing.T) {
	r := metrics.New("test", nil)
	errs := map[string]error{
		"ok":      nil,
		"bad":     &agent.ValidationError{Field: "packets", Reason: "must not be negative"},
		"unknown": &agent.ValidationError{Field: "x-made-up-by-an-attacker", Reason: "unknown field"},
		"notjson": &agent.ValidationError{Reason: "not JSON"},
		"other":   agent.ErrNotForNode,
	}
	sub := r.CountRequests(transport.SubmitterFunc(func(_ context.Context, msg []byte, _ string) (string, error) {
		return "id", errs[string(msg)]
	}))
	for _, m := range []string{"ok", "ok", "bad", "unknown", "notjson", "other"} {
		_, err := sub.Submit(context.Background(), []byte(m), "redis")
		if !errors.Is(err, errs[m]) {
			t.Errorf("Submit(%s) error %v, want %v passed through", m, err, errs[m])
		}
	}
	_, _ = sub.Submit(context.Background(), []byte("ok"), "http")
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pcapdaemon_requests_total", []string{"source", "redis", "outcome", "accepted", "reason", ""}, 2},
		{"pcapdaemon_requests_total", []string{"source", "http", "outcome", "accepted", "reason", ""}, 1},
		{"pcapdaemon_requests_total", []string{"source", "redis", "outcome", "rejected", "reason", "invalid"}, 3},
		{"pcapdaemon_requests_total", []string{"source", "redis", "outcome", "not_for_node", "reason", ""}, 1},
		{"pcapdaemon_requests_invalid_total", []string{"source", "redis", "field", "packets"}, 1},
		{"pcapdaemon_requests_invalid_total", []string{"source", "redis", "field", "other"}, 1},
		{"pcapdaemon_requests_invalid_total", []string{"source", "redis", "field", "message"}, 1},
	} {
		if got := mustValue(t, r, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if _, ok := value(t, r, "pcapdaemon_requests_invalid_total", "source", "redis", "field", "x-made-up-by-an-attacker"); ok {
		t.Error("an unknown field's name became a label value")
	}
}

type fakeAgent struct{ m agent.Metrics }

func (f *fakeAgent) Metrics() agent.Metrics { return f.m }

func TestWatchAgentReadsAtScrape(t *testing.T) {
	r := metrics.New("test", nil)
	a := &fakeAgent{}
	if err := r.WatchAgent(a); err != nil {
		t.Fatal(err)
	}
	if got := mustValue(t, r, "pcapdaemon_captures_finished_total", "status", "ok"); got != 0 {
		t.Errorf("captures_finished_total{ok} = %v before any capture", got)
	}
	a.m = agent.Metrics{
		Captures: map[agent.Status]uint64{agent.StatusOK: 3, agent.StatusError: 1},
		Packets:  1000, Bytes: 65536, KernelDrops: 7, ResultsDropped: 2,
		Active: 2, MemoryReserved: 18 << 20, MemoryBudget: 1 << 30,
		FilterCacheHits: 11, FilterCacheMisses: 4,
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pcapdaemon_captures_finished_total", []string{"status", "ok"}, 3},
		{"pcapdaemon_captures_finished_total", []string{"status", "error"}, 1},
		{"pcapdaemon_captures_finished_total", []string{"status", "empty"}, 0},
		{"pcapdaemon_captured_packets_total", nil, 1000},
		{"pcapdaemon_captured_bytes_total", nil, 65536},
		{"pcapdaemon_kernel_drops_total", nil, 7},
		{"pcapdaemon_results_dropped_total", nil, 2},
		{"pcapdaemon_captures_active", nil, 2},
		{"pcapdaemon_memory_reserved_bytes", nil, 18 << 20},
		{"pcapdaemon_memory_budget_bytes", nil, 1 << 30},
		{"pcapdaemon_filter_cache_total", []string{"result", "hit"}, 11},
		{"pcapdaemon_filter_cache_total", []string{"result", "miss"}, 4},
	} {
		if got := mustValue(t, r, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestSourcesAndGuard(t *testing.T) {
	r := metrics.New("test", nil)
	state := "connecting"
	r.WatchSource("redis", func() metrics.SourceState { return metrics.SourceState{Up: state == "subscribed", State: state} })
	r.WatchDropped("redis", func() uint64 { return 5 })
	r.WatchRefused("sqs", func() uint64 { return 3 })
	r.WatchGuard(func() map[string]uint64 { return map[string]uint64{"too_large": 4, "stale": 1} })
	if got := mustValue(t, r, "pcapdaemon_source_up", "source", "redis"); got != 0 {
		t.Errorf("source_up while connecting = %v", got)
	}
	state = "subscribed"
	if got := mustValue(t, r, "pcapdaemon_source_up", "source", "redis"); got != 1 {
		t.Errorf("source_up once subscribed = %v", got)
	}
	if _, ok := value(t, r, "pcapdaemon_source_state", "source", "redis", "state", "subscribed"); !ok {
		t.Error("source_state{state=subscribed} missing")
	}
	if got := mustValue(t, r, "pcapdaemon_requests_dropped_total", "source", "redis"); got != 5 {
		t.Errorf("requests_dropped_total = %v", got)
	}
	if got := mustValue(t, r, "pcapdaemon_requests_refused_deleted_total", "source", "sqs"); got != 3 {
		t.Errorf("requests_refused_deleted_total = %v", got)
	}
	if got := mustValue(t, r, "pcapdaemon_guard_rejected_total", "reason", "too_large"); got != 4 {
		t.Errorf("guard_rejected_total{too_large} = %v", got)
	}
}

type stubSink struct {
	name string
	err  error
}

func (s stubSink) Name() string { return s.name }
func (s stubSink) Deliver(context.Context, *agent.Capture) (string, error) {
	return "/x", s.err
}

type data []byte

func (d data) Len() int64               { return int64(len(d)) }
func (d data) NewReader() io.ReadSeeker { return strings.NewReader(string(d)) }

func TestInstrumentSink(t *testing.T) {
	r := metrics.New("test", nil)
	ok := r.InstrumentSink(stubSink{name: "s3"})
	bad := r.InstrumentSink(stubSink{name: "cloudshark", err: errors.New("503")})
	if ok.Name() != "s3" || bad.Name() != "cloudshark" {
		t.Fatalf("names changed: %q %q", ok.Name(), bad.Name())
	}
	c := &agent.Capture{Data: data("0123456789")}
	for range 3 {
		if _, err := ok.Deliver(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bad.Deliver(context.Background(), c); err == nil {
		t.Fatal("error not passed through")
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pcapdaemon_upload_duration_seconds", []string{"sink", "s3", "outcome", "ok"}, 3},
		{"pcapdaemon_upload_duration_seconds", []string{"sink", "cloudshark", "outcome", "error"}, 1},
		{"pcapdaemon_upload_failures_total", []string{"sink", "cloudshark"}, 1},
		{"pcapdaemon_upload_failures_total", []string{"sink", "s3"}, 0},
		{"pcapdaemon_upload_bytes_total", []string{"sink", "s3"}, 30},
		{"pcapdaemon_uploads_in_flight", []string{"sink", "s3"}, 0},
	} {
		if got := mustValue(t, r, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

func TestHandlerServesOwnRegistry(t *testing.T) {
	r := metrics.New("v1.2.3", nil)
	r.SetCaptureCapable(false)
	r.Reloaded(errors.New("bad toml"))
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{
		`pcapdaemon_build_info{version="v1.2.3"} 1`,
		"pcapdaemon_capture_capable 0",
		`pcapdaemon_config_reloads_total{result="error"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Two registries never share a series: nothing goes to the global one.
	r2 := metrics.New("other", nil)
	if got := mustValue(t, r2, "pcapdaemon_config_reloads_total", "result", "error"); got != 0 {
		t.Errorf("a second registry sees the first one's reload error: %v", got)
	}
}

func TestHealth(t *testing.T) {
	h := &metrics.Health{}
	redisUp := false
	h.AddCheck("capture", func() error { return nil })
	h.AddCheck("redis", func() error {
		if !redisUp {
			return errors.New("down")
		}
		return nil
	})
	get := func(hd http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(h.Healthz()); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	code, body := get(h.Readyz())
	if code != 503 || !strings.Contains(body, "[-]redis: down") || !strings.Contains(body, "[+]capture ok") {
		t.Errorf("/readyz with redis down = %d %q", code, body)
	}
	redisUp = true
	if code, body := get(h.Readyz()); code != 200 {
		t.Errorf("/readyz with all up = %d %q", code, body)
	}
}

func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	p := metrics.NewProbe(nil)
	c := &http.Client{Transport: p}
	if s, err := p.State(); s != metrics.ProbeConnecting || err == nil {
		t.Errorf("before any request: %q %v", s, err)
	}
	do := func() {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
	}
	do()
	if s, err := p.State(); s != metrics.ProbeUp || err != nil {
		t.Errorf("after a 200: %q %v", s, err)
	}
	status = http.StatusForbidden
	do()
	if s, err := p.State(); s != metrics.ProbeFailing || err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("after a 403: %q %v", s, err)
	}
	srv.Close()
	do()
	if s, err := p.State(); s != metrics.ProbeDown || err == nil {
		t.Errorf("after the server went away: %q %v", s, err)
	}
}

func BenchmarkCountRequests(b *testing.B) {
	r := metrics.New("bench", nil)
	sub := r.CountRequests(transport.SubmitterFunc(func(context.Context, []byte, string) (string, error) {
		return "", agent.ErrNotForNode
	}))
	msg := []byte(`{}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = sub.Submit(context.Background(), msg, "redis")
	}
}

type checkingSink struct {
	stubSink
	err error
}

func (s checkingSink) Check(agent.Request) error { return s.err }

// TestInstrumentSinkKeepsCheck: measuring a sink must not hide its
// admission check from the agent.
func TestInstrumentSinkKeepsCheck(t *testing.T) {
	r := metrics.New("test", nil)
	refuse := errors.New("bucket not allowed")
	s := r.InstrumentSink(checkingSink{stubSink{name: "s3"}, refuse})
	c, ok := s.(agent.RequestChecker)
	if !ok {
		t.Fatal("the measured sink is not an agent.RequestChecker")
	}
	if err := c.Check(agent.Request{Bucket: "x"}); !errors.Is(err, refuse) {
		t.Errorf("Check = %v, want the sink's refusal", err)
	}
	plain := r.InstrumentSink(stubSink{name: "local"}).(agent.RequestChecker)
	if err := plain.Check(agent.Request{}); err != nil {
		t.Errorf("Check of a sink without one = %v, want nil", err)
	}
}

// TestLocalMetrics: the local directory's files and bytes are read at
// scrape time; removals are counted by reason, every reason present from
// the start.
func TestLocalMetrics(t *testing.T) {
	r := metrics.New("test", nil)
	st := metrics.LocalState{Files: 3, Bytes: 3000}
	r.WatchLocal(func() (metrics.LocalState, error) { return st, nil })
	for _, reason := range []string{"age", "files", "bytes"} {
		if v := mustValue(t, r, "pcapdaemon_local_removed_total", "reason", reason); v != 0 {
			t.Errorf("local_removed_total{reason=%s} = %v at start", reason, v)
		}
	}
	r.LocalRemoved("files", 1000)
	r.LocalRemoved("files", 500)
	r.LocalRemoved("age", 10)
	st = metrics.LocalState{Files: 1, Bytes: 1500}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pcapdaemon_local_removed_total", []string{"reason", "files"}, 2},
		{"pcapdaemon_local_removed_total", []string{"reason", "age"}, 1},
		{"pcapdaemon_local_removed_total", []string{"reason", "bytes"}, 0},
		{"pcapdaemon_local_removed_bytes_total", nil, 1510},
		{"pcapdaemon_local_files", nil, 1},
		{"pcapdaemon_local_bytes", nil, 1500},
	} {
		if v := mustValue(t, r, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
}
