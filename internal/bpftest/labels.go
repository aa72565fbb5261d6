package bpftest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"

	"golang.org/x/net/bpf"
)

// Labels are random expressions (RandomExpr) with the packets built for
// them and the verdicts libpcap gave: what bpfcompile's random-expression
// test compares the compiler with. scripts/libpcap/ makes them (see its
// README); the test data file is LabelsFile.
type Labels struct {
	// Libpcap is the libpcap commit that labelled the cases.
	Libpcap string `json:"libpcap"`
	// Generator says how the expressions and packets were made.
	Generator string `json:"generator"`
	// Snaplen and Netmask are the arguments of pcap_open_dead and
	// pcap_compile for every case.
	Snaplen int         `json:"snaplen"`
	Netmask uint32      `json:"netmask"`
	Cases   []LabelCase `json:"cases"`
}

// LabelCase is one expression for one link type, its packets and libpcap's
// verdicts with its optimizer on (Opt) and off (Unopt).
type LabelCase struct {
	DLT     string        `json:"dlt"`
	Expr    string        `json:"expr"`
	Packets []LabelPacket `json:"packets"`
	Opt     LabelResult   `json:"opt"`
	Unopt   LabelResult   `json:"unopt"`
}

// LabelPacket is a packet and the lengths its truncated copies are cut
// to: each copy keeps Wire as its length on the wire.
type LabelPacket struct {
	Data HexBytes `json:"data"`
	Wire int      `json:"wire"`
	Cuts []int    `json:"cuts,omitempty"`
}

// LabelResult is what libpcap made of a case: the error pcap_compile
// reported, or the result of pcap_offline_filter on every packet (see
// LabelCase.Inputs for the order).
type LabelResult struct {
	Err     string   `json:"err,omitempty"`
	Results []uint32 `json:"results,omitempty"`
}

// HexBytes is a byte slice that JSON holds as a hex string.
type HexBytes []byte

// MarshalJSON writes the bytes as a hex string.
func (h HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

// UnmarshalJSON reads a hex string.
func (h *HexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("hex bytes: %w", err)
	}
	*h = d
	return nil
}

// LabelInput is one packet a case runs on.
type LabelInput struct {
	Data []byte
	Wire int
	// Truncated is set for the copies cut short (Data shorter than the
	// packet it was cut from).
	Truncated bool
}

// Inputs returns the packets of c in the order of the results: each
// packet, then its truncated copies.
func (c *LabelCase) Inputs() []LabelInput {
	var out []LabelInput
	for _, p := range c.Packets {
		out = append(out, LabelInput{Data: p.Data, Wire: p.Wire})
		for _, n := range p.Cuts {
			out = append(out, LabelInput{Data: p.Data[:n], Wire: p.Wire, Truncated: true})
		}
	}
	return out
}

// ReadLabels reads a gzip-compressed labels file.
func ReadLabels(name string) (*Labels, error) {
	gz, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var l Labels
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &l, nil
}

