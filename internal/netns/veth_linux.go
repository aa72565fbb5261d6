//go:build linux

package netns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRange is 198.18.0.0/15 (RFC 2544), the only addresses tests use.
const TestRange = "198.18.0.0/15"

// A Pair is a veth pair: Host stays in the test's network namespace, Peer
// lives inside NS. Both are up, with IPv6 off (so that the kernel sends no
// router solicitations or MLD reports of its own) and an address each from
// one /30 of 198.18.0.0/15.
type Pair struct {
	NS *NS

	Host      string // name of the end in the test's namespace
	HostIndex int
	HostMAC   net.HardwareAddr
	HostAddr  netip.Addr

	Peer      string // name of the end inside NS
	PeerIndex int    // index inside NS
	PeerMAC   net.HardwareAddr
	PeerAddr  netip.Addr

	Prefix netip.Prefix // the /30 holding HostAddr and PeerAddr

	sender *Sender // bound to Peer, inside NS
}

// NewVethPair makes a namespace and a veth pair between it and the test's
// namespace, and removes both when t ends. It fails t when that is not
// possible.
func NewVethPair(t testing.TB) *Pair {
	t.Helper()
	ns := New(t)
	p, err := newPair(t, ns)
	if err != nil {
		t.Fatalf("netns: veth pair: %v", err)
	}
	return p
}

func newPair(t testing.TB, ns *NS) (*Pair, error) {
	base := strconv.FormatInt(int64(os.Getpid()), 36) + tag()
	p := &Pair{NS: ns, Host: "pd" + base + "h", Peer: "pd" + base + "p"}
	if err := ip("link", "add", p.Host, "type", "veth", "peer", "name", p.Peer, "netns", ns.Name); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		// Deleting either end deletes the pair; the namespace's cleanup
		// would too, but a leftover host end must not outlive the test.
		if err := ip("link", "del", p.Host); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			t.Errorf("netns: %v", err)
		}
	})

	testRange := netip.MustParsePrefix(TestRange)
	first := testRange.Addr().As4()
	n := rand.Uint32N(1 << (32 - testRange.Bits() - 2)) // which /30
	v := uint32(first[0])<<24 | uint32(first[1])<<16 | uint32(first[2])<<8 | uint32(first[3]) + n*4
	p.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
	p.HostAddr = p.Prefix.Addr().Next()
	p.PeerAddr = p.HostAddr.Next()

	if err := writeSysctl("net/ipv6/conf/"+p.Host+"/disable_ipv6", "1"); err != nil {
		return nil, err
	}
	err := ns.Do(func() error {
		if err := writeSysctl("net/ipv6/conf/"+p.Peer+"/disable_ipv6", "1"); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(p.Peer)
		if err != nil {
			return err
		}
		p.PeerIndex, p.PeerMAC = ifi.Index, ifi.HardwareAddr
		p.sender, err = NewSender(ifi.Index)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { p.sender.Close() })

	for _, args := range [][]string{
		{"addr", "add", prefixString(p.HostAddr, 30), "dev", p.Host},
		{"link", "set", p.Host, "up"},
		{"-n", ns.Name, "addr", "add", prefixString(p.PeerAddr, 30), "dev", p.Peer},
		{"-n", ns.Name, "link", "set", p.Peer, "up"},
	} {
		if err := ip(args...); err != nil {
			return nil, err
		}
	}
	ifi, err := net.InterfaceByName(p.Host)
	if err != nil {
		return nil, err
	}
	p.HostIndex, p.HostMAC = ifi.Index, ifi.HardwareAddr
	if err := waitCarrier(p.Host, 5*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

func prefixString(a netip.Addr, bits int) string {
	return netip.PrefixFrom(a, bits).String()
}

// waitCarrier waits until the interface reports carrier, for at most d.
func waitCarrier(name string, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		b, err := os.ReadFile("/sys/class/net/" + name + "/carrier")
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			return nil
		}
		if time.Now().After(end) {
			if err == nil {
				err = errors.New("no carrier")
			}
			return fmt.Errorf("%s: %w after %v", name, err, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Send transmits frames out of Peer, into Host, each once and in order (see
// Sender.Send). It returns an error if not all were sent.
func (p *Pair) Send(frames [][]byte) error {
	_, err := p.sender.Send(frames)
	return err
}
