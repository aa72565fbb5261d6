//go:build linux

package afpacket_test

import (
	"testing"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestLinkTypeAndNetmask checks the one-socket lookup a capture request
// makes against LinkTypeOf and Netmask asked separately: the same link
// type and netmask for interfaces with and without IPv4, loopback and
// "any", and an error wherever LinkTypeOf has one.
func TestLinkTypeAndNetmask(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	if err := p.NS.IP("link", "add", "lmnomask0", "type", "veth", "peer", "name", "lmnomask1"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, iface string
		ns          *netns.NS
		wantType    uint32
		wantMask    uint32
		wantErr     bool
	}{
		{"veth with a /30", p.Host, nil, afpacket.LinkTypeEthernet, 0xfffffffc, false},
		{"in a namespace", p.Peer, p.NS, afpacket.LinkTypeEthernet, 0xfffffffc, false},
		{"loopback", "lo", p.NS, afpacket.LinkTypeEthernet, 0xff000000, false},
		{"no IPv4 address", "lmnomask0", p.NS, afpacket.LinkTypeEthernet, 0, false},
		{"any", "any", nil, afpacket.LinkTypeLinuxSLL2, 0, false},
		{"missing", "lmnomask0", nil, 0, 0, true}, // it lives in the namespace only
		{"bad name", "a/b", nil, 0, 0, true},
		{"too long", "interfacenametoolong", nil, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			do := func(f func() error) error { return f() }
			if tc.ns != nil {
				do = tc.ns.Do
			}
			var lt, mask, sepType, sepMask uint32
			var err, sepErr error
			if derr := do(func() error {
				lt, mask, err = afpacket.LinkTypeAndNetmask(tc.iface)
				sepType, sepErr = afpacket.LinkTypeOf(tc.iface)
				if tc.iface != "any" {
					sepMask, _ = afpacket.Netmask(tc.iface)
				}
				return nil
			}); derr != nil {
				t.Fatal(derr)
			}
			if tc.wantErr {
				if err == nil || sepErr == nil {
					t.Fatalf("LinkTypeAndNetmask(%q) = %d, %#x, %v (LinkTypeOf: %v); want an error", tc.iface, lt, mask, err, sepErr)
				}
				return
			}
			if err != nil || lt != tc.wantType || mask != tc.wantMask {
				t.Errorf("LinkTypeAndNetmask(%q) = %d, %#x, %v; want %d, %#x", tc.iface, lt, mask, err, tc.wantType, tc.wantMask)
			}
			if lt != sepType || mask != sepMask {
				t.Errorf("LinkTypeAndNetmask(%q) = %d, %#x; asked separately %d, %#x", tc.iface, lt, mask, sepType, sepMask)
			}
		})
	}
}
