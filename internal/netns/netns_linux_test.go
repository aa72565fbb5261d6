//go:build linux

package netns_test

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/sys/unix"
)

func TestNewVethPair(t *testing.T) {
	testenv.RequireRoot(t)
	var p *netns.Pair
	t.Run("make", func(t *testing.T) {
		p = netns.NewVethPair(t)
		testRange := netip.MustParsePrefix(netns.TestRange)
		for _, a := range []netip.Addr{p.HostAddr, p.PeerAddr} {
			if !testRange.Contains(a) || !p.Prefix.Contains(a) {
				t.Errorf("address %v not in %v within %v", a, p.Prefix, testRange)
			}
		}
		if p.HostAddr == p.PeerAddr || len(p.Host) > 15 || len(p.Peer) > 15 {
			t.Errorf("pair %+v: want distinct addresses and names of at most 15 bytes", p)
		}
		if ifi, err := net.InterfaceByName(p.Host); err != nil || ifi.Flags&net.FlagUp == 0 {
			t.Errorf("host end %s: %v, %v", p.Host, ifi, err)
		}
		if _, err := net.InterfaceByName(p.Peer); err == nil {
			t.Errorf("peer end %s is in the test's namespace", p.Peer)
		}

		// The peer's address answers from inside the namespace: a UDP
		// datagram from the host end reaches a socket opened there.
		var rx *net.UDPConn
		err := p.NS.Do(func() error {
			var err error
			rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: p.PeerAddr.AsSlice()})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer rx.Close()
		tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		if _, err := tx.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		rx.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 16)
		n, _, err := rx.ReadFromUDP(buf)
		if err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("datagram into the namespace: %q, %v", buf[:n], err)
		}
	})
	if p == nil {
		t.FailNow()
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); bytes.Contains(out, []byte(p.NS.Name)) {
		t.Errorf("namespace %s left after the test: %s", p.NS.Name, out)
	}
	if _, err := os.Stat("/sys/class/net/" + p.Host); err == nil {
		t.Errorf("link %s left after the test", p.Host)
	}
}

func TestSend(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	// Receive on the host end with a plain packet socket.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(0x88b5)))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(0x88b5), Ifindex: p.HostIndex}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	var frames [][]byte
	for i := range 200 { // several sendmmsg batches
		f := append(append([]byte{}, p.HostMAC...), p.PeerMAC...)
		f = append(f, 0x88, 0xb5, byte(i>>8), byte(i))
		frames = append(frames, append(f, bytes.Repeat([]byte{byte(i)}, 50)...))
	}
	if err := p.Send(frames); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for i, want := range frames {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("frame %d:\n got %x\nwant %x", i, buf[:n], want)
		}
	}
	if err := p.Send([][]byte{{}}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Send of an empty frame = %v, want an error", err)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
