// Package agent turns capture requests into capture files: it decodes and
// validates a request against the configured limits, matches it to this node
// and expands interface aliases, admits it under the concurrency and memory
// budget, runs one capture session per interface (stopping at the first of the
// packet, byte, duration and inactivity limits), hands the in-memory pcap or
// pcapng buffer to the sinks and reports one Result per interface capture.
package agent
