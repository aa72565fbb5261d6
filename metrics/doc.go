// Package metrics exposes the daemon's state to Prometheus and to health
// checkers: /metrics, /healthz and /readyz, on the HTTP API's listener or on
// a listener of their own ([metrics] listen).
//
// Everything lives in the Registry's own prometheus.Registry, never in the
// client library's global default one, so that two daemons in one test
// process, or a test and the daemon, never share a counter.
//
// Counters that another package already keeps (the agent's capture totals,
// the transport Guard's rejections, the Redis transport's drops) are read at
// scrape time by collectors, not mirrored into Prometheus counters as events
// happen: a value is counted once, by its owner. What nobody else counts is
// counted here, by wrappers placed in the data path by the daemon's wiring:
// requests by source and outcome (CountRequests, in front of the Guard) and
// uploads by sink (InstrumentSink).
//
// The metrics, all prefixed pcapdaemon_:
//
//	requests_total{source,outcome,reason}    every message a source handed over
//	requests_invalid_total{source,field}     invalid requests by the field at fault
//	requests_dropped_total{source}           messages dropped before submission (too large, queue full)
//	requests_refused_deleted_total{source}   messages the Guard refused, deleted from the queue (SQS)
//	guard_rejected_total{reason}             size and signature rejections
//	captures_active                          interface captures running
//	captures_finished_total{status}          finished interface captures
//	captured_packets_total, captured_bytes_total, kernel_drops_total
//	results_dropped_total                    result events lost to a full queue
//	memory_reserved_bytes, memory_budget_bytes
//	upload_duration_seconds{sink,outcome}    one Deliver call (histogram)
//	upload_failures_total{sink}, upload_bytes_total{sink}, uploads_in_flight{sink}
//	source_up{source}, source_state{source,state}
//	capture_capable                          1 when packet sockets can be opened
//	config_reloads_total{result}, config_last_reload_success_timestamp_seconds
//	build_info{version}
//
// plus the Go runtime's and the process's standard collectors (go_*,
// process_*, including process_resident_memory_bytes).
//
// The three endpoints are not behind the API's bearer token, as is usual for
// node_exporter and kubelet probes: a liveness or readiness probe and a
// Prometheus scraper should not need the secret that can start captures, and
// nothing served here names a request, a filter or a secret. The API's
// listener is on loopback unless the operator moved it; a listener of their
// own may bind the node's address, for Prometheus, and then a firewall
// should keep /metrics to the scrapers.
package metrics
