// Package afpacket captures frames from one Linux network interface through
// an AF_PACKET socket with a TPACKET_V3 memory-mapped receive ring (see
// packet(7)). A classic BPF filter is attached before the socket is bound so
// that no unfiltered frame is ever queued, reads block in the Go netpoller so
// that Close or a cancelled context ends them at once, and the per-packet path
// neither allocates nor makes a system call.
package afpacket
