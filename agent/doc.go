// Package agent turns capture requests into capture files: it decodes and
// validates a request against the configured limits, matches it to this node
// and expands interface aliases, admits it under the concurrency and memory
// budget, runs one capture session per interface (stopping at the first of the
// packet, byte, duration and inactivity limits), hands the in-memory pcap or
// pcapng buffer to the sinks and reports one Result per interface capture.
//
// The flow of one request through Agent.Submit:
//
//	Decode       bounded JSON, exact field names, typed errors (*ValidationError)
//	MatchNode    node "any" / exact host name / nodere; others: ErrNotForNode, no result
//	dedup        an id held by another request: ErrDuplicate, no second capture,
//	             the holder's state kept (a different request gets a rejected Result)
//	plan         limits and defaults from Config, aliases, interfaces, filter per link type
//	admit        MaxConcurrent and MaxMemory (worst case reserved); else rejected, never queued
//	session      Handle.ReadPacket until a stop control fires, frames into a buffer
//	deliver      every Sink at once (the spool when all fail), then the Result
//
// What the HTTP API shows of requests comes from here too: Lookup and List
// (newest first, a page at a time), with the live counters a running
// session publishes (live.go: every 64 frames and whenever its loop wakes
// without one, never per frame), and LocalFile, the delivered file a
// Result names. A Journal keeps the running requests across a crash, an
// Index the finished ones across restarts (FileJournal, FileIndex).
//
// The capture file itself is package capfile's: a list of fixed-size chunks
// taken from a recycle list (capfile.ChunkPool) the Agent owns, the pcap and
// pcapng writers, and the merge of a merged capture's interfaces. A buffer
// never grows by copying, and the session's loop writes a frame without
// allocating or copying it more than once (TestLoopAllocations,
// BenchmarkCaptureLoop). The finished buffer is read by sinks through an
// io.ReadSeeker that is also an io.ReaderAt and an io.WriterTo.
//
// A cancel message, {"cancel": "<id>"}, on any source ends request id's
// captures (stop reason cancelled; what they hold is delivered); one that
// comes before its request is kept for a while (cancel.go). Node describes
// the agent for its presence record, and Expect matches a request against
// such descriptions with the agent's own rules, for a requester that wants
// to know whose results to wait for.
//
// CaptureOnce runs one capture through the same session and buffer without
// a request, admission, sinks or results: the "pcapdaemon capture" command.
//
// Everything that touches the host is injected (Opener, InterfaceLookup,
// Compiler, Clock, Sinks, ResultPublishers), so tests drive the stop
// controls with a fake handle and a fake clock.
package agent
