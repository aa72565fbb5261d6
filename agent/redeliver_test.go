package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// spoolOf is an agent's spool that keeps nothing: it says where the
// capture was spooled, and calls onSpool (the spool retrying at once) before
// it returns.
type spoolOf struct {
	onSpool func(c *Capture, loc string)
}

func (spoolOf) Name() string { return "spool" }
func (s spoolOf) Deliver(_ context.Context, c *Capture) (string, error) {
	loc := "/var/spool/pcapdaemon/" + c.FileName
	if s.onSpool != nil {
		s.onSpool(c, loc)
	}
	return loc, nil
}

// redelivery is what the spool reports for c, spooled at loc.
func redelivery(c *Capture, loc string, locs []string, pending map[string]string) Redelivery {
	return Redelivery{ID: c.ID, Node: c.Node, Interface: c.Interface, Packets: c.Packets, Bytes: c.Data.Len(),
		Started: c.Started, Ended: c.Ended, Spooled: loc, Locations: locs, Pending: pending}
}

// TestRedelivered spools a capture (every sink failed) and reports its
// later delivery: the result is published again with status ok and the
// new locations, and Lookup shows it; while a sink is still pending the
// result names the spooled file too and says which sink is owed.
func TestRedelivered(t *testing.T) {
	for _, tt := range []struct {
		name      string
		rounds    []map[string]string // Pending of each round's report
		wantLocs  [][]string          // after each round; "SPOOL" is the spooled file
		wantError []string            // substring of the error after each round ("" none)
	}{
		{name: "all at once", rounds: []map[string]string{nil},
			wantLocs: [][]string{{"s3://b/F", "cs://F"}}, wantError: []string{""}},
		{name: "one sink after the other", rounds: []map[string]string{{"cloudshark": "503 busy"}, nil},
			wantLocs:  [][]string{{"s3://b/F", "SPOOL"}, {"cs://F"}},
			wantError: []string{"still spooled for cloudshark: 503 busy", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var spooled *Capture
			var loc string
			ta := newTestAgent(t, Config{}, WithSpool(spoolOf{onSpool: func(c *Capture, l string) {
				cc := *c
				spooled, loc = &cc, l
			}}))
			ta.sink.fail = errors.New("unreachable")
			ta.host.scripts["eth0"] = frames(3, 100, time.Millisecond)
			id := submit(t, ta, `{"node":"any","interface":["eth0"],"packets":3}`)
			first := ta.result(t)
			if first.Status != StatusError || !slices.Equal(first.Locations, []string{loc}) {
				t.Fatalf("result when spooled: %+v, want error naming %s", first, loc)
			}
			for i, pending := range tt.rounds {
				var locs []string
				switch {
				case len(tt.rounds) == 1:
					locs = []string{"s3://b/F", "cs://F"}
				case i == 0:
					locs = []string{"s3://b/F"}
				default:
					locs = []string{"cs://F"}
				}
				ta.Redelivered(redelivery(spooled, loc, locs, pending))
				r := ta.result(t)
				want := slices.Clone(tt.wantLocs[i])
				if i > 0 {
					want = append([]string{"s3://b/F"}, want...)
				}
				for j := range want {
					if want[j] == "SPOOL" {
						want[j] = loc
					}
				}
				if r.ID != id || r.Interface != "eth0" || r.Status != StatusOK || !slices.Equal(r.Locations, want) ||
					r.Packets != first.Packets || r.StopReason != first.StopReason || r.Started != first.Started {
					t.Errorf("round %d: published %+v, want ok at %v, the rest as first published (%+v)", i, r, want, first)
				}
				if tt.wantError[i] == "" && r.Error != "" || !strings.Contains(r.Error, tt.wantError[i]) {
					t.Errorf("round %d: error %q, want %q", i, r.Error, tt.wantError[i])
				}
				st, ok := ta.Lookup(id)
				if !ok || len(st.Results) != 1 || st.Results[0].Status != StatusOK || !slices.Equal(st.Results[0].Locations, want) {
					t.Errorf("round %d: Lookup = %+v, want the published result", i, st)
				}
			}
			ta.noResult(t)
		})
	}
}

