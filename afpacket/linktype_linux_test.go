//go:build linux

package afpacket_test

import (
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The link type comes from the kernel for the namespace the caller is in:
// interfaces that exist only inside a test namespace are found there (the
// sysfs of the test's own namespace does not list them), with the link
// type their ARPHRD type gives.
func TestLinkTypeOfInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	type linkCase struct {
		name string
		want uint32
	}
	cases := []linkCase{
		{p.Peer, afpacket.LinkTypeEthernet},
		{"lo", afpacket.LinkTypeEthernet},
		{"any", afpacket.LinkTypeLinuxSLL2},
	}
	// A tun device has no link-layer header (ARPHRD_NONE): RAW. Some
	// containers have no /dev/net/tun; the other cases still run there.
	if err := p.NS.IP("tuntap", "add", "dev", "pdtun0", "mode", "tun"); err != nil {
		t.Logf("no tun device to check RAW with: %v", err)
	} else {
		cases = append(cases, linkCase{"pdtun0", afpacket.LinkTypeRaw})
	}
	for _, tc := range cases {
		var got uint32
		err := p.NS.Do(func() error {
			var err error
			got, err = afpacket.LinkTypeOf(tc.name)
			return err
		})
		if err != nil || got != tc.want {
			t.Errorf("LinkTypeOf(%q) in the namespace = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	// The far end of the pair does not exist here.
	_, err := afpacket.LinkTypeOf(p.Peer)
	if err == nil || !strings.Contains(err.Error(), p.Peer) || !strings.Contains(err.Error(), "no such interface") {
		t.Errorf("LinkTypeOf(%q) outside its namespace: %v; want an error naming it", p.Peer, err)
	}
}

func TestLinkTypeOfBadNames(t *testing.T) {
	for _, name := range []string{"", "a/b", "..", "x\x00y", strings.Repeat("n", 16)} {
		if lt, err := afpacket.LinkTypeOf(name); err == nil {
			t.Errorf("LinkTypeOf(%q) = %d, nil; want an error", name, lt)
		}
	}
}

// Netmask answers with one ioctl what net.Interface.Addrs finds over
// netlink: the netmask of the interface's primary IPv4 address, 0 for an
// interface without one, an error naming a missing interface.
func TestNetmask(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	// More addresses on the far end, after its /30: not the primary one.
	for _, args := range [][]string{
		{"addr", "add", "198.19.255.1/24", "dev", p.Peer},
		{"addr", "add", "198.19.254.1/16", "dev", p.Peer},
		{"link", "add", "pdnomask0", "type", "veth", "peer", "name", "pdnomask1"},
	} {
		if err := p.NS.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, iface string
		ns          *netns.NS
		want        uint32
	}{
		{"the test's end, a /30", p.Host, nil, 0xfffffffc},
		{"first of three addresses", p.Peer, p.NS, 0xfffffffc},
		{"loopback", "lo", p.NS, 0xff000000},
		{"no address", "pdnomask0", p.NS, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got uint32
			do := func(f func() error) error { return f() }
			if tc.ns != nil {
				do = tc.ns.Do
			}
			err := do(func() error {
				var err error
				got, err = afpacket.Netmask(tc.iface)
				return err
			})
			if err != nil || got != tc.want {
				t.Errorf("Netmask(%q) = %#x, %v; want %#x", tc.iface, got, err, tc.want)
			}
		})
	}
	if _, err := afpacket.Netmask(p.Peer); err == nil || !strings.Contains(err.Error(), p.Peer) {
		t.Errorf("Netmask(%q) outside its namespace: %v; want an error naming it", p.Peer, err)
	}
}
