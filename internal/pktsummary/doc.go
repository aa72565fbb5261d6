// Package pktsummary describes captured frames in one line each.
//
// Printer writes the line tcpdump -nn (4.99) prints after the timestamp,
// byte for byte, with -S, -q, -e (the link-level header first) and the
// dumps of -x, -xx, -X, -XX, -A and -AA as tcpdump has them, for the link types
// the capture command meets: Ethernet (802.1Q/QinQ tags, which tcpdump
// does not show without -e), LINUX_SLL, LINUX_SLL2 (-i any: "eth0  In  "
// first), RAW/IPV4/IPV6 and NULL/LOOP. It decodes ARP and RARP, IPv4 (IP
// in IP, fragments), IPv6 (hop-by-hop and destination options, fragment
// headers), TCP (flags, relative sequence numbers kept per connection for
// up to 65536 connections, options, HTTP and SSH first lines), UDP, ICMP,
// ICMPv6 (echo, errors, neighbor discovery, MLD), ESP, DNS over UDP and
// TCP and mDNS (header, questions, answers, EDNS options), LLDP's headline,
// truncated frames (tcpdump's "[|proto]"), and tcpdump's hex dump of a
// payload it cannot decode. TestLinesMatchTcpdump compares each line with
// the real tcpdump's on every link type, with each frame cut at every
// length.
//
// Not matched (the line starts as tcpdump's, up to the address part or
// the protocol, and differs after it): the application protocols tcpdump
// decodes on well-known ports (DHCP, NTP, SNMP, syslog, BGP,
// RADIUS, ISAKMP, ... over UDP and TCP, where tcpdump prints a decoding
// and these lines "UDP, length N" or nothing after "length N"), IGMP, GRE,
// SCTP, OSPF, PIM, VRRP, AH, IPv6 routing and mobility headers, MACsec,
// 802.3/LLC frames (STP, CDP, ...), MPTCP, TFO and experimental TCP options,
// and link types other than the ones above. Names are never resolved: the
// lines are always as with tcpdump -nn.
//
// Summarize is the agent's packetdebug summary: addresses, protocol and
// ports, short. Both read the bytes only and never fail.
package pktsummary
