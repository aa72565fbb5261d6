package agent

import (
	"strconv"
	"strings"
	"time"
)

// Tags returns the seed's tag string for a capture (docs/design.md "Tags"):
//
//	customer:<c>,alertid:<n>,<request tags>,alias:<a>,node:<host>,interface:<if>,snaplength:<n>
//
// with the absent parts (no customer, alertid 0, no tags, no alias) left out.
func Tags(r *Request, alias, node, iface string, snaplen int) string {
	var b strings.Builder
	add := func(parts ...string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	if r.Customer != "" {
		add("customer:", r.Customer)
	}
	if r.AlertID != 0 {
		add("alertid:", strconv.FormatInt(r.AlertID, 10))
	}
	if r.Tags != "" {
		add(r.Tags)
	}
	if alias != "" {
		add("alias:", alias)
	}
	add("node:", node)
	add("interface:", iface)
	add("snaplength:", strconv.Itoa(snaplen))
	return b.String()
}

// FileName returns the local file name of a capture,
// <host>-<iface>-<unix seconds>-<id>.pcap (or .pcapng).
func FileName(host, iface string, started time.Time, id, format string) string {
	ext := ".pcap"
	if format == FormatPcapNG {
		ext = ".pcapng"
	}
	return host + "-" + iface + "-" + strconv.FormatInt(started.Unix(), 10) + "-" + id + ext
}
