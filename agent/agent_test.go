package agent

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMatchNode(t *testing.T) {
	for _, tc := range []struct {
		host, node, re string
		want           bool
	}{
		{"web1", "any", "", true},
		{"web1", "web1", "", true},
		{"Web1.Example.COM", "web1.example.com", "", true},
		{"web1", "web2", "", false},
		{"web1", "web", "", false},
		{"web1", "", "^web[0-9]+$", true},
		{"web12", "", "^web[0-9]$", false},
		{"db-web1", "", "web", true}, // unanchored, as the seed
		{"db1", "", "web", false},
		{"web1", "", ".*", true},
	} {
		var re *regexp.Regexp
		if tc.re != "" {
			re = regexp.MustCompile(tc.re)
		}
		if got := MatchNode(tc.host, tc.node, re); got != tc.want {
			t.Errorf("MatchNode(%q, %q, %q) = %v, want %v", tc.host, tc.node, tc.re, got, tc.want)
		}
	}
}

func TestExpandTargets(t *testing.T) {
	aliases := map[string][]string{"main": {"eth0"}, "public": {"eth1", "eth0"}, "none": {}}
	for _, tc := range []struct {
		name    string
		r       Request
		want    string // iface/alias pairs
		wantErr string
	}{
		{"interfaces", Request{Interface: []string{"eth0", "eth1"}}, "eth0/ eth1/", ""},
		{"duplicate interfaces", Request{Interface: []string{"eth0", "eth1", "eth0"}}, "eth0/ eth1/", ""},
		{"alias", Request{Alias: []string{"main"}}, "eth0/main", ""},
		{"overlapping aliases", Request{Alias: []string{"public", "main"}}, "eth1/public eth0/public", ""},
		{"unknown alias", Request{Alias: []string{"main", "dmz"}}, "", `invalid request: alias[1]: unknown alias "dmz"`},
		{"empty alias", Request{Alias: []string{"none"}}, "", `invalid request: alias[0]: alias "none" names no interface`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expandTargets(&tc.r, aliases)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			var parts []string
			for _, g := range got {
				parts = append(parts, g.iface+"/"+g.alias)
			}
			if s := strings.Join(parts, " "); s != tc.want || err != nil {
				t.Errorf("targets %q, %v; want %q", s, err, tc.want)
			}
		})
	}
}

