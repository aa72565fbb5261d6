package metrics

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "pcapdaemon"

// uploadBuckets are the upload latency histogram's bounds, in seconds: a
// local write takes milliseconds, an S3 or Cloudshark upload of a large
// capture minutes.
var uploadBuckets = []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Registry holds the daemon's metrics. It is safe for concurrent use.
type Registry struct {
	reg *prometheus.Registry
	log *slog.Logger

	requests *prometheus.CounterVec // source, outcome, reason
	invalid  *prometheus.CounterVec // source, field
	uploads  *prometheus.HistogramVec
	failures *prometheus.CounterVec // sink
	upBytes  *prometheus.CounterVec // sink
	inflight *prometheus.GaugeVec   // sink
	capable  prometheus.Gauge
	reloads  *prometheus.CounterVec // result
	reloaded prometheus.Gauge

	fields map[string]bool // the request's JSON field names

	srcOnce sync.Once
	src     *sourceCollector

	spoolOnce sync.Once
	spool     *spoolCollector
	localOnce sync.Once
	local     *localCollector
	sinkLast  sinkOutcomes
}

// New returns a Registry with the Go runtime's and the process's collectors
// and build_info for version. log receives errors of the /metrics handler
// (nil: discarded).
func New(version string, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		reg: prometheus.NewRegistry(),
		log: log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Request messages handed over by a source, by outcome (accepted, not_for_node, duplicate, rejected, error) and rejection reason.",
		}, []string{"source", "outcome", "reason"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_invalid_total",
			Help: "Invalid requests by the JSON field at fault (\"message\" for the message as a whole, \"other\" for a field that is not part of a request).",
		}, []string{"source", "field"}),
		uploads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "upload_duration_seconds",
			Help:    "Time taken by one delivery of a capture to a sink, retries included, by outcome (ok, error).",
			Buckets: uploadBuckets,
		}, []string{"sink", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upload_failures_total",
			Help: "Deliveries of a capture that a sink failed, after its own retries.",
		}, []string{"sink"}),
		upBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upload_bytes_total",
			Help: "Bytes of capture files delivered to a sink.",
		}, []string{"sink"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "uploads_in_flight",
			Help: "Deliveries to a sink under way.",
		}, []string{"sink"}),
		capable: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "capture_capable",
			Help: "1 when the process could open a packet socket at start (CAP_NET_RAW), else 0.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "config_reloads_total",
			Help: "Configuration reloads (SIGHUP) by result (ok, error).",
		}, []string{"result"}),
		reloaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully, at start or by a reload.",
		}),
		fields: requestFields(),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo, r.requests, r.invalid, r.uploads, r.failures, r.upBytes, r.inflight,
		r.capable, r.reloads, r.reloaded,
	)
	for _, res := range []string{"ok", "error"} {
		r.reloads.WithLabelValues(res) // present at 0 from the start
	}
	r.reloaded.SetToCurrentTime()
	return r
}

// Register adds collectors to the registry. It fails when one collides with
// a metric already registered.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Gatherer returns the underlying registry, for tests and embedding.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// format. Scrapes are bounded: at most two at once, ten seconds each.
func (r *Registry) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(r.reg, promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(r.log.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	}))
}

// SetCaptureCapable records whether packet sockets could be opened.
func (r *Registry) SetCaptureCapable(ok bool) {
	if ok {
		r.capable.Set(1)
	} else {
		r.capable.Set(0)
	}
}

// Reloaded counts a configuration reload; a successful one also sets the
// last-success timestamp.
func (r *Registry) Reloaded(err error) {
	if err != nil {
		r.reloads.WithLabelValues("error").Inc()
		return
	}
	r.reloads.WithLabelValues("ok").Inc()
	r.reloaded.SetToCurrentTime()
}
