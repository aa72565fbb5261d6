package capture

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/pktsummary"
)

// lines formats the one line per frame that is printed without -w, as
// tcpdump -nn prints it: the timestamp (as -t ... -ttttt choose), the
// interface when a capture has several, and tcpdump's decoding of the
// frame (pktsummary.Printer). Each line is appended into one reused
// buffer: a line allocates nothing.
type lines struct {
	format      int   // number of -t
	first, prev int64 // timestamps of the first and the previous line
	seen        bool
	names       ifNames
	printer     *pktsummary.Printer
	buf         []byte
}

func newLines(o *Options) *lines {
	l := &lines{format: o.TimeFormat}
	l.printer = pktsummary.NewPrinter(o.printerOptions(), l.names.lookup)
	return l
}

// line returns the line of one frame, newline included, valid until the
// next call.
func (l *lines) line(linkType uint32, ts int64, where string, data []byte, wire int) []byte {
	b := l.stamp(l.buf[:0], ts)
	b = append(b, where...)
	b = l.printer.Append(b, linkType, data, wire)
	b = append(b, '\n')
	l.buf = b
	return b
}

// stamp appends the timestamp and the space after it (nothing for -t).
func (l *lines) stamp(b []byte, ts int64) []byte {
	if !l.seen {
		l.first, l.prev, l.seen = ts, ts, true
	}
	if l.first/1e3 == 0 {
		// tcpdump takes a reference time of 0 for none yet and takes
		// the next frame's.
		l.first = ts
	}
	prev := l.prev
	l.prev = ts
	switch l.format {
	case 1:
		return b
	case 2:
		s := floorDiv(ts, 1e9)
		b = strconv.AppendInt(b, s, 10)
		b = append(b, '.')
		b = appendPadded(b, (ts-s*1e9)/1e3, 6)
		return append(b, ' ')
	case 3:
		return append(delta(b, ts-prev), ' ')
	case 4:
		return time.Unix(0, ts).AppendFormat(b, "2006-01-02 15:04:05.000000 ")
	case 5:
		return append(delta(b, ts-l.first), ' ')
	}
	return time.Unix(0, ts).AppendFormat(b, "15:04:05.000000 ")
}

// delta appends tcpdump's -ttt/-ttttt time difference: a sign (" " or
// "-") and hours:minutes:seconds.microseconds, the hours of the day only
// (tcpdump drops whole days).
func delta(b []byte, ns int64) []byte {
	sign := byte(' ')
	if ns < 0 {
		sign, ns = '-', -ns
	}
	us := ns / 1e3
	s := us / 1e6
	b = append(b, sign)
	b = appendPadded(b, s/3600%24, 2)
	b = append(b, ':')
	b = appendPadded(b, s/60%60, 2)
	b = append(b, ':')
	b = appendPadded(b, s%60, 2)
	b = append(b, '.')
	return appendPadded(b, us%1e6, 6)
}

// appendPadded appends v (not negative) with leading zeros to width digits.
func appendPadded(b []byte, v int64, width int) []byte {
	for n, x := 1, v/10; n < width; n, x = n+1, x/10 {
		if x == 0 {
			b = append(b, '0')
		}
	}
	return strconv.AppendInt(b, v, 10)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ifNames resolves the interface indexes of LINUX_SLL2 headers (-i any)
// to names, asking the host once per index.
type ifNames struct {
	mu    sync.Mutex
	known map[int]string
}

func (n *ifNames) lookup(index int) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := n.known[index]; ok {
		return name, name != ""
	}
	if n.known == nil {
		n.known = map[int]string{}
	}
	name := ""
	if ifc, err := net.InterfaceByIndex(index); err == nil {
		name = ifc.Name
	}
	n.known[index] = name
	return name, name != ""
}
