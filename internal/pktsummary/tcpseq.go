package pktsummary

// maxConns bounds the TCP connections whose first sequence numbers the
// printer keeps (tcpdump keeps every one): past it, one is forgotten for
// each new one, and that connection's numbers start over from its next
// segment, as they would at the start of a capture. 1<<16 connections are
// about 4 MiB.
const maxConns = 1 << 16

// connKey is a connection, the same for both directions: tcpdump orders
// the endpoints by port, then by address.
type connKey struct {
	src, dst [16]byte
	ports    uint32
	v6       bool
}

// connBase is a connection's first sequence number of each direction (of
// the key's source and destination), less one for the acknowledged one.
type connBase struct {
	seq, ack uint32
}

// tcpConns are the connections seen: tcpdump's relative sequence numbers.
type tcpConns struct {
	m map[connKey]connBase
}

// relative turns a segment's sequence and acknowledgement numbers into
// tcpdump's relative ones: the first segment with ACK of a connection (or
// any with SYN and ACK) sets the bases and is printed as it is; later ones
// are printed less the bases. It also returns the bases, which SACK blocks
// are printed relative to, and whether the segment goes from the key's
// destination to its source.
func (c *tcpConns) relative(h *ipHdr, sport, dport uint16, seq, ack uint32, syn bool) (rseq, rack, thseq, thack uint32, rev bool) {
	var k connKey
	k.v6 = len(h.src) == 16
	src, dst := h.src, h.dst
	rev = sport > dport || sport == dport && string(src) > string(dst)
	if rev {
		copy(k.src[:], dst)
		copy(k.dst[:], src)
		k.ports = uint32(dport)<<16 | uint32(sport)
	} else {
		copy(k.src[:], src)
		copy(k.dst[:], dst)
		k.ports = uint32(sport)<<16 | uint32(dport)
	}
	if c.m == nil {
		c.m = make(map[connKey]connBase)
	}
	th, found := c.m[k]
	if !found || syn {
		if rev {
			th = connBase{seq: ack - 1, ack: seq}
		} else {
			th = connBase{seq: seq, ack: ack - 1}
		}
		if !found && len(c.m) >= maxConns {
			for old := range c.m {
				delete(c.m, old)
				break
			}
		}
		c.m[k] = th
	} else if rev {
		seq, ack = seq-th.ack, ack-th.seq
	} else {
		seq, ack = seq-th.seq, ack-th.ack
	}
	return seq, ack, th.seq, th.ack, rev
}
