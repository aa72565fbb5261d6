package capture

import (
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// listeningLine is tcpdump's line for an armed capture.
func listeningLine(info agent.CaptureInfo) string {
	lt := fmt.Sprintf("%d", info.LinkType)
	if t := bpfcompile.LinkType(info.LinkType); t.Name() != "" {
		lt = t.Name() + " (" + t.Description() + ")"
	}
	return fmt.Sprintf("listening on %s, link-type %s, snapshot length %d bytes", info.Interface, lt, info.Snaplen)
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
