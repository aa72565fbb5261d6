package interfaces

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

func ptr[T any](v T) *T { return &v }

// The configuration's look-back rings are listed with the memory they
// take; when the daemon's API answers (its token from the
// configuration), with what each holds now. A ring on "any", which the
// host does not list, gets a row of its own.
func TestInterfacesLookback(t *testing.T) {
	const token = "s3cr3t-t0ken-for-the-api"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/agent" || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":"no"}`, http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(httpapi.AgentInfo{Interfaces: []httpapi.InterfaceInfo{
			{Name: "lo", Lookback: 42.5, LookbackBytes: 3 << 20},
		}})
	}))
	defer api.Close()
	_, port, _ := net.SplitHostPort(api.Listener.Addr().String())
	rings := "[[interface]]\nname = \"lo\"\nlookback = 8388608\n\n[[interface]]\nname = \"any\"\nlookback = 1048576\nlookbacksnap = 96\n"
	for _, tc := range []struct {
		name, http string
		live       bool
	}{
		{"daemon answers", fmt.Sprintf("[http]\nlisten = \"127.0.0.1:%s\"\ntoken = %q\n\n", port, token), true},
		{"no daemon", "[http]\nlisten = \"\"\n[redis]\nlisten = true\n\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, tc.http+rings)
			m := interfacesJSON(t, cfg)
			lo, any := m["lo"].Lookback, m["any"].Lookback
			want := agent.LookbackRingBytes(agent.LookbackConfig{Interface: "lo", Bytes: 8 << 20, Snaplen: 500})
			if lo == nil || lo.Bytes != 8<<20 || lo.RingBytes != want {
				t.Fatalf("lo's look-back %+v, want 8 MiB in a ring of %d", lo, want)
			}
			if any == nil || any.Bytes != 1<<20 || m["any"].LinkType != "LINUX_SLL2" {
				t.Errorf("any: %+v", m["any"])
			}
			if tc.live != (lo.Seconds != nil) || tc.live && (*lo.Seconds != 42.5 || *lo.HeldBytes != 3<<20) {
				t.Errorf("lo's look-back %+v, live %v", lo, tc.live)
			}
			code, out, errs := runInterfacesCapture(Options{Config: cfg})
			if code != 0 {
				t.Fatalf("status %d: %s", code, errs)
			}
			cell := "8MiB"
			if tc.live {
				cell = "8MiB(3MiB,42.5s)"
			}
			if !strings.Contains(out, " "+cell+"\n") {
				t.Errorf("table lacks lo's %s:\n%s", cell, out)
			}
		})
	}
}
