package agent

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile/capfiletest"
)

// TestMergedRequest runs merged requests on fake handles through Submit:
// one file is delivered, with one IDB and one ISB per interface and the
// frames in time order, and every interface gets its own Result naming it.
func TestMergedRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		target   string // the request's interface or alias field
		limits   string
		eth1     []scripted
		packets  uint64 // in the file
		reason   StopReason
		fileName string // before -<unix>-<id>.pcapng
		bothOK   bool   // both interfaces must have frames in the file
	}{
		{"interfaces, packet limit", `"interface":["eth0","eth1"]`, `"packets":6`,
			frames(4, 120, 2*time.Millisecond), 6, StopPackets, "cap1.example.net-eth0+eth1", true},
		{"alias, byte limit", `"alias":["both"]`, `"bytes":600`, // header 128 + EPBs of 132 (eth0) or 152 (eth1): the 4th crosses 600
			frames(4, 120, 2*time.Millisecond), 4, StopBytes, "cap1.example.net-both", false},
		{"one interface empty", `"interface":["eth0","eth1"]`, `"packets":4`,
			nil, 4, StopPackets, "cap1.example.net-eth0+eth1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestAgent(t, Config{})
			// eth0's frames are 100 bytes, eth1's 120: the file tells them apart.
			ta.host.scripts["eth0"] = frames(4, 100, 2*time.Millisecond)
			ta.host.scripts["eth1"] = tc.eth1
			ta.host.block["eth0"], ta.host.block["eth1"] = true, true
			id := submit(t, ta, `{"node":"any",`+tc.target+`,"merge":true,`+tc.limits+`}`)
			rs := []Result{ta.result(t), ta.result(t)}
			if rs[0].Interface != "eth0" {
				rs[0], rs[1] = rs[1], rs[0]
			}
			caps, data := ta.sink.captures()
			if len(caps) != 1 {
				t.Fatalf("%d files delivered, want one", len(caps))
			}
			c := caps[0]
			wantName := tc.fileName + "-" + strconv.FormatInt(c.Started.Unix(), 10) + "-" + id + ".pcapng"
			if c.FileName != wantName || c.Format != FormatPcapNG || c.Packets != tc.packets || c.Interface != "eth0+eth1" {
				t.Errorf("delivered %s (%s, %d packets, interface %s), want %s with %d packets",
					c.FileName, c.Format, c.Packets, c.Interface, wantName, tc.packets)
			}
			var sum uint64
			for i, r := range rs {
				if len(r.Locations) != 1 || r.Locations[0] != "mem://"+c.FileName || r.StopReason != tc.reason || r.ID != id {
					t.Errorf("result %d: %+v, want location mem://%s, stop %s", i, r, c.FileName, tc.reason)
				}
				sum += r.Packets
			}
			if sum != tc.packets {
				t.Errorf("results %+v / %+v: want %d packets in all", rs[0], rs[1], tc.packets)
			}
			for i, r := range rs {
				// The fake handles race: which interface fills the file
				// first is up to the scheduler, and the status follows.
				want := StatusOK
				if r.Packets == 0 {
					want = StatusEmpty
				}
				if r.Status != want || tc.bothOK && r.Packets == 0 {
					t.Errorf("result %d: %d packets, status %s", i, r.Packets, r.Status)
				}
			}

			f, err := capfiletest.ParseNG(data[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Interfaces) != 2 || f.Interfaces[0].Name != "eth0" || f.Interfaces[1].Name != "eth1" || f.Interfaces[0].Tsresol != 9 {
				t.Errorf("interfaces %+v", f.Interfaces)
			}
			if len(f.Packets) != int(tc.packets) {
				t.Fatalf("file holds %d packets, want %d", len(f.Packets), tc.packets)
			}
			perIf := make([]uint64, 2)
			for i, p := range f.Packets {
				if want := 100 + 20*int(p.IfID); len(p.Data) != want {
					t.Errorf("packet %d of interface %d has %d bytes, want %d", i, p.IfID, len(p.Data), want)
				}
				if i > 0 && p.TS < f.Packets[i-1].TS {
					t.Errorf("packet %d is older than the one before it", i)
				}
				perIf[p.IfID]++
			}
			if len(f.Stats) != 2 {
				t.Fatalf("%d ISBs, want 2", len(f.Stats))
			}
			for i, st := range f.Stats {
				if st.IfID != uint32(i) || st.Delivered != rs[i].Packets || st.Delivered != perIf[i] ||
					!st.HasKernel || st.Received != 100 || st.Drops != 2 {
					t.Errorf("ISB %d: %+v, want interface %d, %d delivered, the fake's counters", i, st, i, perIf[i])
				}
				if rs[i].Bytes != perIf[i]*(32+uint64(100+20*i)) {
					t.Errorf("result %d: %d bytes, want its EPBs' %d", i, rs[i].Bytes, perIf[i]*(32+uint64(100+20*i)))
				}
			}
			if n, mem := ta.Running(); n != 0 || mem != 0 {
				t.Errorf("after the results %d captures and %d bytes are still admitted", n, mem)
			}
		})
	}
}

