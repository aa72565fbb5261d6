package pktsummary

import (
	"bytes"
	"encoding/binary"
)

// Builders of DNS messages for the tests.

// dnsHdr is a DNS header.
func dnsHdr(id, flags uint16, qd, an, ns, ar int) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], uint16(qd))
	binary.BigEndian.PutUint16(b[6:], uint16(an))
	binary.BigEndian.PutUint16(b[8:], uint16(ns))
	binary.BigEndian.PutUint16(b[10:], uint16(ar))
	return b
}

// dn is a domain name in labels.
func dn(name string) []byte { return appendName(nil, name) }

// ptr is a compression pointer to off.
func ptr(off int) []byte { return []byte{0xc0 | byte(off>>8), byte(off)} }

// q is a question.
func q(name []byte, typ, class uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(append([]byte{}, name...), typ), class)
}

// rr is a resource record.
func rr(name []byte, typ, class uint16, ttl uint32, rdata []byte) []byte {
	b := append([]byte{}, name...)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, class)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tcpDNS is a DNS message over TCP: its length before it.
func tcpDNS(m []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...) }

// ednsOpt is an EDNS option.
func ednsOpt(code uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// dnsMessages are DNS messages of every kind the printer decodes, named.
func dnsMessages() []frame {
	var fs []frame
	add := func(name string, b []byte) { fs = append(fs, frame{name: name, data: b}) }
	ex := dn("example.com")
	qA := q(ex, 1, 1)
	v6 := v6A.As16()
	add("query", cat(dnsHdr(0x1234, 0x0100, 1, 0, 0, 0), qA))
	add("query-nord", cat(dnsHdr(7, 0, 1, 0, 0, 0), q(ex, 28, 1)))
	add("query-edns", cat(dnsHdr(8, 0x0110, 1, 0, 0, 1), q(ex, 65, 1), rr([]byte{0}, 41, 1232, 0x8000, ednsOpt(10, []byte{1, 2, 3, 4, 5, 6, 7, 8}))))
	add("query-weird", cat(dnsHdr(9, 0x06cf, 2, 1, 1, 0), qA, q(ptr(12), 15, 3), rr(ptr(12), 1, 1, 5, []byte{1, 2, 3, 4})))
	add("query-iquery", cat(dnsHdr(10, 0x0800, 0, 2, 0, 0), rr(ex, 1, 1, 5, []byte{1, 2, 3, 4})))
	add("query-notify", cat(dnsHdr(11, 0x2400, 1, 0, 0, 0), q(ex, 6, 255)))
	add("query-update", cat(dnsHdr(12, 0x2800, 1, 0, 0, 0), q(ex, 6, 4)))
	add("query-types", cat(dnsHdr(13, 0x0100, 6, 0, 0, 0), q(ex, 100, 1), q(ptr(12), 250, 1), q(ptr(12), 256, 1), q(ptr(12), 300, 1), q(ptr(12), 99, 9), q(ptr(12), 48, 1)))
	add("query-none", dnsHdr(14, 0x0100, 0, 0, 0, 0))
	add("query-root", cat(dnsHdr(15, 0x0100, 1, 0, 0, 0), q([]byte{0}, 2, 1)))
	add("resp-a", cat(dnsHdr(0x1234, 0x8180, 1, 1, 0, 0), qA, rr(ptr(12), 1, 1, 3600, v4A.AsSlice())))
	add("resp-aaaa", cat(dnsHdr(2, 0x8580, 1, 2, 0, 0), q(ex, 28, 1), rr(ptr(12), 28, 1, 60, v6[:]), rr(ptr(12), 28, 1, 60, netipV4Mapped())))
	www := dn("www.example.com")
	add("resp-cname", cat(dnsHdr(3, 0x8180, 1, 2, 0, 0), q(www, 1, 1), rr(ptr(12), 5, 1, 60, cat([]byte{3, 'c', 'd', 'n'}, ptr(16))), rr(ptr(33), 1, 1, 60, []byte{198, 18, 0, 9})))
	add("resp-ptr", cat(dnsHdr(4, 0x8180, 1, 1, 0, 0), q(dn("1.0.18.198.in-addr.arpa"), 12, 1), rr(ptr(12), 12, 1, 60, dn("host.example.com"))))
	add("resp-mx", cat(dnsHdr(5, 0x8180, 1, 2, 0, 0), q(ex, 15, 1), rr(ptr(12), 15, 1, 60, cat([]byte{0, 10}, []byte{4, 'm', 'a', 'i', 'l'}, ptr(12))), rr(ptr(12), 15, 1, 60, cat([]byte{0, 20}, dn("mx2.example.org")))))
	add("resp-txt", cat(dnsHdr(6, 0x8180, 1, 1, 0, 0), q(ex, 16, 1), rr(ptr(12), 16, 1, 60, cat([]byte{5}, []byte("v=spf"), []byte{0}, []byte{4, 'a', 0x81, 0x7f, 0x09}))))
	add("resp-txt-chaos", cat(dnsHdr(7, 0x8400, 1, 1, 0, 0), q(dn("version.bind"), 16, 3), rr(ptr(12), 16, 3, 0, cat([]byte{9}, []byte("BIND 9.18")))))
	add("resp-ns-soa", cat(dnsHdr(8, 0x8180, 1, 2, 1, 0), q(ex, 2, 1), rr(ptr(12), 2, 1, 60, dn("a.iana-servers.net")), rr(ptr(12), 2, 1, 60, cat([]byte{1, 'b'}, ptr(41))),
		rr(ptr(12), 6, 1, 60, cat(ptr(41), ptr(41), make([]byte, 20)))))
	add("resp-nxdomain", cat(dnsHdr(9, 0x8183, 1, 0, 1, 0), q(dn("nope.example.com"), 1, 1), rr(ptr(17), 6, 1, 60, cat(dn("ns.example.com"), dn("h.example.com"), make([]byte, 20)))))
	add("resp-soa-answer", cat(dnsHdr(10, 0x8580, 1, 1, 0, 0), q(ex, 6, 1), rr(ptr(12), 6, 1, 60, cat(dn("ns.example.com"), dn("h.example.com"), make([]byte, 20)))))
	add("resp-srv", cat(dnsHdr(11, 0x81a0, 1, 1, 0, 0), q(dn("_sip._tcp.example.com"), 33, 1), rr(ptr(12), 33, 1, 60, cat([]byte{0, 1, 0, 2, 0x13, 0xc4}, dn("sip.example.com")))))
	add("resp-flags", cat(dnsHdr(12, 0x8700, 1, 1, 0, 0), qA, rr(ptr(12), 1, 1, 60, []byte{1, 2, 3, 4})))
	add("resp-servfail", cat(dnsHdr(13, 0x8182, 1, 0, 0, 0), qA))
	add("resp-refused-cd", cat(dnsHdr(14, 0x8195, 1, 0, 0, 0), qA))
	add("resp-2q", cat(dnsHdr(24, 0x8180, 3, 1, 0, 0), qA, q(ptr(12), 28, 1), q(ptr(12), 15, 1), rr(ptr(12), 1, 1, 60, []byte{1, 2, 3, 4})))
	add("resp-rcodes", cat(dnsHdr(15, 0x818f, 0, 0, 0, 0)))
	add("resp-badvers", cat(dnsHdr(16, 0x8180, 1, 0, 0, 1), qA, rr([]byte{0}, 41, 512, 0x01000000, nil)))
	add("resp-resp200", cat(dnsHdr(17, 0x8188, 1, 0, 0, 1), qA, rr([]byte{0}, 41, 512, 0x0c000000, nil)))
	add("resp-resp17", cat(dnsHdr(18, 0x8181, 1, 0, 0, 1), qA, rr([]byte{0}, 41, 512, 0x01000000, nil)))
	add("resp-ar-skip", cat(dnsHdr(19, 0x8180, 1, 1, 1, 2), qA, rr(ptr(12), 1, 1, 60, []byte{1, 2, 3, 4}), rr(ptr(12), 2, 1, 60, ptr(12)), rr(ptr(12), 1, 1, 60, []byte{5, 6, 7, 8}),
		rr([]byte{0}, 41, 4096, 0x02008000, nil)))
	add("resp-opt-answer", cat(dnsHdr(20, 0x8180, 0, 3, 0, 0),
		rr([]byte{0}, 41, 4096, 0x8000, cat(ednsOpt(8, []byte{0, 1, 24, 0, 198, 18, 0}), ednsOpt(10, bytes.Repeat([]byte{0xab}, 24)), ednsOpt(11, []byte{0, 25}), ednsOpt(12, make([]byte, 7)), ednsOpt(9, []byte{0, 0, 1, 0}))),
		rr([]byte{0}, 41, 1232, 0, cat(ednsOpt(5, []byte{8, 13, 99}), ednsOpt(6, []byte{1, 2, 9}), ednsOpt(7, []byte{1, 2}), ednsOpt(14, []byte{0, 1, 0, 2}), ednsOpt(3, []byte("ns1")), ednsOpt(100, nil), ednsOpt(8, []byte{0, 2, 32, 0, 0x20, 0x01, 0x0d, 0xb8}))),
		rr([]byte{0}, 41, 1232, 0, cat(ednsOpt(8, []byte{0, 3, 0, 0}), ednsOpt(8, []byte{0, 1}), ednsOpt(10, []byte{1, 2, 3}), ednsOpt(11, []byte{1}), ednsOpt(9, []byte{1}), ednsOpt(14, []byte{1}), ednsOpt(13, dn("chain.example"))))))
	add("resp-misc-types", cat(dnsHdr(21, 0x8180, 0, 6, 0, 0),
		rr(ex, 104, 1, 0, []byte("unspec\x01text")),
		rr(ptr(12), 256, 1, 0, cat([]byte{0, 10, 0, 1}, []byte("https://x/"))),
		rr(ptr(12), 38, 1, 0, cat([]byte{64}, make([]byte, 8), []byte{1, 'p'}, ptr(12))),
		rr(ptr(12), 38, 1, 0, cat([]byte{0}, v6[:])),
		rr(ptr(12), 38, 1, 0, cat([]byte{128}, ptr(12))),
		rr(ptr(12), 38, 1, 0, []byte{200}),
	))
	add("resp-tsig-hinfo", cat(dnsHdr(22, 0x8180, 0, 3, 0, 0), rr(ex, 250, 255, 0, make([]byte, 26)), rr(ptr(12), 13, 1, 0, []byte{1, 'x', 1, 'y'}), rr(ptr(12), 39, 1, 0, dn("other.example"))))
	add("resp-uri-short", cat(dnsHdr(23, 0x8180, 0, 1, 0, 0), rr(ex, 256, 1, 0, []byte{0, 1}), []byte("trailing")))
	// Names tcpdump has marks for.
	add("name-selfptr", cat(dnsHdr(30, 0x0100, 1, 0, 0, 0), q(ptr(12), 1, 1)))
	add("name-fwdptr", cat(dnsHdr(31, 0x8180, 1, 1, 0, 0), qA, rr(ptr(12), 5, 1, 0, ptr(200))))
	add("name-loop", cat(dnsHdr(32, 0x8180, 1, 1, 0, 0), qA, rr(ptr(12), 5, 1, 0, cat([]byte{1, 'a'}, ptr(41)))))
	add("name-chars", cat(dnsHdr(33, 0x0100, 1, 0, 0, 0), q(cat([]byte{6, 'a', 0x80, 0xff, 0x01, 0x7f, ' ', 3, 'c', '.', 'm', 0}), 1, 1)))
	add("name-bits", cat(dnsHdr(34, 0x0100, 3, 0, 0, 0), q(cat([]byte{0x41, 12, 0xab, 0xcd, 2, 'i', 'p', 0}), 12, 1), q(cat([]byte{0x41, 3, 0xe0, 0}), 12, 1), q(cat([]byte{0x41, 0}, bytes.Repeat([]byte{0x5a}, 32), []byte{0}), 12, 1)))
	add("name-elt", cat(dnsHdr(35, 0x0100, 1, 0, 0, 0), q([]byte{0x42, 0, 0}, 1, 1)))
	add("name-reserved", cat(dnsHdr(36, 0x0100, 1, 0, 0, 0), q([]byte{0x81, 0}, 1, 1)))
	add("name-reserved-ans", cat(dnsHdr(37, 0x8180, 1, 1, 0, 0), qA, rr(ptr(12), 5, 1, 0, []byte{3, 'a', 'b', 'c', 0x81, 0})))
	long := bytes.Repeat(cat([]byte{50}, bytes.Repeat([]byte{'x'}, 50)), 6)
	add("name-long", cat(dnsHdr(38, 0x0100, 1, 0, 0, 0), q(append(long, 0), 1, 1)))
	// mDNS.
	local := dn("_services._dns-sd._udp.local")
	add("mdns-query", cat(dnsHdr(0, 0, 2, 0, 0, 0), q(local, 12, 0x8001), q(dn("host.local"), 255, 1)))
	add("mdns-resp", cat(dnsHdr(0, 0x8400, 0, 2, 0, 1), rr(dn("host.local"), 1, 0x8001, 120, []byte{198, 18, 0, 1}), rr(ptr(12), 28, 0x8003, 120, v6[:]), rr(ptr(12), 47, 0x8001, 120, cat(ptr(12), []byte{0, 4, 0x40, 0, 0, 8}))))
	return fs
}

// netipV4Mapped is ::ffff:198.18.0.1, which tcpdump writes in its IPv4 form.
func netipV4Mapped() []byte {
	return []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1}
}