// TestConfigRules checks the rules that depend on the configuration: every
// error names the field and the limit.
func TestConfigRules(t *testing.T) {
	cfg := Config{
		MaxPackets: 1000, MaxBytes: 1 << 20, MaxTimeout: 60 * time.Second,
		MaxDuration: 120 * time.Second, MaxSnaplen: 9000,
	}
	base := `"node":"cap1.example.net"`
	for _, tc := range []struct {
		name, msg, field, reason string
	}{
		{"packets", `"interface":["eth0"],"packets":1001`, "packets", "1001 is above the configured maximum 1000"},
		{"bytes", `"interface":["eth0"],"bytes":1048577`, "bytes", "1048577 is above the configured maximum 1048576"},
		{"timeout", `"interface":["eth0"],"timeout":61`, "timeout", "61 seconds is above the configured maximum 60"},
		{"duration", `"interface":["eth0"],"duration":121`, "duration", "121 seconds is above the configured maximum 120"},
		{"snap", `"interface":["eth0"],"snap":9001`, "snap", "9001 is above the configured maximum 9000"},
		{"missing interface", `"interface":["eth0","wlan9"]`, "interface[1]", `no interface "wlan9" on this host: interface "wlan9": file does not exist`},
		{"unknown alias", `"alias":["dmz"]`, "alias[0]", `unknown alias "dmz"`},
		{"alias to a missing interface", `"alias":["gone"]`, "alias", `alias "gone" names interface "eth7", which this host does not have: interface "eth7": file does not exist`},
		{"bpf syntax", `"interface":["eth0"],"bpf":"bad syntax"`, "bpf", `1:5: syntax error: expected expression, found "syntax" (compiling for interface eth0, link type 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Aliases = map[string][]string{"gone": {"eth7"}}
			ta := newTestAgent(t, c)
			msg := "{" + base + "," + tc.msg + `,"id":"r1"}`
			id, err := ta.Submit(context.Background(), []byte(msg), "test")
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || ve.Reason != tc.reason {
				t.Fatalf("Submit = %v\nwant field %q reason %q", err, tc.field, tc.reason)
			}
			r := ta.result(t)
			if r.ID != "r1" || id != "r1" || r.Status != StatusRejected || r.Error != err.Error() || r.Interface != "" {
				t.Errorf("result %+v", r)
			}
			if st, ok := ta.Lookup("r1"); !ok || st.Phase != PhaseDone || len(st.Results) != 1 {
				t.Errorf("Lookup = %+v %v", st, ok)
			}
			if len(ta.host.opens) != 0 {
				t.Error("a rejected request opened a socket")
			}
		})
	}
	t.Run("at the limits", func(t *testing.T) {
		ta := newTestAgent(t, cfg)
		ta.host.block["eth0"] = true
		msg := `{` + base + `,"interface":["eth0"],"packets":1000,"bytes":1048576,"timeout":60,"duration":120,"snap":9000}`
		if _, err := ta.Submit(context.Background(), []byte(msg), "test"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNotForThisNode(t *testing.T) {
	ta := newTestAgent(t, Config{})
	for _, msg := range []string{
		`{"node":"other","interface":["eth0"]}`,
		`{"nodere":"^db","interface":["eth0"]}`,
		// Invalid, but plainly for another node: no result either.
		`{"node":"other","interface":["eth0"],"packets":-1}`,
		`{"nodere":"^db","interface":"eth0"}`,
	} {
		if _, err := ta.Submit(context.Background(), []byte(msg), "test"); !errors.Is(err, ErrNotForNode) {
			t.Errorf("Submit(%s) = %v, want ErrNotForNode", msg, err)
		}
	}
	ta.noResult(t)
	// Invalid and for us, or impossible to tell: rejected with a result.
	for _, msg := range []string{
		`{"node":"cap1.example.net","interface":["eth0"],"packets":-1,"id":"x1"}`,
		`{"node":"any","interface":"eth0"}`,
		`not json at all`,
		`{"interface":["eth0"]}`,
		`{"node":7,"interface":["eth0"]}`,
	} {
		id, err := ta.Submit(context.Background(), []byte(msg), "test")
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("Submit(%s) = %v, want a ValidationError", msg, err)
			continue
		}
		r := ta.result(t)
		if r.Status != StatusRejected || r.ID != id || !ValidID(id) {
			t.Errorf("Submit(%s): result %+v (id %q)", msg, r, id)
		}
	}
}

func TestGeneratedID(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.block["eth0"], ta.host.block["eth1"] = true, true
	a := submit(t, ta, `{"node":"any","interface":["eth0"]}`)
	b := submit(t, ta, `{"node":"any","interface":["eth1"]}`)
	if !ValidID(a) || !ValidID(b) || a == b || !strings.HasPrefix(a, "20250102T030405Z-") {
		t.Errorf("generated ids %q and %q", a, b)
	}
}

func TestDedup(t *testing.T) {
	ta := newTestAgent(t, Config{DedupTTL: time.Minute, KeepRequests: 1})
	msg := `{"node":"any","interface":["eth0"],"id":"dup-1","timeout":1}`
	submit(t, ta, msg)
	if r := ta.result(t); r.Status != StatusEmpty {
		t.Fatalf("first: %+v", r)
	}
	// The same message again (SQS delivers at least once): ignored, no
	// second capture and no result.
	if _, err := ta.Submit(context.Background(), []byte(msg), "sqs"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Submit = %v, want ErrDuplicate", err)
	}
	ta.noResult(t)
	// Past the TTL and no longer kept for Lookup (another finished request
	// took the only slot), the id is free again.
	ta.clock.advance(2 * time.Minute)
	submit(t, ta, `{"node":"any","interface":["eth0"],"id":"other","timeout":1}`)
	ta.result(t)
	if _, err := ta.Submit(context.Background(), []byte(msg), "sqs"); err != nil {
		t.Fatalf("after the TTL and the eviction: %v", err)
	}
	ta.result(t)
	// A rejected id is not held: fixed and sent again, it runs.
	bad := `{"node":"any","interface":["eth0"],"id":"fix-me","packets":99999999}`
	if _, err := ta.Submit(context.Background(), []byte(bad), "test"); err == nil {
		t.Fatal("over-limit request accepted")
	}
	ta.result(t)
	submit(t, ta, `{"node":"any","interface":["eth0"],"id":"fix-me","timeout":1}`)
	ta.result(t)
}

// TestDuplicateIDKeepsStoredRequest sends, for an id that a request holds
// (running, or finished and still kept), other requests with the same id:
// valid ones, invalid ones, and ones that fail later checks. None may
// change what Lookup shows for the id; a different request is refused with
// an error matching ErrDuplicate and a published rejected Result, the same
// message again is ignored without a Result.
func TestDuplicateIDKeepsStoredRequest(t *testing.T) {
	const holder = `{"node":"any","interface":["eth0"],"id":"held","timeout":1}`
	tests := []struct {
		name       string
		msg        string
		wantDup    bool // errors.Is(err, ErrDuplicate)
		wantField  string
		wantResult bool // a rejected Result is published
	}{
		{name: "same message", msg: holder, wantDup: true},
		{name: "other valid request", msg: `{"node":"any","interface":["eth1"],"id":"held","packets":5}`, wantDup: true, wantResult: true},
		{name: "same request, other bytes", msg: `{"id":"held","node":"any","interface":["eth0"],"timeout":1}`, wantDup: true, wantResult: true},
		{name: "invalid request", msg: `{"node":"any","id":"held"}`, wantField: "interface", wantResult: true},
		{name: "over a limit", msg: `{"node":"any","interface":["eth0"],"id":"held","packets":99999999}`, wantDup: true, wantResult: true},
	}
	for _, running := range []bool{true, false} {
		for _, tt := range tests {
			name := tt.name + map[bool]string{true: " while running", false: " after it finished"}[running]
			t.Run(name, func(t *testing.T) {
				ta := newTestAgent(t, Config{})
				ta.host.block["eth0"] = running
				submit(t, ta, holder)
				var first Result
				if running {
					ta.host.waitBlocked(t, "eth0")
				} else {
					first = ta.result(t)
				}
				before, ok := ta.Lookup("held")
				if !ok {
					t.Fatal("the first request is not stored")
				}
				id, err := ta.Submit(context.Background(), []byte(tt.msg), "redis")
				if id != "held" {
					t.Errorf("Submit returned id %q, want held", id)
				}
				if got := errors.Is(err, ErrDuplicate); got != tt.wantDup {
					t.Errorf("Submit = %v; matches ErrDuplicate: %v, want %v", err, got, tt.wantDup)
				}
				if tt.wantField != "" {
					var ve *ValidationError
					if !errors.As(err, &ve) || ve.Field != tt.wantField {
						t.Errorf("Submit = %v, want a ValidationError on %s", err, tt.wantField)
					}
				}
				if tt.wantResult {
					r := ta.result(t)
					if r.ID != "held" || r.Status != StatusRejected || r.Error != err.Error() {
						t.Errorf("published %+v, want a rejected result for held saying %q", r, err)
					}
				} else {
					ta.noResult(t)
				}
				after, ok := ta.Lookup("held")
				if !ok {
					t.Fatal("the first request is no longer stored")
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("stored request changed (-before +after):\n%s", diff)
				}
				if running {
					// The first request still runs and ends as it would.
					if err := ta.Cancel("held"); err != nil {
						t.Fatalf("Cancel of the first request: %v", err)
					}
					if r := ta.result(t); r.ID != "held" || r.StopReason != StopCancelled {
						t.Errorf("the first request ended with %+v", r)
					}
				} else if len(after.Results) != 1 || after.Results[0].Status != first.Status {
					t.Errorf("stored results %+v, want the first request's %+v", after.Results, first)
				}
			})
		}
	}
}

func TestIDSetBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newIDSet(time.Minute, 3)
	for _, id := range []string{"a", "b", "c", "d"} {
		s.add(id, digest{id[0]}, now)
	}
	seen := func(id string, at time.Time) bool { _, ok := s.seen(id, at); return ok }
	if seen("a", now) || !seen("b", now) || !seen("d", now) {
		t.Error("the oldest id was not forgotten at the size bound")
	}
	if d, _ := s.seen("c", now); d != (digest{'c'}) {
		t.Errorf("digest of c = %x, want the one added", d[:1])
	}
	if seen("d", now.Add(time.Minute)) {
		t.Error("an id outlived its TTL")
	}
	if len(s.at) != 0 || len(s.fifo) != 0 {
		t.Errorf("%d ids still held", len(s.at))
	}
}

func TestAdmissionConcurrency(t *testing.T) {
	ta := newTestAgent(t, Config{MaxConcurrent: 2})
	for _, i := range []string{"eth0", "eth1", "eth2"} {
		ta.host.block[i] = true
	}
	if _, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth0","eth1","eth2"],"id":"big"}`), "test"); !errors.Is(err, ErrNotAdmitted) ||
		err.Error() != "agent: request not admitted: 0 captures running, the limit is 2 and this request needs 3" {
		t.Fatalf("3 interfaces against a limit of 2: %v", err)
	}
	if r := ta.result(t); r.Status != StatusRejected || r.ID != "big" || !strings.Contains(r.Error, "the limit is 2") {
		t.Errorf("result %+v", r)
	}
	submit(t, ta, `{"node":"any","interface":["eth0"],"id":"one"}`)
	submit(t, ta, `{"node":"any","interface":["eth1"],"id":"two"}`)
	if _, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth2"],"id":"three"}`), "test"); !errors.Is(err, ErrNotAdmitted) {
		t.Fatalf("third capture: %v", err)
	}
	ta.result(t)
	if n, _ := ta.Running(); n != 2 {
		t.Errorf("%d running", n)
	}
	ta.host.waitBlocked(t, "eth0")
	if err := ta.Cancel("one"); err != nil {
		t.Fatal(err)
	}
	ta.result(t)
	submit(t, ta, `{"node":"any","interface":["eth2"],"id":"three"}`) // a slot is free again
}

