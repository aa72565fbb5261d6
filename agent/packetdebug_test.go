package agent

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// TestPacketDebugLimit: packetdebug logs the first 1000 frames of an
// interface capture, then one line at the end counting the frames it did
// not log; the request's flag and the configuration's behave alike.
func TestPacketDebugLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		debug     string
		packets   int
		wantLines int
		wantMore  int // frames the summary line counts; 0: no summary line
	}{
		{name: "few frames", debug: `,"packetdebug":true`, packets: 10, wantLines: 10},
		{name: "exactly the limit", debug: `,"packetdebug":true`, packets: 1000, wantLines: 1000},
		{name: "one over", debug: `,"packetdebug":true`, packets: 1001, wantLines: 1000, wantMore: 1},
		{name: "flood", debug: `,"packetdebug":true`, packets: 5000, wantLines: 1000, wantMore: 4000},
		{name: "configured for every request", cfg: Config{PacketDebug: true}, packets: 1500, wantLines: 1000, wantMore: 500},
		{name: "off", packets: 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestAgent(t, tc.cfg, WithOpener(func(string, afpacket.Config) (Handle, error) {
				return &ringHandle{pkts: testPackets(64)}, nil
			}))
			submit(t, ta, fmt.Sprintf(`{"node":"any","interface":["eth0"],"packets":%d%s}`, tc.packets, tc.debug))
			if r := ta.result(t); r.Status != StatusOK || r.Packets != uint64(tc.packets) {
				t.Fatalf("result %+v, want ok with %d packets", r, tc.packets)
			}
			logs := ta.logText()
			if n := strings.Count(logs, "msg=packet "); n != tc.wantLines {
				t.Errorf("%d frame lines logged, want %d", n, tc.wantLines)
			}
			summaries := strings.Count(logs, "more frames not logged")
			want := fmt.Sprintf(`msg="packetdebug: %d more frames not logged"`, tc.wantMore)
			switch {
			case tc.wantMore == 0 && summaries != 0:
				t.Errorf("%d summary lines, want none", summaries)
			case tc.wantMore != 0 && (summaries != 1 || !strings.Contains(logs, want)):
				t.Errorf("%d summary lines, want one: %s", summaries, want)
			}
			// The summary comes after the last frame line and before the
			// capture's end.
			if tc.wantMore != 0 {
				sum, last, fin := strings.Index(logs, want), strings.LastIndex(logs, "msg=packet "), strings.Index(logs, `msg="capture finished"`)
				if !(last < sum && sum < fin) {
					t.Errorf("summary at %d, last frame line at %d, capture finished at %d", sum, last, fin)
				}
			}
		})
	}
}
