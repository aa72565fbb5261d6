// Package netns makes network namespaces and veth pairs for capture tests,
// and injects raw frames into them.
//
// Everything it creates is named after the test process (pid plus a random
// tag), addressed from 198.18.0.0/15 (the benchmarking range), and removed in
// t.Cleanup. It needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns and
// CAP_NET_RAW for the sender); callers gate on testenv.RequireRoot first.
//
//	p := netns.NewVethPair(t)              // p.Host in this namespace, p.Peer inside p.NS
//	h, _ := afpacket.Open(p.Host, cfg)     // capture on the host end
//	err := p.Send(frames)                  // inject from the namespace end
package netns