// TestMergedRequestCancel ends a merged capture with Cancel: both
// interfaces stop, and what they held is delivered as one file.
func TestMergedRequestCancel(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = frames(2, 100, time.Millisecond)
	ta.host.scripts["eth1"] = frames(3, 120, time.Millisecond)
	ta.host.block["eth0"], ta.host.block["eth1"] = true, true
	id := submit(t, ta, `{"node":"any","interface":["eth0","eth1"],"merge":true}`)
	ta.host.waitBlocked(t, "eth0")
	ta.host.waitBlocked(t, "eth1")
	if n, _ := ta.Running(); n != 2 {
		t.Errorf("%d captures admitted, want 2", n)
	}
	if err := ta.Cancel(id); err != nil {
		t.Fatal(err)
	}
	rs := []Result{ta.result(t), ta.result(t)}
	caps, data := ta.sink.captures()
	if len(caps) != 1 {
		t.Fatalf("%d files delivered, want one", len(caps))
	}
	for _, r := range rs {
		if r.StopReason != StopCancelled || r.Status != StatusOK || len(r.Locations) != 1 {
			t.Errorf("result %+v", r)
		}
	}
	if f, err := capfiletest.ParseNG(data[0]); err != nil || len(f.Packets) != 5 {
		t.Errorf("file: %v, %+v", err, f)
	}
}

// TestMergedRequestOpenFails: an interface that cannot be opened gets an
// error Result; the other still captures into the merged file.
func TestMergedRequestOpenFails(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = frames(3, 100, time.Millisecond)
	ta.host.block["eth0"] = true
	ta.Agent.open = func(ifname string, cfg afpacket.Config) (Handle, error) {
		if ifname == "eth1" {
			return nil, errors.New("no such device")
		}
		return ta.host.open(ifname, cfg)
	}
	submit(t, ta, `{"node":"any","interface":["eth0","eth1"],"merge":true,"packets":3}`)
	rs := []Result{ta.result(t), ta.result(t)}
	if rs[0].Interface != "eth0" {
		rs[0], rs[1] = rs[1], rs[0]
	}
	if rs[0].Status != StatusOK || rs[0].Packets != 3 || rs[1].Status != StatusError || !strings.Contains(rs[1].Error, "no such device") {
		t.Errorf("results %+v / %+v", rs[0], rs[1])
	}
	_, data := ta.sink.captures()
	f, err := capfiletest.ParseNG(data[0])
	if err != nil || len(f.Interfaces) != 2 || len(f.Packets) != 3 || len(f.Stats) != 1 {
		t.Errorf("file: %v, %+v", err, f)
	}
}

// TestMergedRequestRejected: merge with pcap is refused at decoding.
func TestMergedRequestRejected(t *testing.T) {
	ta := newTestAgent(t, Config{})
	_, err := ta.Submit(t.Context(), []byte(`{"node":"any","interface":["eth0","eth1"],"merge":true,"format":"pcap"}`), "test")
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "merge" {
		t.Fatalf("Submit = %v, want a ValidationError for merge", err)
	}
	if r := ta.result(t); r.Status != StatusRejected || !strings.Contains(r.Error, "merge") {
		t.Errorf("result %+v", r)
	}
}
