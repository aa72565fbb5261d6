package bpfcompile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestConformance is the central test: libpcap's own filter test
// suite (testdata/conformance at the module root) on every link type it
// names.
//
//   - accept: our unoptimized program must be libpcap's, listing for
//     listing. Our optimized program must be libpcap's too on the link
//     types without a packet corpus; on the link types a Linux host
//     captures (confCoreDLTs) it must return what libpcap's program
//     returns on every packet: the real captures of packets/, packets
//     built here for every protocol and header chain, truncated copies of
//     them, and packets made by flipping the branches the programs take
//     (see conformance_explore); live (Linux extension) cases also vary
//     the ancillary data. Entries whose expression libpcap's optimizer
//     rejects must be rejected by ours with "expression rejects all
//     packets".
//   - reject: Compile must fail with an error containing libpcap's.
//   - apply: our program, optimized and not, must return the listed
//     result on each packet of the savefile.
//
// Cases that fail today are listed in testdata/conformance-known-failures.txt
// with the reason; the test fails on any difference from that list, and
// when the pass rates fall below the goals (confCheckGoals).
func TestConformance(t *testing.T) {
	start := time.Now()
	c := confLoadCorpus(t)
	res, err := NewFileResolver(confPath(t, "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	h := &confHarness{t: t, res: res, packets: map[string]*confDLTPackets{}}

	var outcomes []confOutcome
	for _, a := range c.Accept {
		if a.Skip != "" || a.Special != "" {
			continue
		}
		if confIsCore(a.DLT) {
			outcomes = append(outcomes, h.accept(a)...)
		} else {
			outcomes = append(outcomes, h.acceptListing(a)...)
		}
	}
	tAccept := time.Since(start)
	for _, r := range c.Reject {
		if r.DLT == nil || r.Expr == nil || r.Savefile != nil || r.Skip != "" {
			continue
		}
		outcomes = append(outcomes, h.reject(r))
	}
	for _, a := range c.Apply {
		if a.Skip != "" {
			continue
		}
		outcomes = append(outcomes, h.apply(a)...)
	}
	h.report(outcomes)
	t.Logf("accept %v, all %v", tAccept.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	confCompareKnown(t, outcomes)
	confCheckGoals(t, outcomes)
}

type confKind int

const (
	confAcceptOpt confKind = iota
	confAcceptUnopt
	confRejectKind
	confApplyOpt
	confApplyUnopt
	confNumKinds
)

// confOutcome is the result of one check of one corpus entry.
type confOutcome struct {
	label  string // "accept_x_0/opt", "reject_y", "apply_z/unopt"
	dlt    string
	kind   confKind
	pass   bool
	reason string // why it fails
	errstr bool   // reject: our error contains libpcap's errstr
}

// confHarness holds what the cases share: the resolver, the packets per link
// type, and the figures for the report.
type confHarness struct {
	t       *testing.T
	res     Resolver
	packets map[string]*confDLTPackets

	ratios         []float64 // program length, ours/libpcap, optimized
	worstRatio     string
	selfDiffCases  []string // cases where libpcap's opt and unopt programs differ
	packetsRun     int
	caseNo         int
	mutantsTried   int
	mutantsKilled  int
	savefilesCache map[string]confSavefile
}

type confSavefile struct {
	pkts    []confPacket
	snaplen int
}

// confDLTPackets are the packets every case of one link type runs on.
type confDLTPackets struct {
	base  []confPacket    // captures, built packets, truncations
	seeds []confPacket    // where exploration starts
	known map[string]bool // keys of base
	live  *confDLTPackets // the same with live metadata variants
}

// packetsFor builds (once) the packets of dlt.
func (h *confHarness) packetsFor(dlt string, live bool) *confDLTPackets {
	pk := h.packets[dlt]
	if pk == nil {
		pk = confBuildPackets(h.t, dlt)
		h.packets[dlt] = pk
	}
	if !live {
		return pk
	}
	if pk.live == nil {
		l := &confDLTPackets{base: confWithLiveMetas(pk.base, dlt), seeds: confWithLiveMetas(pk.seeds, dlt)}
		l.known = confKeySet(l.base)
		pk.live = l
	}
	return pk.live
}

func confKeySet(pkts []confPacket) map[string]bool {
	m := make(map[string]bool, len(pkts))
	for _, p := range pkts {
		m[p.key()] = true
	}
	return m
}

// confCaptured returns the real packets for dlt: tcpdump's captures of
// that link type, or of a sibling type with the link header rewritten.
func confCaptured(t *testing.T, dlt string) []confPacket {
	read := func(name string) []confPacket {
		p, _, err := confReadSavefile(confPath(t, "packets", "tcpdump-"+name+".pcap"))
		if err != nil {
			t.Fatalf("packets: %v", err)
		}
		return p
	}
	switch dlt {
	case "LINUX_SLL2":
		var out []confPacket
		for _, p := range read("LINUX_SLL") {
			if len(p.data) < 16 {
				continue
			}
			d := p.data
			// SLL: pkttype hatype halen addr[8] proto → SLL2: proto rsvd ifindex hatype pkttype halen addr[8].
			h := confCat(d[14:16], []byte{0, 0}, confBE32(3), d[2:4], []byte{d[1], d[5]}, d[6:14])
			q := confCat(h, d[16:])
			out = append(out, confPacket{data: q, wire: p.wire + 4, origin: p.origin + " as SLL2"})
		}
		return out
	case "LOOP":
		var out []confPacket
		for _, p := range read("NULL") {
			if len(p.data) < 4 {
				continue
			}
			q := append([]byte(nil), p.data...)
			q[0], q[1], q[2], q[3] = q[3], q[2], q[1], q[0]
			out = append(out, confPacket{data: q, wire: p.wire, origin: p.origin + " as LOOP"})
		}
		return out
	case "RAW", "IPV4", "IPV6":
		out := read(dlt)
		// Plus IP packets from the Ethernet captures, link header cut off.
		n := 0
		for _, p := range read("EN10MB") {
			if len(p.data) > 34 && (p.data[12] == 0x08 && p.data[13] == 0x00 || p.data[12] == 0x86 && p.data[13] == 0xdd) && n < 600 {
				n++
				out = append(out, confPacket{data: p.data[14:], wire: p.wire - 14, origin: p.origin + " without Ethernet"})
			}
		}
		return out
	}
	return read(dlt)
}

// confBuildPackets assembles the packet corpus of one link type.
func confBuildPackets(t *testing.T, dlt string) *confDLTPackets {
	hdr := confLinkHeaderLen(dlt)
	captured := confCaptured(t, dlt)
	syn := confSynthetic(dlt)
	pk := &confDLTPackets{}
	pk.base = append(pk.base, captured...)
	stride := max(1, len(captured)/400)
	for i, p := range captured {
		if i%stride == 0 {
			pk.base = append(pk.base, confTruncations(p, hdr)...)
			pk.seeds = append(pk.seeds, p)
		}
	}
	pk.base = append(pk.base, syn...)
	for _, p := range syn {
		pk.base = append(pk.base, confTruncations(p, hdr)...)
	}
	pk.seeds = append(syn, pk.seeds...)
	// Drop duplicates.
	pk.known = map[string]bool{}
	uniq := pk.base[:0]
	for _, p := range pk.base {
		if k := p.key(); !pk.known[k] {
			pk.known[k] = true
			uniq = append(uniq, p)
		}
	}
	pk.base = uniq
	return pk
}

// confSafeCompile calls Compile and turns a panic into an error, so one bad case
// cannot stop the run.
func confSafeCompile(expr string, opts Options) (prog []bpf.Instruction, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return Compile(expr, opts)
}

// confParseExpected turns one of libpcap's listings into raw instructions.
func confParseExpected(text string) ([]bpf.RawInstruction, error) {
	prog, err := bpftest.ParseListing(text)
	if err != nil {
		return nil, err
	}
	return vmAssemble(prog)
}

// confCompiled is one of our programs, ready to run, or why it is not.
type confCompiled struct {
	raw []bpf.RawInstruction
	vm  *VM
	err error
}

// compile compiles expr with opts. allowLoops says that libpcap's program
// has backward jumps too (protochain), so ours may fail the kernel's
// checker for that reason: it filters in user space.
func (h *confHarness) compile(expr string, opts Options, allowLoops bool) confCompiled {
	prog, err := confSafeCompile(expr, opts)
	if err != nil {
		return confCompiled{err: fmt.Errorf("compile: %w", err)}
	}
	raw, err := vmAssemble(prog)
	if err != nil {
		return confCompiled{err: fmt.Errorf("assemble: %w", err)}
	}
	vm, err := newVMRaw(raw)
	if err != nil {
		return confCompiled{err: fmt.Errorf("not runnable: %w", err)}
	}
	// Every program must pass the kernel's checker, except for the loops
	// of protochain, which filter in user space as libpcap's do.
	if err := checkRaw(raw); err != nil && !(allowLoops && errors.Is(err, ErrBackwardJump)) {
		return confCompiled{err: fmt.Errorf("fails the kernel's checker: %w", err)}
	}
	return confCompiled{raw: raw, vm: vm}
}

// confDiff runs ours and theirs on pkts and describes the first difference.
func confDiff(ours, theirs *VM, pkts []confPacket) (n int, first string) {
	n, i := confDiffAt(ours, theirs, pkts)
	if n > 0 {
		p := pkts[i]
		first = fmt.Sprintf("%s (caplen %d wire %d): ours %d, libpcap %d", p.origin, len(p.data), p.wire,
			ours.Run(p.data, p.wire, p.meta), theirs.Run(p.data, p.wire, p.meta))
	}
	return n, first
}

// confDiffAt counts the packets on which a and b differ and returns the
// index of the first.
func confDiffAt(a, b *VM, pkts []confPacket) (n, first int) {
	first = -1
	for i, p := range pkts {
		if a.Run(p.data, p.wire, p.meta) != b.Run(p.data, p.wire, p.meta) {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

// accept runs one accept entry, optimized and not.
func (h *confHarness) accept(a confAccept) []confOutcome {
	opt := confOutcome{label: a.Label + "/opt", dlt: a.DLT, kind: confAcceptOpt}
	unopt := confOutcome{label: a.Label + "/unopt", dlt: a.DLT, kind: confAcceptUnopt}
	fail := func(reason string) []confOutcome {
		opt.reason, unopt.reason = reason, reason
		return []confOutcome{opt, unopt}
	}
	opts, err := h.acceptOptions(a)
	if err != nil {
		return fail(err.Error())
	}

	// libpcap's programs.
	if a.ExpectedUnopt == nil {
		return fail("corpus entry without expected_unopt")
	}
	theirUnopt, err := confParseExpected(*a.ExpectedUnopt)
	if err != nil {
		h.t.Errorf("%s: libpcap's unoptimized listing: %v", a.Label, err)
		return fail("bad listing")
	}
	var theirOpt []bpf.RawInstruction
	if !a.OptimizerRejects {
		if a.ExpectedOpt == nil {
			return fail("corpus entry without expected_opt")
		}
		if theirOpt, err = confParseExpected(*a.ExpectedOpt); err != nil {
			h.t.Errorf("%s: libpcap's optimized listing: %v", a.Label, err)
			return fail("bad listing")
		}
	}
	theirUnoptVM, err1 := newVMRaw(theirUnopt)
	var theirOptVM *VM
	if theirOpt != nil {
		theirOptVM, err = newVMRaw(theirOpt)
	}
	if err1 != nil || err != nil {
		h.t.Errorf("%s: libpcap's program does not load: %v %v", a.Label, err1, err)
		return fail("libpcap program does not load")
	}

	// Ours.
	unoptOpts := opts
	unoptOpts.NoOptimize = true
	ourOpt := h.compile(a.Expr, opts, theirOpt == nil || errors.Is(checkRaw(theirOpt), ErrBackwardJump))
	ourUnopt := h.compile(a.Expr, unoptOpts, errors.Is(checkRaw(theirUnopt), ErrBackwardJump))

	// The packets, plus those that flip the branches of all programs.
	pk := h.packetsFor(a.DLT, a.LinuxExt)
	progs := [][]bpf.RawInstruction{theirUnopt}
	for _, p := range [][]bpf.RawInstruction{theirOpt, ourOpt.raw, ourUnopt.raw} {
		if p != nil {
			progs = append(progs, p)
		}
	}
	made := confExplore(progs, pk.seeds, pk.known, 400)
	pkts := slices.Concat(pk.base, made)
	for _, p := range made {
		pkts = append(pkts, confTruncations(p, confLinkHeaderLen(a.DLT))...)
	}
	h.packetsRun += len(pkts)

	// libpcap against itself: its optimizer must not change a result. A
	// difference here is libpcap's, not ours; it is reported, not failed.
	if theirOptVM != nil {
		if n, first := confDiff(theirOptVM, theirUnoptVM, pkts); n > 0 {
			h.selfDiffCases = append(h.selfDiffCases, fmt.Sprintf("%s: %d packets, first %s", a.Label, n, strings.NewReplacer("ours", "optimized", "libpcap", "unoptimized").Replace(first)))
		}
	}

	judge := func(o *confOutcome, ours confCompiled, theirs *VM) {
		switch {
		case ours.err != nil:
			o.reason = ours.err.Error()
		default:
			n, first := confDiff(ours.vm, theirs, pkts)
			if n == 0 {
				o.pass = true
				return
			}
			o.reason = fmt.Sprintf("differs on %d of %d packets, first %s", n, len(pkts), first)
			if theirs == theirOptVM {
				if m, _ := confDiff(ours.vm, theirUnoptVM, pkts); m == 0 {
					o.reason = "optimizer: libpcap's optimizer changes verdicts: ours " + o.reason +
						" (libpcap's unoptimized program agrees with ours everywhere)"
				}
			}
		}
	}
	if h.caseNo++; h.caseNo%10 == 0 {
		h.mutants(theirUnopt, theirUnoptVM, pkts)
	}
	judge(&unopt, ourUnopt, theirUnoptVM)
	if unopt.pass {
		// The unoptimized program is the generator's: it must be
		// libpcap's instruction for instruction.
		if got, want := confListing(ourUnopt.raw), *a.ExpectedUnopt; got != want {
			unopt.pass = false
			unopt.reason = "same verdicts, but the listing differs from libpcap's: " + confFirstLineDiff(want, got)
		}
	}
	if a.OptimizerRejects {
		switch {
		case ourOpt.err == nil:
			opt.reason = "optimized compile succeeded; libpcap: expression rejects all packets"
		case errors.Is(ourOpt.err, ErrRejectsAll) || strings.Contains(ourOpt.err.Error(), "expression rejects all packets"):
			opt.pass = true
		default:
			opt.reason = fmt.Sprintf("want \"expression rejects all packets\", got %v", ourOpt.err)
		}
	} else {
		judge(&opt, ourOpt, theirOptVM)
		if ourOpt.err == nil {
			r := float64(len(ourOpt.raw)) / float64(len(theirOpt))
			h.ratios = append(h.ratios, r)
			if len(h.ratios) == 1 || r >= slices.Max(h.ratios) {
				h.worstRatio = fmt.Sprintf("%s (%d vs %d)", a.Label, len(ourOpt.raw), len(theirOpt))
			}
		}
	}
	return []confOutcome{opt, unopt}
}

// reject runs one reject entry: Compile (optimizing) must fail.
func (h *confHarness) reject(r confReject) confOutcome {
	o := confOutcome{label: r.Label, dlt: *r.DLT, kind: confRejectKind}
	lt, ok := confLinkType(*r.DLT)
	if !ok {
		o.reason = "link type not supported"
		return o
	}
	nm, err := confNetmask(r.Netmask)
	if err != nil {
		o.reason = err.Error()
		return o
	}
	_, err = confSafeCompile(*r.Expr, Options{LinkType: lt, Snaplen: 262144, Netmask: nm, Resolver: h.res})
	if err == nil {
		o.reason = fmt.Sprintf("compiled; libpcap: %s", r.Errstr)
		return o
	}
	if strings.HasPrefix(err.Error(), "panic: ") {
		o.reason = err.Error()
		return o
	}
	o.errstr = strings.Contains(err.Error(), r.Errstr)
	o.pass = o.errstr
	if !o.pass {
		o.reason = fmt.Sprintf("error %q, libpcap's contains %q", err, r.Errstr)
	}
	return o
}

// apply runs one apply entry over its savefile, optimized and not.
func (h *confHarness) apply(a confApply) []confOutcome {
	var outs []confOutcome
	if h.savefilesCache == nil {
		h.savefilesCache = map[string]confSavefile{}
	}
	sf, ok := h.savefilesCache[a.Savefile]
	if !ok {
		pkts, snaplen, err := confReadSavefile(confPath(h.t, "savefiles", a.Savefile))
		if err != nil {
			h.t.Errorf("%s: %v", a.Label, err)
		}
		sf = confSavefile{pkts, snaplen}
		h.savefilesCache[a.Savefile] = sf
	}
	nm, err := confNetmask(a.Netmask)
	lt, ok := confLinkType(a.SavefileDLT)
	if !ok && err == nil {
		err = fmt.Errorf("link type %s not supported", a.SavefileDLT)
	}
	for _, noOpt := range []bool{false, true} {
		o := confOutcome{label: a.Label + "/opt", dlt: a.SavefileDLT, kind: confApplyOpt}
		if noOpt {
			o.label, o.kind = a.Label+"/unopt", confApplyUnopt
		}
		outs = append(outs, o)
		oo := &outs[len(outs)-1]
		if err != nil {
			oo.reason = err.Error()
			continue
		}
		c := h.compile(a.Expr, Options{LinkType: lt, Snaplen: sf.snaplen, Netmask: nm, NoOptimize: noOpt, Resolver: h.res}, strings.Contains(a.Expr, "protochain"))
		if c.err != nil {
			oo.reason = c.err.Error()
			continue
		}
		if len(sf.pkts) != len(a.Results) {
			oo.reason = fmt.Sprintf("savefile has %d packets, results %d", len(sf.pkts), len(a.Results))
			continue
		}
		var bad []string
		for i, p := range sf.pkts {
			if got := c.vm.Run(p.data, p.wire, nil); got != a.Results[i] {
				bad = append(bad, fmt.Sprintf("packet %d: ours %d, libpcap %d", i, got, a.Results[i]))
			}
		}
		if len(bad) > 0 {
			oo.reason = fmt.Sprintf("%d of %d packets differ, first %s", len(bad), len(sf.pkts), bad[0])
			continue
		}
		oo.pass = true
	}
	return outs
}
