package sinktest

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// Data is a capture buffer held in memory. It implements agent.CaptureData:
// NewReader returns a *bytes.Reader (io.ReadSeeker, io.ReaderAt, io.WriterTo).
type Data []byte

// Len returns the size of the buffer.
func (d Data) Len() int64 { return int64(len(d)) }

// NewReader returns a reader at offset 0.
func (d Data) NewReader() io.ReadSeeker { return bytes.NewReader(d) }

// Pcap returns a valid pcap file (Ethernet, snaplen 65535) of at least size
// bytes: UDP frames of 1514 bytes from 198.18.0.1 to 198.18.0.2 whose
// payload is pseudo-random from seed, so that two files differ and a
// byte-for-byte comparison means something.
func Pcap(size int, seed uint64) Data {
	var buf bytes.Buffer
	buf.Grow(size + 2048)
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		panic(err) // writes to a bytes.Buffer cannot fail
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	frame := testenv.UDPFrame(net.HardwareAddr{0x02, 0, 0, 0, 0, 2}, net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 40000, 9, make([]byte, 1514-42))
	ts := time.Unix(1_700_000_000, 0)
	for i := 0; buf.Len() < size; i++ {
		for j := 42; j+8 <= len(frame); j += 8 {
			binary.LittleEndian.PutUint64(frame[j:], rng.Uint64())
		}
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			panic(err)
		}
	}
	return Data(buf.Bytes())
}

// Capture returns a finished capture of data with every metadata field set.
func Capture(id string, data Data) *agent.Capture {
	return &agent.Capture{
		Request: agent.Request{
			ID: id, Node: "any", Interface: []string{"veth0"}, Tags: "blah,tagme",
			BPF: "udp and dst host 198.18.0.2", Customer: "importantcustomer", AlertID: 655443,
		},
		ID:        id,
		Node:      "host1",
		Interface: "veth0",
		Format:    "pcap",
		Snaplen:   65535,
		Started:   time.Unix(1_700_000_000, 0),
		Ended:     time.Unix(1_700_000_010, 0),
		Tags:      "customer:importantcustomer,alertid:655443,blah,tagme,node:host1,interface:veth0,snaplength:65535",
		FileName:  "host1-veth0-1700000000-" + id + ".pcap",
		Packets:   1,
		Data:      data,
	}
}