// WriteLabels writes l gzip-compressed, one case per line.
func WriteLabels(name string, l *Labels) error {
	var b bytes.Buffer
	cases := l.Cases
	head := *l
	head.Cases = nil
	hj, err := json.Marshal(head)
	if err != nil {
		return err
	}
	b.Write(hj[:len(hj)-1])
	b.WriteString(",\"cases\":[\n")
	for i := range cases {
		cj, err := json.Marshal(&cases[i])
		if err != nil {
			return err
		}
		b.Write(cj)
		if i+1 < len(cases) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(name, z.Bytes(), 0o644)
}

// Sizes of the packet sets LabelPackets builds.
const (
	labelReal   = 4   // real packets
	labelProbed = 12  // packets with the program's fields set
	labelCuts   = 4   // truncated copies of each
	labelMaxLen = 128 // bytes kept of a real packet
)

// LabelPackets builds the packets a random expression is labelled on: a
// few real ones of the link type (cut to labelMaxLen bytes, keeping their
// length on the wire) and packets whose fields the program raw reads hold
// the values it compares them with (raw nil: random ones; every value
// comes up in turn), each with copies truncated at the start of a field
// the program reads, inside it or just after it: where libpcap's optimizer
// changes verdicts (a test it moved before a load that fails, a load it
// dropped).
func LabelPackets(rng *rand.Rand, raw []bpf.RawInstruction, real [][]byte) []LabelPacket {
	probes := Probes(rng, raw)
	maxEnd := 34
	for _, p := range probes {
		if p.Mode == ModeABS && p.Off < 4096 {
			maxEnd = max(maxEnd, int(p.Off)+p.Size)
		}
	}
	var out []LabelPacket
	for i := 0; i < labelReal+labelProbed; i++ {
		var pkt []byte
		wire := 0
		switch {
		case i < labelReal && len(real) > 0:
			r := real[rng.IntN(len(real))]
			pkt, wire = slices.Clone(r[:min(len(r), labelMaxLen)]), len(r)
		case len(real) > 0 && i%2 == 0:
			r := real[rng.IntN(len(real))]
			pkt = slices.Clone(r[:min(len(r), maxEnd+rng.IntN(24))])
			if len(pkt) < maxEnd {
				pkt = append(pkt, make([]byte, maxEnd-len(pkt)+rng.IntN(16))...)
			}
		default:
			pkt = make([]byte, maxEnd+rng.IntN(24))
		}
		if i >= labelReal {
			labelProbe(rng, pkt, probes, i-labelReal)
		}
		if wire == 0 {
			wire = len(pkt)
		}
		out = append(out, LabelPacket{Data: pkt, Wire: wire, Cuts: cutsFor(rng, pkt, probes)})
	}
	return out
}

// labelProbe writes the probed values into the n-th probed packet: each
// field, three times in four, the value its turn picks (so that every
// value of every field comes up), else a random one of them or none.
func labelProbe(rng *rand.Rand, pkt []byte, probes []Probe, n int) {
	put := func(off int, size int, v uint32) {
		if off < 0 || off+size > len(pkt) {
			return
		}
		switch size {
		case 1:
			pkt[off] = byte(v)
		case 2:
			binary.BigEndian.PutUint16(pkt[off:], uint16(v))
		case 4:
			binary.BigEndian.PutUint32(pkt[off:], v)
		}
	}
	pick := func(pi int, p Probe) (uint32, bool) {
		switch {
		case len(p.Vals) == 0:
			return 0, false
		case rng.IntN(4) != 0:
			return p.Vals[(n+pi)%len(p.Vals)], true
		case rng.IntN(2) == 0:
			return p.Vals[rng.IntN(len(p.Vals))], true
		}
		return 0, false
	}
	var xs []int
	for pi, p := range probes {
		if p.Mode == ModeMSH {
			if v, ok := pick(pi, p); ok {
				put(int(p.Off), 1, v)
			}
			if int(p.Off) < len(pkt) {
				xs = append(xs, 4*int(pkt[p.Off]&0xf))
			}
		}
	}
	for pi, p := range probes {
		if p.Mode == ModeABS && p.Off < ancillaryBase {
			if v, ok := pick(pi, p); ok {
				put(int(p.Off), p.Size, v)
			}
		}
	}
	if len(xs) == 0 {
		xs = []int{0, 20}
	}
	for pi, p := range probes {
		if p.Mode == ModeIND {
			if v, ok := pick(pi, p); ok {
				put(xs[rng.IntN(len(xs))]+int(p.Off), p.Size, v)
			}
		}
	}
}

// cutsFor chooses lengths to truncate pkt to: at the start of a field the
// program loads, where a load would just fail or just succeed, or
// anywhere.
func cutsFor(rng *rand.Rand, pkt []byte, probes []Probe) []int {
	var cand []int
	addField := func(off, size int) {
		for _, c := range []int{off, off + size - 1, off + size} {
			if c >= 0 && c < len(pkt) && !slices.Contains(cand, c) {
				cand = append(cand, c)
			}
		}
	}
	var xs []int
	for _, p := range probes {
		if p.Mode == ModeMSH && int(p.Off) < len(pkt) {
			xs = append(xs, 4*int(pkt[p.Off]&0xf))
			addField(int(p.Off), 1)
		}
	}
	for _, p := range probes {
		switch {
		case p.Mode == ModeABS && p.Off < ancillaryBase:
			addField(int(p.Off), p.Size)
		case p.Mode == ModeIND:
			for _, x := range xs {
				addField(x+int(p.Off), p.Size)
			}
		}
	}
	var cuts []int
	for tries := 0; len(cuts) < labelCuts && len(pkt) > 0 && tries < 64; tries++ {
		c := rng.IntN(len(pkt))
		if len(cand) > 0 && rng.IntN(5) != 0 {
			c = cand[rng.IntN(len(cand))]
		}
		if !slices.Contains(cuts, c) {
			cuts = append(cuts, c)
		}
	}
	slices.Sort(cuts)
	return cuts
}

// ToSLL2 rewrites a LINUX_SLL packet (a cooked header of 16 bytes) as
// LINUX_SLL2 (20 bytes), with interface index 3; nil if it is too short.
func ToSLL2(sll []byte) []byte {
	if len(sll) < 16 {
		return nil
	}
	// SLL: pkttype(2) hatype(2) halen(2) addr(8) proto(2).
	// SLL2: proto(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8).
	out := make([]byte, 0, len(sll)+4)
	out = append(out, sll[14:16]...)
	out = append(out, 0, 0)
	out = binary.BigEndian.AppendUint32(out, 3)
	out = append(out, sll[2:4]...)
	out = append(out, sll[1], sll[5])
	out = append(out, sll[6:14]...)
	return append(out, sll[16:]...)
}
