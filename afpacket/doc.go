// Package afpacket captures frames from one Linux network interface through
// an AF_PACKET socket with a TPACKET_V3 memory-mapped receive ring (see
// packet(7)). A classic BPF filter is attached before the socket is bound so
// that no unfiltered frame is ever queued, reads block in the Go netpoller so
// that Close or a cancelled context ends them at once, and the per-packet path
// neither allocates nor makes a system call.
//
// A reader may also keep the ring's blocks instead of reading frames
// (Conn.Keep): the ring is then its buffer, counted per block from the
// block descriptors, waited on with a timer (Conn.Wait), rewritten in place
// into file records (Conn.Compact) and handed back to the kernel oldest
// first (Conn.Release).
package afpacket
