// Package cbpf names the fields of a classic BPF opcode, as the Linux
// kernel's <linux/bpf_common.h> and <linux/filter.h> (and libpcap's
// pcap/bpf.h) define them, for the packages of bpfcompile that build,
// transform and interpret encoded instructions (bpf.RawInstruction).
//
// An opcode is class|size|mode for loads and stores, class|op|source for
// ALU operations and jumps, class|source for returns and class|op for the
// register moves: "ldh [12]" is LD|H|ABS, "jeq #k" is JMP|JEQ|K, "ret a"
// is RET|A, "tax" is MISC|TAX.
package cbpf

// Instruction classes (BPF_CLASS, the low 3 bits).
const (
	LD   = 0x00
	LDX  = 0x01
	ST   = 0x02
	STX  = 0x03
	ALU  = 0x04
	JMP  = 0x05
	RET  = 0x06
	MISC = 0x07
)

// Load sizes (BPF_SIZE): a word, a half word, a byte.
const (
	W = 0x00
	H = 0x08
	B = 0x10
)

// Load modes (BPF_MODE): an immediate, the packet at k, the packet at X+k,
// scratch memory M[k], the packet's length, and the IPv4 header length
// 4*(P[k]&0xf).
const (
	IMM = 0x00
	ABS = 0x20
	IND = 0x40
	MEM = 0x60
	LEN = 0x80
	MSH = 0xa0
)

// ALU operations (BPF_OP).
const (
	ADD = 0x00
	SUB = 0x10
	MUL = 0x20
	DIV = 0x30
	OR  = 0x40
	AND = 0x50
	LSH = 0x60
	RSH = 0x70
	NEG = 0x80
	MOD = 0x90
	XOR = 0xa0
)

// Jump operations (BPF_OP).
const (
	JA   = 0x00
	JEQ  = 0x10
	JGT  = 0x20
	JGE  = 0x30
	JSET = 0x40
)

// Operand sources (BPF_SRC) of ALU operations and jumps: the constant k or
// the X register; and of returns (BPF_RVAL): k or the A register.
const (
	K = 0x00
	X = 0x08
	A = 0x10
)

// Register moves (BPF_MISCOP): X = A and A = X.
const (
	TAX = 0x00
	TXA = 0x80
)

// AncillaryBase is SKF_AD_OFF (-0x1000) as an unsigned k: an absolute load
// at AncillaryBase+n does not read the packet, the Linux kernel loads the
// socket buffer's metadata value n (SKF_AD_PROTOCOL, ...) instead.
const AncillaryBase = 0xfffff000
