// Package capfile holds a capture's file in memory while it is captured:
// the pcap and pcapng formats, written frame by frame into chunks of
// memory, and the merge of several interfaces' pcapng blocks into one file
// in timestamp order.
//
// A capture takes a Buffer from a ChunkPool (NewBuffer), writes its frames
// through a PcapWriter or PcapngWriter, and hands the finished Buffer's
// Data to whoever delivers the file; Release gives the chunks back to the
// pool for the next capture. A merged capture writes each interface's bare
// Enhanced Packet Blocks into a buffer of its own (NewEPBWriter) and
// MergeEPBs copies them into the file, reusing the chunks it has read.
//
// The per-frame path neither allocates nor copies a frame more than once:
// a record's header is written straight into the chunk in front of the
// frame. What the formats look like (record headers; the pcapng section
// header, interface description, enhanced packet and statistics blocks)
// lives in small functions that fill or append to any []byte
// (format_pcap.go, format_pcapng.go), apart from the chunk memory, so that
// another holder of frames can produce the same records.
//
// The package knows nothing of capture requests, sockets or delivery: the
// agent decides what is captured and for how long, and this package only
// stores it.
package capfile
