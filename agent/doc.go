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
//	session      the ring path (ring blocks kept, counted per block) or the
//	             copying path (Handle.ReadPacket, frames into a buffer) until
//	             a stop control fires
//	deliver      every Sink at once (the spool when all fail), then the Result
//
// A session has two paths. On the ring path (session_ring.go, ringbuf.go)
// the capture keeps the blocks of its receive ring as its buffer: it looks
// at them on a timer, counts packets and bytes from each block's
// descriptor, walks frame headers only where a limit may be reached, and
// rewrites the blocks in place into records when the capture ends; when
// the ring runs short, the oldest blocks' records move into the room
// compacting left in newer blocks, or into chunk memory. The ring is sized
// from the request's limits (ringsize.go) and freed once the file is
// delivered. The copying path reads every frame and copies it into a
// buffer: it serves a filter the kernel refused (run in user space), merged
// captures, per-packet logging and frames shown as they come. Both write
// the same file of the same frames (TestRingPathMatchesCopyingVeth,
// TestRingBufferMatchesCopying).
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
// pcapng writers and record formats, the File assembled from runs of
// records, and the merge of a merged capture's interfaces. A buffer never
// grows by copying, and the copying loop writes a frame without allocating
// or copying it more than once (TestLoopAllocations, BenchmarkCaptureLoop).
// The finished file is read by sinks through an io.ReadSeeker that is also
// an io.ReaderAt and an io.WriterTo.
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
