package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// benchRange is 198.18.0.0/15 (RFC 2544), the only addresses the bench uses.
var benchRange = netip.MustParsePrefix("198.18.0.0/15")

// testbed is a network namespace and a veth pair: host stays in this
// namespace, where the capturers run; peer lives in ns, where the
// generator runs.
type testbed struct {
	ns, host, peer     string
	hostAddr, peerAddr netip.Addr
}

// newTestbed makes the namespace and the pair. The returned cleanup
// removes whatever was made, also when newTestbed fails half-way.
func newTestbed() (*testbed, func(), error) {
	id := strconv.FormatInt(int64(os.Getpid()), 36)
	tb := &testbed{ns: "pcapd-bench-" + id, host: "pdb" + id + "h", peer: "pdb" + id + "p"}
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	fail := func(err error) (*testbed, func(), error) {
		cleanup()
		return nil, func() {}, err
	}
	if err := ip("netns", "add", tb.ns); err != nil {
		return fail(err)
	}
	undo = append(undo, func() { warn(ip("netns", "del", tb.ns)) })
	if err := ip("link", "add", tb.host, "type", "veth", "peer", "name", tb.peer, "netns", tb.ns); err != nil {
		return fail(err)
	}
	undo = append(undo, func() {
		if err := ip("link", "del", tb.host); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			warn(err)
		}
	})

	// One random /30 of the benchmarking range.
	first := benchRange.Addr().As4()
	n := rand.Uint32N(1 << (32 - benchRange.Bits() - 2))
	v := uint32(first[0])<<24 | uint32(first[1])<<16 | uint32(first[2])<<8 | uint32(first[3]) + n*4 + 1
	tb.hostAddr = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	tb.peerAddr = tb.hostAddr.Next()

	// No IPv6 on either end: the kernel then sends nothing of its own
	// (router solicitations, MLD reports) to disturb the counts.
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+tb.host+"/disable_ipv6", []byte("1"), 0); err != nil {
		return fail(err)
	}
	for _, args := range [][]string{
		{"netns", "exec", tb.ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/" + tb.peer + "/disable_ipv6"},
		{"addr", "add", tb.hostAddr.String() + "/30", "dev", tb.host},
		{"link", "set", tb.host, "up"},
		{"-n", tb.ns, "addr", "add", tb.peerAddr.String() + "/30", "dev", tb.peer},
		{"-n", tb.ns, "link", "set", tb.peer, "up"},
	} {
		if err := ip(args...); err != nil {
			return fail(err)
		}
	}
	if err := waitCarrier(tb.host, 5*time.Second); err != nil {
		return fail(err)
	}
	return tb, cleanup, nil
}

// ip runs ip(8) with args, bounded in time.
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func warn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
	}
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
