package bpfcompile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestVMAgainstKernel is the differential test of the VM: live programs
// (ours and libpcap's) are attached to a packet socket on the loopback
// interface of a network namespace of the test's own, frames are sent on
// it, and what the kernel's filter lets through (and how much of it) must
// be what the VM says for the same frame and metadata. The kernel shows each
// frame twice: outgoing as sent, and incoming with an outer 802.1Q/802.1ad
// tag moved into the metadata, which is where live "vlan" programs look.
func TestVMAgainstKernel(t *testing.T) {
	testenv.RequireRoot(t)
	c := confLoadCorpus(t)
	res, err := NewFileResolver(confPath(t, "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	// Programs: libpcap's for the live cases, and ours, live, for Ethernet
	// accept expressions.
	var progs [][]bpf.RawInstruction
	seen := map[string]bool{}
	add := func(raw []bpf.RawInstruction) {
		if k := fmt.Sprint(raw); !seen[k] && checkRaw(raw) == nil {
			seen[k] = true
			progs = append(progs, raw)
		}
	}
	for i, a := range c.Accept {
		if a.DLT != "EN10MB" || a.Skip != "" || a.Special != "" {
			continue
		}
		if a.LinuxExt && a.ExpectedOpt != nil {
			raw, err := confParseExpected(*a.ExpectedOpt)
			if err != nil {
				t.Fatal(err)
			}
			add(raw)
		}
		if i%4 != 0 && !a.LinuxExt {
			continue
		}
		prog, err := confSafeCompile(a.Expr, Options{LinkType: LinkTypeEthernet, Snaplen: a.Snaplen, Live: true, Resolver: res})
		if err != nil {
			continue
		}
		if raw, err := vmAssemble(prog); err == nil {
			add(raw)
		}
	}
	// A few programs with long results and ancillary loads of all sizes.
	add([]bpf.RawInstruction{{Op: cbpf.RET, K: 20}})
	add([]bpf.RawInstruction{{Op: cbpf.LD | cbpf.B | cbpf.ABS, K: cbpf.AncillaryBase + ancPktType}, {Op: cbpf.ALU | cbpf.ADD, K: 10}, {Op: cbpf.RET | cbpf.A}})
	add([]bpf.RawInstruction{{Op: cbpf.LD | cbpf.W | cbpf.ABS, K: cbpf.AncillaryBase + ancVLANTag}, {Op: cbpf.ALU | cbpf.ADD, K: 14}, {Op: cbpf.RET | cbpf.A}})
	add([]bpf.RawInstruction{{Op: cbpf.LD | cbpf.H | cbpf.ABS, K: cbpf.AncillaryBase + ancVLANTPID}, {Op: cbpf.ALU | cbpf.RSH, K: 8}, {Op: cbpf.RET | cbpf.A}})
	add([]bpf.RawInstruction{{Op: cbpf.LD | cbpf.W | cbpf.ABS, K: cbpf.AncillaryBase + ancProtocol}, {Op: cbpf.ALU | cbpf.RSH, K: 4}, {Op: cbpf.RET | cbpf.A}})
	add([]bpf.RawInstruction{{Op: cbpf.LD | cbpf.W | cbpf.LEN}, {Op: cbpf.ALU | cbpf.SUB, K: 3}, {Op: cbpf.RET | cbpf.A}})
	if len(progs) > 150 {
		progs = progs[:150]
	}

	// Frames: every built Ethernet frame that does not make the namespace's
	// own stack answer (nothing is addressed to 127.0.0.0/8).
	var frames [][]byte
	for _, p := range confSynthetic("EN10MB") {
		if !bytes.Contains(p.data, []byte{127, 0, 0, 1}) {
			frames = append(frames, p.data)
		}
	}

	errc := make(chan error, 1)
	go func() {
		// The namespace belongs to this thread, which dies with the
		// goroutine (it stays locked), taking the namespace along.
		runtime.LockOSThread()
		errc <- ktDiff(progs, frames)
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d programs × %d frames: the kernel and the VM agree", len(progs), len(frames))
}

// ktFrame is one frame as a packet socket receives it.
type ktFrame struct {
	pkttype uint8
	data    string
}

// ktDiff runs in a new network namespace on a locked thread.
func ktDiff(progs [][]bpf.RawInstruction, frames [][]byte) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
	}
	if err := ktLoopbackUp(); err != nil {
		return err
	}
	const loIndex = 1
	tx, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(tx)
	for pi, raw := range progs {
		vm, err := newVMRaw(raw)
		if err != nil {
			return err
		}
		rx, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		// Filter first, then bind: no unfiltered frame gets in.
		if err := ktAttach(rx, raw); err != nil {
			unix.Close(rx)
			return fmt.Errorf("attach: %w", err)
		}
		unix.SetsockoptInt(rx, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
		if err := unix.Bind(rx, &unix.SockaddrLinklayer{Protocol: ktHtons(unix.ETH_P_ALL), Ifindex: loIndex}); err != nil {
			unix.Close(rx)
			return fmt.Errorf("bind: %w", err)
		}
		var want []ktFrame
		for _, f := range frames {
			etype := binary.BigEndian.Uint16(f[12:])
			if err := unix.Sendto(tx, f, 0, &unix.SockaddrLinklayer{Protocol: ktHtons(etype), Ifindex: loIndex}); err != nil {
				unix.Close(rx)
				return fmt.Errorf("sendto: %w", err)
			}
			// Outgoing: as sent.
			if r := vm.Run(f, len(f), &Meta{Protocol: etype, PktType: unix.PACKET_OUTGOING, IfIndex: loIndex, HAType: unix.ARPHRD_LOOPBACK}); r > 0 {
				want = append(want, ktFrame{unix.PACKET_OUTGOING, string(f[:min(int(r), len(f))])})
			}
			// Incoming: outer tag in the metadata.
			in, meta := ktIncoming(f)
			meta.IfIndex, meta.HAType = loIndex, unix.ARPHRD_LOOPBACK
			if r := vm.Run(in, len(in), &meta); r > 0 {
				want = append(want, ktFrame{meta.PktType, string(in[:min(int(r), len(in))])})
			}
		}
		got, err := ktReceiveAll(rx)
		unix.Close(rx)
		if err != nil {
			return err
		}
		if d := ktFrameDiff(want, got, frames); d != "" {
			return fmt.Errorf("program %d:\n%s\n%s", pi, confListing(raw), d)
		}
	}
	return nil
}

// ktIncoming is the frame and metadata the receive path of a Linux
// device shows a packet socket: an outer 802.1Q or 802.1ad tag moved into
// the metadata, the packet type from the destination address as
// eth_type_trans sets it. The loopback device's own address and its
// "broadcast" address are all zeros, so ff:ff:ff:ff:ff:ff is multicast there.
func ktIncoming(f []byte) ([]byte, Meta) {
	var m Meta
	switch {
	case bytes.Equal(f[:6], make([]byte, 6)):
		m.PktType = unix.PACKET_HOST
	case f[0]&1 != 0:
		m.PktType = unix.PACKET_MULTICAST
	default:
		m.PktType = unix.PACKET_OTHERHOST
	}
	etype := binary.BigEndian.Uint16(f[12:])
	if etype == 0x8100 || etype == 0x88a8 {
		m.VLANPresent, m.VLANTPID, m.VLANTCI = true, etype, binary.BigEndian.Uint16(f[14:])
		f = slices.Concat(f[:12], f[16:])
		etype = binary.BigEndian.Uint16(f[12:])
	}
	m.Protocol = etype
	if etype < 1536 {
		m.Protocol = unix.ETH_P_802_2
		if binary.BigEndian.Uint16(f[14:]) == 0xffff {
			m.Protocol = unix.ETH_P_802_3
		}
	}
	return f, m
}

// ktReceiveAll reads frames until none has come for 40 ms (loopback
// delivers within the sender's softirq).
func ktReceiveAll(fd int) ([]ktFrame, error) {
	var out []ktFrame
	buf := make([]byte, 1<<16)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 40)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			return out, nil
		}
		m, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return nil, fmt.Errorf("recvfrom: %w", err)
		}
		ll, _ := from.(*unix.SockaddrLinklayer)
		if ll == nil {
			continue
		}
		out = append(out, ktFrame{ll.Pkttype, string(buf[:m])})
	}
}

