package capture

import (
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// linkTypeText is a link type as tcpdump names it: "EN10MB (Ethernet)",
// or the number when it has no name.
func linkTypeText(linkType uint32) string {
	if t := bpfcompile.LinkType(linkType); t.Name() != "" {
		return t.Name() + " (" + t.Description() + ")"
	}
	return fmt.Sprintf("%d", linkType)
}

// listeningLine is tcpdump's line for an armed capture.
func listeningLine(info agent.CaptureInfo) string {
	return fmt.Sprintf("listening on %s, link-type %s, snapshot length %d bytes", info.Interface, linkTypeText(info.LinkType), info.Snaplen)
}

// readingLine is tcpdump's line for a file opened with -r.
func readingLine(name string, linkType uint32, snaplen int) string {
	return fmt.Sprintf("reading from file %s, link-type %s, snapshot length %d", name, linkTypeText(linkType), snaplen)
}

// counterLines are tcpdump's closing counters (with its singular forms).
func counterLines(sum agent.CaptureSummary) string {
	plural := func(n uint64) string {
		if n == 1 {
			return ""
		}
		return "s"
	}
	return fmt.Sprintf("%d packet%s captured\n%d packet%s received by filter\n%d packet%s dropped by kernel\n",
		sum.Packets, plural(sum.Packets), sum.Received, plural(sum.Received), sum.KernelDrops, plural(sum.KernelDrops))
}