// dnsFrames are the DNS messages over UDP (port 53 and, the mDNS ones,
// 5353), IPv4 and IPv6, and over TCP; and messages tcpdump says are not
// whole.
func dnsFrames() []frame {
	var fs []frame
	for i, m := range dnsMessages() {
		port := uint16(53)
		if bytes.HasPrefix([]byte(m.name), []byte("mdns")) {
			port = 5353
		}
		sport, dport := uint16(40000+i), port
		if m.data[2]&0x80 != 0 {
			sport, dport = dport, sport
		}
		fs = append(fs, frame{name: "dns-" + m.name, data: ipv4(v4A, v4B, 17, uint16(i), 0, nil, udp(sport, dport, m.data))})
		if i%3 == 0 {
			fs = append(fs, frame{name: "dns6-" + m.name, data: ipv6(v6A, v6B, 17, udp(sport, dport, m.data))})
		}
		if i%4 == 1 && port == 53 {
			fs = append(fs, frame{name: "dnstcp-" + m.name, data: ipv4(v4A, v4B, 6, uint16(i), 0, nil, tcp(sport, dport, 1, 2, fPSH|fACK, 500, nil, tcpDNS(m.data)))})
		}
	}
	query := dnsMessages()[0].data
	add := func(name string, b []byte) { fs = append(fs, frame{name: name, data: b}) }
	add("dns-short", ipv4(v4A, v4B, 17, 0, 0, nil, udp(40000, 53, query[:7])))
	add("dns-empty", ipv4(v4A, v4B, 17, 0, 0, nil, udp(40000, 53, nil)))
	add("dns-ulen", ipv4(v4A, v4B, 17, 0, 0, nil, append(udp(40000, 53, query[:20]), query[20:]...)))
	add("dnstcp-prefix", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40000, 53, 1, 2, fPSH|fACK, 500, nil, append([]byte{0, 99}, query...))))
	add("dnstcp-one", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40000, 53, 1, 2, fPSH|fACK, 500, nil, []byte{0})))
	add("dnstcp-short", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40000, 53, 1, 2, fPSH|fACK, 500, nil, tcpDNS(query[:5]))))
	return fs
}