// ktFrameDiff compares the frames expected with those received, as
// multisets; received frames that are no prefix of a frame sent (traffic
// of the namespace's own stack) are ignored.
func ktFrameDiff(want, got []ktFrame, sent [][]byte) string {
	count := map[ktFrame]int{}
	for _, w := range want {
		count[w]++
	}
	var extra []ktFrame
	for _, g := range got {
		if count[g] > 0 {
			count[g]--
			continue
		}
		for _, s := range sent {
			in, _ := ktIncoming(s)
			if len(g.data) > 0 && (bytes.HasPrefix(s, []byte(g.data)) || bytes.HasPrefix(in, []byte(g.data))) {
				extra = append(extra, g)
				break
			}
		}
	}
	var missing []ktFrame
	for f, n := range count {
		for range n {
			missing = append(missing, f)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	s := fmt.Sprintf("%d frames the VM rejects or cuts otherwise came through, %d the VM accepts did not", len(extra), len(missing))
	for _, f := range extra[:min(3, len(extra))] {
		s += fmt.Sprintf("\n  kernel passed pkttype %d len %d: %x", f.pkttype, len(f.data), f.data[:min(40, len(f.data))])
	}
	for _, f := range missing[:min(3, len(missing))] {
		s += fmt.Sprintf("\n  VM passed pkttype %d len %d: %x", f.pkttype, len(f.data), f.data[:min(40, len(f.data))])
	}
	return s
}

// ktLoopbackUp sets the loopback interface of the current namespace up.
func ktLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	time.Sleep(10 * time.Millisecond)
	return nil
}

func ktHtons(v uint16) uint16 { return v<<8 | v>>8 }