// TestRedeliveredUnknown reports the delivery of a capture the agent does
// not know (spooled before a restart): one result is made from the
// report, published and kept for Lookup.
func TestRedeliveredUnknown(t *testing.T) {
	ta := newTestAgent(t, Config{})
	started := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ta.Redelivered(Redelivery{ID: "before-restart", Node: "cap1", Interface: "eth3", Packets: 7, Bytes: 900,
		Started: started, Ended: started.Add(time.Second), Spooled: "/spool/f.pcap", Locations: []string{"s3://b/f.pcap"}})
	r := ta.result(t)
	if r.ID != "before-restart" || r.Node != "cap1" || r.Interface != "eth3" || r.Status != StatusOK || r.Packets != 7 ||
		r.Bytes != 900 || !r.Started.Equal(started) || !slices.Equal(r.Locations, []string{"s3://b/f.pcap"}) || r.Error != "" {
		t.Errorf("published %+v", r)
	}
	if st, ok := ta.Lookup("before-restart"); !ok || st.Phase != PhaseDone || len(st.Results) != 1 || st.Results[0].Status != StatusOK {
		t.Errorf("Lookup = %+v, %v", st, ok)
	}
}

// TestRedeliveredBeforeFinish has the spool deliver the capture before the
// capture's result is recorded (a retry round right after the spool took
// it): the one result published already says where it is.
func TestRedeliveredBeforeFinish(t *testing.T) {
	var ta *testAgent
	ta = newTestAgent(t, Config{}, WithSpool(spoolOf{onSpool: func(c *Capture, loc string) {
		ta.Redelivered(redelivery(c, loc, []string{"s3://b/early"}, nil))
	}}))
	ta.sink.fail = errors.New("unreachable")
	ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
	submit(t, ta, `{"node":"any","interface":["eth0"],"packets":1}`)
	r := ta.result(t)
	if r.Status != StatusOK || !slices.Equal(r.Locations, []string{"s3://b/early"}) || r.Error != "" {
		t.Errorf("published %+v, want ok at s3://b/early", r)
	}
	ta.noResult(t)
}

// TestRedeliveredMerged spools a merged capture: every interface's result
// names the one file, and the redelivery updates each of them.
func TestRedeliveredMerged(t *testing.T) {
	var spooled *Capture
	var loc string
	ta := newTestAgent(t, Config{}, WithSpool(spoolOf{onSpool: func(c *Capture, l string) {
		cc := *c
		spooled, loc = &cc, l
	}}))
	ta.sink.fail = errors.New("unreachable")
	ta.host.scripts["eth0"] = frames(2, 100, 2*time.Millisecond)
	ta.host.scripts["eth1"] = frames(2, 120, 2*time.Millisecond)
	ta.host.block["eth0"], ta.host.block["eth1"] = true, true
	submit(t, ta, `{"node":"any","interface":["eth0","eth1"],"merge":true,"packets":4}`)
	for range 2 {
		if r := ta.result(t); r.Status != StatusError || !slices.Equal(r.Locations, []string{loc}) {
			t.Fatalf("result when spooled: %+v", r)
		}
	}
	ta.Redelivered(redelivery(spooled, loc, []string{"s3://b/merged"}, nil))
	got := map[string]Result{}
	for range 2 {
		r := ta.result(t)
		got[r.Interface] = r
	}
	for _, ifname := range []string{"eth0", "eth1"} {
		if r := got[ifname]; r.Status != StatusOK || !slices.Equal(r.Locations, []string{"s3://b/merged"}) || r.Packets != 2 {
			t.Errorf("%s: %+v, want ok at s3://b/merged with its 2 packets", ifname, r)
		}
	}
}
