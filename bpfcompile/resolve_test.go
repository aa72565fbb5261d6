package bpfcompile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileResolver(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts", "198.18.0.2 Two.Example two\n198.18.0.1 two.example\n2001:db8::1 two.example # v6\n")
	write("ethers", "0:1:2:3:4:5 Gw.Example\n")
	write("networks", "lab.example 10.20\n")
	write("services", "web 80/tcp http\nweb 80/udp\nboot 67/udp\n")
	write("protocols", "tcp 6 TCP\n")
	r, err := NewFileResolver(dir)
	if err != nil {
		t.Fatal(err)
	}
	ips, err := r.LookupHost(context.Background(), "TWO.example")
	if err != nil || len(ips) != 3 {
		t.Errorf("LookupHost = %v, %v; want 3 addresses", ips, err)
	}
	if _, err := r.LookupHost(context.Background(), "three.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupHost(unknown) err = %v, want ErrNotFound", err)
	}
	if a, err := r.LookupEther("gw.EXAMPLE"); err != nil || a.String() != "00:01:02:03:04:05" {
		t.Errorf("LookupEther = %v, %v", a, err)
	}
	if n, err := r.LookupNet("lab.example"); err != nil || n != 0x0a14 {
		t.Errorf("LookupNet = %#x, %v; want 0xa14", n, err)
	}
	if p, err := r.LookupPort("HTTP", "tcp"); err != nil || p != 80 {
		t.Errorf("LookupPort(http, tcp) = %d, %v", p, err)
	}
	if p, err := r.LookupPort("boot", "tcp"); err != nil || p != -1 {
		t.Errorf("LookupPort(boot, tcp) = %d, %v; want -1", p, err)
	}
	if p, err := r.LookupProto("TCP"); err != nil || p != 6 {
		t.Errorf("LookupProto = %d, %v", p, err)
	}
	// Hosts come out IPv4 ascending, then IPv6, whatever the file order.
	prog, err := Compile("host two.example", Options{LinkType: LinkTypeRaw, NoOptimize: true, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Listing(prog)
	i1, i2 := strings.Index(s, "#0xc6120001"), strings.Index(s, "#0xc6120002")
	if i1 < 0 || i2 < 0 || i1 > i2 {
		t.Errorf("addresses not in ascending order:\n%s", s)
	}
}

func TestBuiltinNames(t *testing.T) {
	r := DefaultResolver()
	for _, c := range []struct {
		name, proto string
		want        int
	}{{"smtp", "tcp", 25}, {"domain", "udp", 53}, {"bootps", "udp", 67}, {"bootpc", "tcp", -1}, {"https", "tcp", 443}} {
		if got, err := r.LookupPort(c.name, c.proto); err != nil || got != c.want {
			t.Errorf("LookupPort(%s, %s) = %d, %v; want %d", c.name, c.proto, got, err, c.want)
		}
	}
	if _, err := r.LookupPort("nosuchport", "tcp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("nosuchport: %v", err)
	}
	if p, err := r.LookupProto("udp"); err != nil || p != 17 {
		t.Errorf("LookupProto(udp) = %d, %v", p, err)
	}
	if _, err := r.LookupProto("nosuchprotocol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("nosuchprotocol: %v", err)
	}
	// tcp port smtp compiles from the built-in table alone.
	if _, err := Compile("tcp port smtp or udp port domain", Options{LinkType: LinkTypeEthernet}); err != nil {
		t.Errorf("Compile with built-in names: %v", err)
	}
}