func TestAdmissionMemory(t *testing.T) {
	// Each capture: ring 1 MiB + buffer bounded by 10 packets of 100+16
	// bytes, one 64 KiB chunk: 1114112 bytes.
	const each = 1<<20 + 64<<10
	ta := newTestAgent(t, Config{MaxMemory: 2*each + 100, RingBytes: 1 << 20, ChunkSize: 64 << 10})
	ta.host.block["eth0"], ta.host.block["eth1"] = true, true
	submit(t, ta, `{"node":"any","interface":["eth0"],"packets":10,"snap":100}`)
	if _, mem := ta.Running(); mem != each {
		t.Errorf("reserved %d bytes, want %d", mem, each)
	}
	_, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth1"],"packets":1000,"snap":100}`), "test")
	if !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "needs 1179648 bytes of memory, 1114112 of the 2228324 byte budget are in use") {
		t.Errorf("large request: %v", err)
	}
	ta.result(t)
	submit(t, ta, `{"node":"any","interface":["eth1"],"packets":10,"snap":100}`)
	_, err = ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth2"],"packets":50000,"snap":1500}`), "test")
	if !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "more than the whole 2228324 byte budget") {
		t.Errorf("request larger than the budget: %v", err)
	}
	ta.result(t)
	if _, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth2"],"packets":1,"snap":100}`), "test"); !errors.Is(err, ErrNotAdmitted) {
		t.Errorf("over budget: %v", err)
	}
}

