package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestFilterNamesOffDaemon runs the daemon with [general] filternames =
// false, its DNS pointed at a server that never answers: a request whose
// filter names a host or a port is refused at once with an error naming
// the field and the name, no DNS query is sent, and numeric filters work.
func TestFilterNamesOffDaemon(t *testing.T) {
	pair := netns.NewVethPair(t)
	port := testenv.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: port, localDir: t.TempDir(), general: []string{"filternames = false"}})
	d, dns := startDaemonSlowDNS(t, cfg)
	api := apiURL(port)
	waitHTTP(t, d, api)
	req := func(bpf string) string {
		return fmt.Sprintf(`{"node":"any","interface":[%q],"bpf":%q,"timeout":1}`, pair.Host, bpf)
	}
	tests := []struct {
		bpf    string
		status int
		want   []string // in the error
	}{
		{bpf: "host example", status: http.StatusBadRequest, want: []string{"bpf: ", `host name "example" refused`, "filternames = false"}},
		{bpf: "udp and src host db.example.net", status: http.StatusBadRequest, want: []string{"bpf: ", `host name "db.example.net"`}},
		{bpf: "tcp port http", status: http.StatusBadRequest, want: []string{"bpf: ", `port name "http"`}},
		{bpf: "host 198.18.0.1 and udp port 9", status: http.StatusAccepted},
		{bpf: "net 198.18.0.0/15 and not ip proto 6", status: http.StatusAccepted},
	}
	for _, tt := range tests {
		code, reply := httpPost(t, api+"/v1/captures", req(tt.bpf))
		errText, _ := reply["error"].(string)
		if code != tt.status {
			t.Errorf("filter %q: %d %q, want %d", tt.bpf, code, errText, tt.status)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(errText, w) {
				t.Errorf("filter %q: error %q does not say %q", tt.bpf, errText, w)
			}
		}
	}
	if n := dns.Queries(); n != 0 {
		t.Errorf("%d DNS queries with filter names turned off", n)
	}
}
