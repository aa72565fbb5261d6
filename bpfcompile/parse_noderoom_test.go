package bpfcompile

import (
	"reflect"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestParseNodeRoom checks that the syntax tree parsed into the room the
// generator lends (with the tokens' room too) is the tree Parse makes,
// for filters with fewer nodes of each kind than the room holds and with
// more, and for syntax errors with a prefix.
func TestParseNodeRoom(t *testing.T) {
	exprs := []string{
		"tcp port 443", "icmp or arp", "not tcp", "not not ip and not udp",
		"host 198.18.0.1 and (tcp port 80 or tcp port 443)",
		"net 10.0.0.0/8 and not port 22", "src host 198.18.0.1 and dst port 8080",
		"ip6 and tcp dst portrange 6000-6063", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
		"ip or ip6 or arp or rarp", "ether host 00:11:22:33:44:55 or ether src 0:1:2:3:4:5",
		bpftest.PortChain(20), bpftest.HostChain(10, true), bpftest.Nested(5),
		"tcp port 80 and", "host 1.2.3.4 or (", "port 99999 and not",
	}
	for _, e := range exprs {
		var room [16]token
		var nodes nodeRoom
		gotN, gotP, gotErr := parseTo(room[:], &nodes, e)
		wantN, wantP, wantErr := parse(e)
		if !reflect.DeepEqual(gotN, wantN) || !reflect.DeepEqual(gotP, wantP) || !reflect.DeepEqual(gotErr, wantErr) {
			t.Errorf("%q: with room %#v, %#v, %v; without %#v, %#v, %v", e, gotN, gotP, gotErr, wantN, wantP, wantErr)
		}
	}
}
