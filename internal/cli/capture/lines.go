package capture

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/pktsummary"
)

// lines formats the one line per frame that is printed without -w:
// tcpdump's timestamp (as -t ... -ttttt choose), the interface when a
// capture has several, the frame's summary and its length on the wire.
type lines struct {
	format      int   // number of -t
	first, prev int64 // timestamps of the first and the previous line
	seen        bool
	names       ifNames
}

// line returns the line of one frame, newline included.
func (l *lines) line(linkType uint32, ts int64, where string, data []byte, wire int) string {
	return l.stamp(ts) + where + pktsummary.Describe(linkType, data, l.names.lookup) + fmt.Sprintf(", length %d\n", wire)
}

// stamp is the timestamp and the space after it ("" for -t).
func (l *lines) stamp(ts int64) string {
	if !l.seen {
		l.first, l.prev, l.seen = ts, ts, true
	}
	prev := l.prev
	l.prev = ts
	switch l.format {
	case 1:
		return ""
	case 2:
		return fmt.Sprintf("%d.%06d ", floorDiv(ts, 1e9), (ts-floorDiv(ts, 1e9)*1e9)/1e3)
	case 3:
		return delta(ts-prev) + " "
	case 4:
		return time.Unix(0, ts).Format("2006-01-02 15:04:05.000000 ")
	case 5:
		return delta(ts-l.first) + " "
	}
	return time.Unix(0, ts).Format("15:04:05.000000 ")
}

// delta is tcpdump's -ttt/-ttttt time difference: a sign (" " or "-") and
// hours:minutes:seconds.microseconds.
func delta(ns int64) string {
	sign := " "
	if ns < 0 {
		sign, ns = "-", -ns
	}
	us := ns / 1e3
	s := us / 1e6
	return fmt.Sprintf("%s%02d:%02d:%02d.%06d", sign, s/3600, s/60%60, s%60, us%1e6)
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