func TestReservation(t *testing.T) {
	cfg := Config{ChunkSize: 1 << 20, RingBytes: 8 << 20}
	for _, tc := range []struct {
		name string
		p    plan
		want int64
	}{
		{"packet bound", plan{packets: 10, bytes: 1 << 30, snaplen: 1500, format: FormatPcap}, 9 << 20},
		{"byte bound", plan{packets: 1 << 40, bytes: 5 << 20, snaplen: 1500, format: FormatPcap}, 14 << 20},
		{"huge", plan{packets: 1 << 62, bytes: 1 << 62, snaplen: 262144, format: FormatPcapNG}, 1<<62 + 9<<20},
	} {
		if got := reservation(&cfg, &tc.p); got != tc.want {
			t.Errorf("%s: reservation %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestTagsAndFileName(t *testing.T) {
	r := &Request{Customer: "acme", AlertID: 655443, Tags: "blah,tagme,stuff"}
	if got, want := Tags(r, "local", "h1", "lo", 500),
		"customer:acme,alertid:655443,blah,tagme,stuff,alias:local,node:h1,interface:lo,snaplength:500"; got != want {
		t.Errorf("Tags = %q\nwant %q", got, want)
	}
	if got, want := Tags(&Request{}, "", "h1", "eth0", 1500), "node:h1,interface:eth0,snaplength:1500"; got != want {
		t.Errorf("Tags = %q, want %q", got, want)
	}
	ts := time.Unix(1700000000, 5)
	if got := FileName("h1", "eth0", ts, "abc", FormatPcap); got != "h1-eth0-1700000000-abc.pcap" {
		t.Errorf("FileName = %q", got)
	}
	if got := FileName("h1", "eth0", ts, "abc", FormatPcapNG); got != "h1-eth0-1700000000-abc.pcapng" {
		t.Errorf("FileName = %q", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{Hostname: "h", Format: "erf"}); err == nil || !strings.Contains(err.Error(), `format "erf"`) {
		t.Errorf("New with format erf: %v", err)
	}
	if _, err := New(Config{Hostname: "h", Aliases: map[string][]string{"x": {"a/b"}}}); err == nil || !strings.Contains(err.Error(), `alias "x"`) {
		t.Errorf("New with a bad alias target: %v", err)
	}
}

func TestMetricsAndReload(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = frames(2, 100, time.Millisecond)
	submit(t, ta, `{"node":"any","interface":["eth0"],"packets":2,"id":"m1"}`)
	ta.result(t)
	ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth0"],"packets":2,"id":"m1"}`), "t")
	ta.Submit(context.Background(), []byte(`{"node":"other","interface":["eth0"]}`), "t")
	ta.Submit(context.Background(), []byte(`{"node":"any","alias":["dmz"]}`), "t")
	ta.result(t)
	m := ta.Metrics()
	if m.Accepted != 1 || m.Duplicates != 1 || m.NotForNode != 1 || m.Rejected != 1 ||
		m.Captures[StatusOK] != 1 || m.Packets != 2 || m.Bytes != 24+2*116 || m.KernelDrops != 2 ||
		m.Active != 0 || m.MemoryBudget != DefaultMaxMemory {
		t.Errorf("metrics %+v", m)
	}
	// Reload: a new alias takes effect for the next request.
	if err := ta.Reload(Config{Hostname: "cap1.example.net", Aliases: map[string][]string{"dmz": {"eth1"}}}, nil); err != nil {
		t.Fatal(err)
	}
	submit(t, ta, `{"node":"any","alias":["dmz"],"timeout":1}`)
	if r := ta.result(t); r.Interface != "eth1" || r.Status != StatusEmpty {
		t.Errorf("after reload: %+v", r)
	}
	if err := ta.Reload(Config{Format: "erf"}, nil); err == nil {
		t.Error("Reload accepted a bad config")
	}
}

func TestLookupBounded(t *testing.T) {
	ta := newTestAgent(t, Config{KeepRequests: 3})
	for i := range 5 {
		ta.Submit(context.Background(), []byte(`{"node":"any","interface":["nope"],"id":"r`+strconv.Itoa(i)+`"}`), "t")
		ta.result(t)
	}
	for i := range 5 {
		_, ok := ta.Lookup("r" + strconv.Itoa(i))
		if ok != (i >= 2) {
			t.Errorf("Lookup(r%d) found %v", i, ok)
		}
	}
}
