// Package savefile reads and writes capture files as tcpdump does: classic
// pcap (micro- and nanosecond timestamps, either byte order) and pcapng
// (several sections and interfaces, each with its own link type, snap
// length and timestamp resolution), for "pcapdaemon capture -r" and its
// streaming output (-w -).
//
// The reader takes files from anywhere: every length is checked before it
// is used, a record is never larger than MaxSnaplen, and a malformed file
// is an error naming the block or record and its offset, never a panic
// (FuzzReader). Where libpcap refuses a file (a version it does not know,
// block lengths that disagree), the reader refuses it with libpcap's words.
//
// The writer writes frames as they come, one record at a time, to any
// io.Writer: the caller decides when to flush. The daemon's in-memory
// capture files are agent/capfile's; this package is the command line's.
package savefile
