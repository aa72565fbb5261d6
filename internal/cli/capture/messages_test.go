package capture

import (
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

func TestCaptureMessages(t *testing.T) {
	tests := []struct {
		info agent.CaptureInfo
		want string
	}{
		{agent.CaptureInfo{Interface: "eth0", LinkType: 1, Snaplen: 262144}, "listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes"},
		{agent.CaptureInfo{Interface: "tun0", LinkType: 101, Snaplen: 96}, "listening on tun0, link-type RAW (Raw IP), snapshot length 96 bytes"},
		{agent.CaptureInfo{Interface: "ppp0", LinkType: 113, Snaplen: 500}, "listening on ppp0, link-type LINUX_SLL (Linux cooked v1), snapshot length 500 bytes"},
		{agent.CaptureInfo{Interface: "any", LinkType: 276, Snaplen: 262144}, "listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes"},
		{agent.CaptureInfo{Interface: "x", LinkType: 147, Snaplen: 1}, "listening on x, link-type 147, snapshot length 1 bytes"},
	}
	for _, tt := range tests {
		if got := listeningLine(tt.info); got != tt.want {
			t.Errorf("listeningLine(%+v) = %q, want %q", tt.info, got, tt.want)
		}
	}
	got := counterLines(agent.CaptureSummary{Packets: 1, Received: 0, KernelDrops: 2})
	if want := "1 packet captured\n0 packets received by filter\n2 packets dropped by kernel\n"; got != want {
		t.Errorf("counterLines = %q, want %q", got, want)
	}
}
