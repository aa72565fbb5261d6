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
