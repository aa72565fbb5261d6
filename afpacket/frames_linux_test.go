//go:build linux

package afpacket

import (
	"encoding/binary"
	"net"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// testEtherType is an IEEE local experimental EtherType: no stack on the
// host answers it, so test frames cause no traffic of their own.
const testEtherType = 0x88b5

// etherFrame builds an Ethernet frame from src to dst with EtherType
// testEtherType (after the given VLAN tags, outermost first, each a TPID and
// a TCI), carrying seq and then filler bytes up to size bytes in all.
func etherFrame(dst, src net.HardwareAddr, tags [][2]uint16, seq uint32, size int) []byte {
	return testenv.EtherFrame(dst, src, tags, testEtherType, seq, size)
}

// frameSeq returns the sequence number etherFrame put in an untagged frame.
func frameSeq(b []byte) uint32 {
	if len(b) < 18 {
		return ^uint32(0)
	}
	return binary.BigEndian.Uint32(b[14:])
}
