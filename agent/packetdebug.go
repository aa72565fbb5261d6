package agent

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/pktsummary"
)

// maxDebugFrames is how many frames packetdebug logs per interface
// capture. A request may ask for packetdebug, and a capture on a busy link
// may hold millions of frames: past this many, frames are only counted, and
// one line at the end of the capture says how many were not logged.
const maxDebugFrames = 1000

// packetLog logs the frames of one interface capture for packetdebug, the
// first maxDebugFrames of them.
type packetLog struct {
	log      *slog.Logger
	linkType uint32
	logged   int
	skipped  uint64
}

// frame logs one frame (data cut to the snap length; wire is its length on
// the wire), or counts it once the limit is reached.
func (p *packetLog) frame(ts int64, data []byte, wire int) {
	if p.logged >= maxDebugFrames {
		p.skipped++
		return
	}
	p.logged++
	p.log.Info("packet", "time", time.Unix(0, ts).UTC(), "caplen", len(data), "len", wire,
		"summary", pktsummary.Summarize(p.linkType, data))
}

// finish logs how many frames were not logged, if any were not.
func (p *packetLog) finish() {
	if p.skipped > 0 {
		p.log.Info(fmt.Sprintf("packetdebug: %d more frames not logged", p.skipped),
			"not_logged", p.skipped, "logged", p.logged)
	}
}
