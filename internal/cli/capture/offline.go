package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/savefile"
)

// offline reads the -r file (stdin for "-") and applies the filter with
// the project's VM, compiled for each interface's link type as libpcap
// compiles for a savefile; the packets that pass go where a live
// capture's would: lines on stdout, or the -w file. -c and --bytes stop
// it as they stop a capture.
func (r *run) offline(ctx context.Context, stdin io.Reader, expr string) int {
	o := r.o
	in := stdin
	if o.Read != "-" {
		f, err := os.Open(o.Read)
		if err != nil {
			return r.fail(err)
		}
		defer f.Close()
		in = f
	}
	rd, err := savefile.NewReader(in)
	if err != nil {
		return r.fail(fmt.Errorf("%s: %w", o.Read, err))
	}
	first := rd.Interfaces()[0]
	fmt.Fprintln(r.stderr, readingLine(o.Read, first.LinkType, first.Snaplen))

	filters := &offlineFilters{expr: expr}
	if _, err := filters.get(rd, 0); err != nil {
		return r.fail(r.filterError(err, expr, 0))
	}
	ow, err := r.offlineOutput(rd)
	if err != nil {
		return r.fail(err)
	}
	defer ow.abort()

	maxPackets, maxBytes := o.Spec.Packets, o.Spec.Bytes
	var count int64
	var readErr error
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			break
		}
		p, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = fmt.Errorf("%s: %w", o.Read, err)
			}
			break
		}
		vm, err := filters.get(rd, p.Interface)
		if err != nil {
			readErr = r.filterError(err, expr, 0)
			break
		}
		if vm != nil && vm.Run(p.Data, p.Length, nil) == 0 {
			continue
		}
		if err := ow.packet(rd, p); err != nil {
			readErr = err
			break
		}
		count++
		if (maxPackets > 0 && count >= maxPackets) || (maxBytes > 0 && ow.bytes() >= maxBytes) {
			break
		}
	}
	status := 0
	if readErr != nil { // what was read before it is kept, as tcpdump does
		status = r.fail(readErr)
	}
	if err := ow.finish(); err != nil {
		status = r.fail(err)
	}
	return status
}

// offlineFilters compiles the filter once per link type and snap length
// of the file's interfaces.
type offlineFilters struct {
	expr string
	vms  map[savefile.Interface]*bpfcompile.VM
}

// get returns interface i's VM, nil for no filter.
func (f *offlineFilters) get(rd *savefile.Reader, i int) (*bpfcompile.VM, error) {
	if f.expr == "" {
		return nil, nil
	}
	ifc := rd.Interfaces()[i]
	key := savefile.Interface{LinkType: ifc.LinkType, Snaplen: ifc.Snaplen, BigEndian: ifc.BigEndian}
	if vm, ok := f.vms[key]; ok {
		return vm, nil
	}
	// As libpcap compiles for a savefile: its link type and snap length,
	// netmask 0, and for DLT_NULL the address family of the machine that
	// wrote it, in its byte order.
	prog, err := bpfcompile.Compile(f.expr, bpfcompile.Options{
		LinkType: bpfcompile.LinkType(ifc.LinkType), Snaplen: ifc.Snaplen,
		OfflineAF: true, SwappedAF: ifc.BigEndian != hostBigEndian(),
	})
	if err != nil {
		return nil, err
	}
	vm, err := bpfcompile.NewVM(prog)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", f.expr, err)
	}
	if f.vms == nil {
		f.vms = map[savefile.Interface]*bpfcompile.VM{}
	}
	f.vms[key] = vm
	return vm, nil
}

// hostBigEndian reports the byte order libpcap would compare a savefile's
// with.
func hostBigEndian() bool {
	return binary.NativeEndian.Uint16([]byte{0, 1}) == 1
}

// offlineWriter is where -r's packets go: the lines, or a file written as
// it is read.
type offlineWriter struct {
	r     *run
	out   *output
	file  *atomicFile
	wr    *savefile.Writer
	ids   map[int]int // file interface -> output interface (pcapng)
	count *countWriter
}

func (r *run) offlineOutput(rd *savefile.Reader) (*offlineWriter, error) {
	o := r.o
	ow := &offlineWriter{r: r, ids: map[int]int{}}
	var dst io.Writer
	switch o.Write {
	case "":
		ow.out = newOutput(r.stdout, o.PacketBuffered, nil)
		if o.Spec.Bytes > 0 { // --bytes counts the file -w would write
			dst = io.Discard
		}
	case "-":
		ow.out = newOutput(r.stdout, o.PacketBuffered, nil)
		dst = ow.out
	default:
		f, err := createAtomic(o.Write, o.PacketBuffered)
		if err != nil {
			return nil, err
		}
		ow.file = f
		ow.out = newOutput(f.f, o.PacketBuffered, nil)
		dst = ow.out
	}
	if dst == nil {
		return ow, nil
	}
	ow.count = &countWriter{w: dst}
	var err error
	first := rd.Interfaces()[0]
	if o.Spec.Format == agent.FormatPcapNG {
		ow.wr, err = savefile.NewPcapngWriter(ow.count)
	} else {
		ow.wr, err = savefile.NewPcapWriter(ow.count, first.LinkType, first.Snaplen)
		ow.ids[0] = 0
	}
	if err != nil {
		ow.abort()
		return nil, err
	}
	ow.out.written()
	return ow, nil
}

// packet writes one packet that passed the filter.
func (ow *offlineWriter) packet(rd *savefile.Reader, p *savefile.Packet) error {
	ifs := rd.Interfaces()
	if ow.wr == nil {
		_, _ = ow.out.Write(ow.r.lines.line(ifs[p.Interface].LinkType, p.Timestamp, "", p.Data, p.Length))
		ow.out.written()
		return nil
	}
	id, ok := ow.ids[p.Interface]
	if !ok {
		ifc := ifs[p.Interface]
		if ow.r.o.Spec.Format != agent.FormatPcapNG {
			if ifc.LinkType != ifs[0].LinkType {
				return fmt.Errorf("%s: interface %d has link type %s, the first %s: a pcap file has one; write pcapng (--format pcapng)",
					ow.r.o.Read, p.Interface, linkTypeText(ifc.LinkType), linkTypeText(ifs[0].LinkType))
			}
			id = 0 // one link type: one interface, as tcpdump writes it
		} else {
			var err error
			if id, err = ow.wr.AddInterface(ifc); err != nil {
				return err
			}
		}
		ow.ids[p.Interface] = id
	}
	if err := ow.wr.WritePacket(id, p.Timestamp, p.Data, p.Length); err != nil {
		return err
	}
	ow.out.written()
	return nil
}

// bytes is the size of the file so far.
func (ow *offlineWriter) bytes() int64 {
	if ow.count == nil {
		return 0
	}
	return ow.count.n
}

// finish flushes the output and puts the file in place.
func (ow *offlineWriter) finish() error {
	err := ow.out.close()
	if err != nil && ow.file == nil {
		err = fmt.Errorf("writing to stdout: %w", err)
	}
	if err == nil && ow.file != nil {
		err = ow.file.finish()
	}
	return err
}

func (ow *offlineWriter) abort() {
	if ow.file != nil {
		ow.file.abort()
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
