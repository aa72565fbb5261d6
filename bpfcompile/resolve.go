package bpfcompile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// ErrNotFound is wrapped by resolver errors for a name that has no entry.
var ErrNotFound = errors.New("name not found")

// builtinResolver resolves services and protocols from the tables built
// into the binary, host names through the Go resolver, and ethers(5) and
// networks(5) names from those files when the system has them.
type builtinResolver struct{}

// DefaultResolver returns the resolver Compile uses when Options.Resolver
// is nil.
func DefaultResolver() Resolver { return builtinResolver{} }

func (builtinResolver) LookupHost(ctx context.Context, name string) ([]net.IP, error) {
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", name, err)
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	return ips, nil
}

func (builtinResolver) LookupEther(name string) (net.HardwareAddr, error) {
	m, err := readEthers("/etc/ethers")
	if err == nil {
		if a, ok := m[strings.ToLower(name)]; ok {
			return a, nil
		}
	}
	return nil, fmt.Errorf("ether %q: %w", name, ErrNotFound)
}

func (builtinResolver) LookupNet(name string) (uint32, error) {
	m, err := readNetworks("/etc/networks")
	if err == nil {
		if n, ok := m[strings.ToLower(name)]; ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("network %q: %w", name, ErrNotFound)
}

func (builtinResolver) LookupPort(name, proto string) (int, error) {
	sp, ok := serviceNames[strings.ToLower(name)]
	if !ok {
		return -1, fmt.Errorf("service %q: %w", name, ErrNotFound)
	}
	switch proto {
	case "tcp":
		return sp.tcp, nil
	case "udp":
		return sp.udp, nil
	}
	return -1, nil
}

func (builtinResolver) LookupProto(name string) (int, error) {
	if n, ok := ipProtoNames[strings.ToLower(name)]; ok {
		return n, nil
	}
	return -1, fmt.Errorf("protocol %q: %w", name, ErrNotFound)
}

// readEthers parses an ethers(5) file: "MAC name" lines.
func readEthers(path string) (map[string]net.HardwareAddr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]net.HardwareAddr{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		a, ok := parseMAC48(fs[0])
		if !ok {
			continue
		}
		k := strings.ToLower(fs[1])
		if _, dup := m[k]; !dup {
			m[k] = a
		}
	}
	return m, sc.Err()
}

// readNetworks parses a networks(5) file: "name number [aliases]" lines.
func readNetworks(path string) (map[string]uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		n, ok := parseNetNumber(fs[1])
		if !ok {
			continue
		}
		for _, name := range append([]string{fs[0]}, fs[2:]...) {
			k := strings.ToLower(name)
			if _, dup := m[k]; !dup {
				m[k] = n
			}
		}
	}
	return m, sc.Err()
}

// parseNetNumber parses a network number as inet_network(3) does for
// dotted decimal: "10", "10.20", "10.20.30.0". The parts fill the value
// from the right: "10.20" is 0x0a14.
func parseNetNumber(s string) (uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, false
	}
	var v uint32
	for _, p := range parts {
		n, msg := parseNumber(p)
		if msg != "" || p == "" || n > 255 {
			return 0, false
		}
		v = v<<8 | n
	}
	return v, true
}

// fields splits a line of a name-service file, dropping comments.
func fields(line string) []string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.Fields(line)
}

// parseMAC48 parses the MAC-48 spellings libpcap accepts: six groups of
// 1-2 hex digits separated by ':', '-' or '.', three groups of 4 hex
// digits separated by '.', or 12 hex digits.
func parseMAC48(s string) (net.HardwareAddr, bool) {
	if matchMAC(s) != len(s) {
		return nil, false
	}
	a := make(net.HardwareAddr, 6)
	hexv := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		}
		return c - 'A' + 10
	}
	if len(s) == 12 && !strings.ContainsAny(s, ":-.") || len(s) == 14 && s[4] == '.' {
		h := strings.ReplaceAll(s, ".", "")
		for i := 0; i < 6; i++ {
			a[i] = hexv(h[2*i])<<4 | hexv(h[2*i+1])
		}
		return a, true
	}
	i := 0
	for g := 0; g < 6; g++ {
		var v byte
		n := 0
		for i < len(s) && isHex(s[i]) && n < 2 {
			v = v<<4 | hexv(s[i])
			i++
			n++
		}
		a[g] = v
		i++ // separator
	}
	return a, true
}
