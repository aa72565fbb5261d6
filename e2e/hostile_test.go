package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// hostileSeed makes the generated requests the same on every run; a
// failure names the case.
const hostileSeed = 20261126

// hostileNode is the daemon's node name in the hostile tests.
const hostileNode = "hostile-node"

// hostileDaemon is a daemon under attack and the means to reach it.
type hostileDaemon struct {
	d      *daemon
	api    string
	dir    string
	rd     *testenv.Redis
	pub    *redis.Client
	res    *results
	client *http.Client
	key    []byte // hmackey, when signing is on
}

func startHostile(t *testing.T, rd *testenv.Redis, pair *netns.Pair, channel, key string) *hostileDaemon {
	t.Helper()
	h := &hostileDaemon{rd: rd, dir: t.TempDir(), key: []byte(key), client: &http.Client{Timeout: 10 * time.Second}}
	port := testenv.FreePort(t)
	h.api = apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{redisPort: rd.Port, channel: channel, httpPort: port, localDir: h.dir, hmacKey: key,
		aliases: [][2]string{{pair.Host, "cap"}}, general: []string{"hostname = " + quote(hostileNode), "maxconcurrent = 64"}})
	h.d = startDaemon(t, "-config", cfg)
	waitSubscribed(t, rd, channel, 1, 15*time.Second)
	h.res = subscribeResults(t, rd.Addr, channel+".results")
	h.pub = publisher(t, rd.Addr)
	return h
}

// sign wraps body in a signed envelope when the daemon wants one.
func (h *hostileDaemon) sign(body []byte) []byte {
	if len(h.key) == 0 {
		return body
	}
	return transport.Sign(h.key, body, time.Now())
}

// processed returns how many messages from source the daemon has taken
// (every outcome) plus those it dropped.
func (h *hostileDaemon) processed(t *testing.T, source string) float64 {
	t.Helper()
	var n float64
	for k, v := range testenv.Scrape(t, h.api) {
		if strings.HasPrefix(k, "pcapdaemon_requests_total{") && strings.Contains(k, `source="`+source+`"`) ||
			k == series("pcapdaemon_requests_dropped_total", "source", source) {
			n += v
		}
	}
	return n
}

// floodRedis publishes msgs in batches, waiting after each until the
// daemon has taken them all: the test measures what the daemon does with
// every message, not how many a full queue drops (that is counted too:
// requests_dropped_total).
func (h *hostileDaemon) floodRedis(t *testing.T, channel string, msgs [][]byte) {
	t.Helper()
	base := h.processed(t, "redis")
	for i := 0; i < len(msgs); i += 200 {
		for _, m := range msgs[i:min(i+200, len(msgs))] {
			publish(t, h.pub, channel, m, 1)
		}
		want := base + float64(min(i+200, len(msgs)))
		if !testenv.WaitFor(20*time.Second, func() bool { return h.processed(t, "redis") >= want }) {
			t.Fatalf("daemon took %v of %v messages within 20s", h.processed(t, "redis")-base, want-base)
		}
	}
}

// post sends msg to POST /v1/captures and returns the status and error text.
func (h *hostileDaemon) post(t *testing.T, msg []byte) (int, string, string) {
	t.Helper()
	resp, err := h.client.Post(h.api+"/v1/captures", "application/json", bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Error, ID string }
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error, e.ID
}

// splitGaps separates the known-gap cases from the others.
func splitGaps(cases []hostileCase) (bad, gaps []hostileCase) {
	for _, c := range cases {
		if c.gap {
			gaps = append(gaps, c)
		} else {
			bad = append(bad, c)
		}
	}
	return bad, gaps
}

// checkRejection checks one rejected result against its case.
func checkRejection(c hostileCase, errText string) error {
	switch {
	case c.field == "*":
		if !strings.HasPrefix(errText, "invalid request: ") {
			return fmt.Errorf("error %q does not say the request is invalid", trim(errText))
		}
	case !strings.HasPrefix(errText, "invalid request: "+c.field) &&
		!strings.HasPrefix(errText, "invalid request: "+quote(c.field)): // a field name from the message is quoted
		return fmt.Errorf("error %q does not name field %q", trim(errText), c.field)
	}
	return nil
}

// validCapture publishes one valid request and checks that it captured.
func (h *hostileDaemon) validCapture(t *testing.T, channel string, pair *netns.Pair, id string) {
	t.Helper()
	msg := []byte(fmt.Sprintf(`{"id":%q,"node":%q,"alias":["cap"],"bpf":"udp and dst port 9999","packets":3,"timeout":20}`, id, hostileNode))
	publish(t, h.pub, channel, h.sign(msg), 1)
	waitArmed(t, h.api, id)
	sent := frames(pair, 3, id)
	send(t, pair, sent)
	r := h.res.waitID(t, id, 1, 10*time.Second)[0]
	if r.Status != agent.StatusOK || r.Packets != 3 || len(r.Locations) != 1 {
		t.Fatalf("valid request after the flood: %+v", r)
	}
	f := filepath.Join(h.dir, filepath.Base(r.Locations[0]))
	checkPcapFile(t, f, sent)
	if n := len(tcpdumpRead(t, f)); n != 3 {
		t.Errorf("tcpdump -r %s: %d packets, want 3", f, n)
	}
}

// TestHostileRequests floods a running daemon over Redis and HTTP with
// thousands of malformed, hostile and oversized requests, then sends one
// valid request: the daemon stays up with bounded memory, rejects every
// bad request with a reason naming what is wrong, and captures the valid
// one. A second daemon with request signing on gets envelope garbage.
func TestHostileRequests(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump", "redis-cli")
	pair := netns.NewVethPair(t)
	rd := testenv.StartRedis(t)
	start := time.Now()

	t.Run("unsigned", func(t *testing.T) {
		const channel = "capture"
		h := startHostile(t, rd, pair, channel, "")
		pid := h.d.cmd.Process.Pid
		_, rss0 := memStatus(t, pid)

		// Over Redis: every message addressed to this node (or that may
		// be) gets a rejected result naming what is wrong.
		g := &hostileGen{rng: rand.New(rand.NewPCG(hostileSeed, 1)), prefix: "r", host: hostileNode, iface: pair.Host}
		cases, redisGaps := splitGaps(g.all(1000))
		msgs := make([][]byte, len(cases))
		counts := map[string]int{}
		for i, c := range cases {
			msgs[i] = c.msg
			counts[c.want]++
		}
		floodStart := time.Now()
		h.floodRedis(t, channel, msgs)
		redisTook := time.Since(floodStart)
		for _, c := range cases {
			if c.want != wantInvalid || c.id == "" {
				continue
			}
			got := h.res.waitID(t, c.id, 1, 10*time.Second)
			if len(got) != 1 || got[0].Status != agent.StatusRejected {
				t.Errorf("redis %s: %d results, first %+v; want one rejected", c.name, len(got), got[0])
			} else if err := checkRejection(c, got[0].Error); err != nil {
				t.Errorf("redis %s: %v", c.name, err)
			}
		}
		// The others carry an id the agent made up: count them.
		if !testenv.WaitFor(10*time.Second, func() bool { return len(h.res.all()) >= counts[wantInvalid] }) {
			t.Errorf("%d results for %d invalid messages", len(h.res.all()), counts[wantInvalid])
		}
		time.Sleep(200 * time.Millisecond) // one too many would arrive now
		// A message over maxmessage is dropped by the Redis transport as
		// it arrives; it is answered when its first bytes name an id and
		// this node (the explicit oversized cases do; random ones may not).
		rejected, tooLarge := 0, 0
		for _, r := range h.res.all() {
			switch {
			case r.Status == agent.StatusRejected && strings.HasPrefix(r.Error, "invalid request: "):
				rejected++
			case r.Status == agent.StatusRejected && strings.Contains(r.Error, "(too_large)") &&
				strings.Contains(r.Error, "exceeds the limit of 65536 bytes"):
				tooLarge++
			default:
				t.Errorf("result %+v for a hostile message", r)
			}
		}
		if rejected != counts[wantInvalid] {
			t.Errorf("%d rejected results on Redis, want %d", rejected, counts[wantInvalid])
		}
		if tooLarge < 3 || tooLarge > counts[wantTooLarge] {
			t.Errorf("%d too-large results on Redis for %d oversized messages, want 3 (the explicit ones) or more", tooLarge, counts[wantTooLarge])
		}
		m := testenv.Scrape(t, h.api)
		for _, e := range []struct {
			labels []string
			want   int
		}{
			{[]string{"source", "redis", "outcome", "rejected", "reason", "invalid"}, counts[wantInvalid]},
			{[]string{"source", "redis", "outcome", "not_for_node", "reason", ""}, counts[wantNotForNode]},
			{[]string{"source", "redis", "outcome", "rejected", "reason", "too_large"}, 0}, // dropped on arrival
			{[]string{"source", "redis", "outcome", "accepted", "reason", ""}, 0},
		} {
			if got := m[series("pcapdaemon_requests_total", e.labels...)]; got != float64(e.want) {
				t.Errorf("requests_total%v = %v, want %d", e.labels, got, e.want)
			}
		}
		if v := m[series("pcapdaemon_requests_dropped_total", "source", "redis")]; v != float64(counts[wantTooLarge]) {
			t.Errorf("%v requests dropped by the Redis transport, want the %d oversized ones", v, counts[wantTooLarge])
		}
		if v := m["pcapdaemon_results_dropped_total"]; v != 0 {
			t.Errorf("%v results dropped", v)
		}
		t.Logf("redis: %d messages (%d invalid, %d for other nodes, %d too large) taken in %v",
			len(cases), counts[wantInvalid], counts[wantNotForNode], counts[wantTooLarge], redisTook.Round(time.Millisecond))

		// Over HTTP: every answer is a 4xx naming what is wrong.
		g = &hostileGen{rng: rand.New(rand.NewPCG(hostileSeed, 2)), prefix: "h", host: hostileNode, iface: pair.Host}
		cases, httpGaps := splitGaps(g.all(1000))
		floodStart = time.Now()
		status := map[int]int{}
		for _, c := range cases {
			code, errText, _ := h.post(t, c.msg)
			status[code]++
			switch c.want {
			case wantInvalid:
				if code != http.StatusBadRequest {
					t.Errorf("http %s: %d %q, want 400", c.name, code, trim(errText))
				} else if err := checkRejection(c, errText); err != nil {
					t.Errorf("http %s: %v", c.name, err)
				}
			case wantNotForNode:
				if code != http.StatusUnprocessableEntity || !strings.Contains(errText, "not for this node") {
					t.Errorf("http %s: %d %q, want 422 saying it is not for this node", c.name, code, errText)
				}
			case wantTooLarge:
				if code != http.StatusRequestEntityTooLarge || !strings.Contains(errText, "exceeds") {
					t.Errorf("http %s: %d %q, want 413 naming the limit", c.name, code, errText)
				}
			}
		}
		t.Logf("http: %d requests in %v, answers by status %v", len(cases), time.Since(floodStart).Round(time.Millisecond), status)
		if !h.d.alive() {
			t.Fatalf("daemon died under the flood\n%s", h.d.Logs())
		}
		if code, _ := testenv.GetText(t, h.api+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz after the flood: %d", code)
		}
		hwm, rss := memStatus(t, pid)
		t.Logf("daemon memory: VmRSS %d KiB before the flood, %d KiB after it; VmHWM %d KiB", rss0, rss, hwm)
		if hwm > 128<<10 {
			t.Errorf("VmHWM %d KiB: memory not bounded under the flood (limit 128 MiB)", hwm)
		}

		// The known gaps, reported: what the agent does with them today.
		gapMsgs := make([][]byte, len(redisGaps))
		for i, c := range redisGaps {
			gapMsgs[i] = c.msg
		}
		h.floodRedis(t, channel, gapMsgs)
		for _, c := range httpGaps {
			h.post(t, c.msg)
		}
		m = testenv.Scrape(t, h.api)
		t.Logf("known gaps (invalid UTF-8 in free text, empty id): %d sent; accepted %v over Redis and %v over HTTP",
			len(redisGaps)+len(httpGaps),
			m[series("pcapdaemon_requests_total", "source", "redis", "outcome", "accepted", "reason", "")],
			m[series("pcapdaemon_requests_total", "source", "http", "outcome", "accepted", "reason", "")])

		h.validCapture(t, channel, pair, "valid-after-flood")
		hwm, rss = memStatus(t, pid)
		active := testenv.Scrape(t, h.api)["pcapdaemon_captures_active"]
		if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Scrape(t, h.api)["pcapdaemon_captures_active"] == 0 }) {
			t.Error("captures still running 10s after the last one should have ended")
		}
		_, rssIdle := memStatus(t, pid)
		t.Logf("daemon memory with %v known-gap captures running (8 MiB ring each): VmRSS %d KiB, VmHWM %d KiB; once they ended: VmRSS %d KiB",
			active, rss, hwm, rssIdle)
		if n := len(logLines(h.d, "panic")); n > 0 {
			t.Errorf("%d log lines mention a panic", n)
		}
	})

	t.Run("signed", func(t *testing.T) {
		const channel = "signed"
		h := startHostile(t, rd, pair, channel, "hostile-test-key")
		g := &hostileGen{rng: rand.New(rand.NewPCG(hostileSeed, 3)), prefix: "s", host: hostileNode, iface: pair.Host}
		env := envelopeCases(g, h.key)
		// Over Redis first: each envelope meets the Guard for the first time.
		msgs := make([][]byte, len(env))
		for i, c := range env {
			msgs[i] = c.msg
		}
		h.floodRedis(t, channel, msgs)
		guard := map[string]int{}
		invalid := 0
		for _, c := range env {
			if c.want == wantTooLarge {
				continue // dropped by the Redis transport as it arrives, before the Guard
			}
			if c.want != wantInvalid {
				guard[c.want]++
				continue
			}
			invalid++
			if c.id == "" {
				continue
			}
			r := h.res.waitID(t, c.id, 1, 10*time.Second)[0]
			if r.Status != agent.StatusRejected {
				t.Errorf("redis signed %s: %+v, want rejected", c.name, r)
			} else if err := checkRejection(c.hostileCase, r.Error); err != nil {
				t.Errorf("redis signed %s: %v", c.name, err)
			}
		}
		// Then the same messages over HTTP: what passed the signature
		// check is now a replay; the rest fails as before.
		for _, c := range env {
			want := c.want
			if want == wantInvalid {
				want = "replay"
			}
			code, errText, _ := h.post(t, c.msg)
			switch want {
			case wantTooLarge:
				if code != http.StatusRequestEntityTooLarge {
					t.Errorf("http %s: %d %q, want 413", c.name, code, errText)
				}
				continue // the HTTP server refuses the body before the Guard sees it
			default:
				if code != http.StatusForbidden || !strings.Contains(errText, "("+want+")") {
					t.Errorf("http %s: %d %q, want 403 naming %s", c.name, code, errText, want)
				}
			}
			guard[want]++
		}
		m := testenv.Scrape(t, h.api)
		for reason, n := range guard {
			if got := m[series("pcapdaemon_guard_rejected_total", "reason", reason)]; got != float64(n) {
				t.Errorf("guard_rejected_total{%s} = %v, want %d", reason, got, n)
			}
		}
		if got := m[series("pcapdaemon_requests_total", "source", "redis", "outcome", "rejected", "reason", "invalid")]; got != float64(invalid) {
			t.Errorf("signed invalid bodies rejected by the agent: %v, want %d", got, invalid)
		}
		t.Logf("signed: %d envelopes over Redis and again over HTTP; Guard rejections %v; %d signed bad bodies rejected by the agent",
			len(env), guard, invalid)
		h.validCapture(t, channel, pair, "valid-signed")
		if !h.d.alive() {
			t.Fatal("daemon died")
		}
	})
	t.Logf("hostile test took %v", time.Since(start).Round(time.Millisecond))
}

// envelopeCase is a message for a daemon that requires signing.
type envelopeCase struct{ hostileCase }

// envelopeCases makes signed-envelope garbage, and hostile bodies properly
// signed (which the Guard passes and the agent rejects). A body that
// passes the Guard by mistake is itself invalid (an unknown field), so
// that nothing here can start a capture.
func envelopeCases(g *hostileGen, key []byte) []envelopeCase {
	now := time.Now()
	body := func() []byte { return object(with(g.base(g.nextID()), "evil", "1")) }
	var out []envelopeCase
	add := func(name, want string, msg []byte) {
		out = append(out, envelopeCase{hostileCase{name: name, msg: msg, want: want}})
	}
	goodID := g.nextID()
	good := transport.Sign(key, object(with(g.base(goodID), "evil", "1")), now)
	var e map[string]any
	_ = json.Unmarshal(good, &e)
	edit := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range e {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	add("unsigned request", "unsigned", body())
	add("not JSON", "bad_envelope", []byte("\xff\x00garbage"))
	add("JSON array", "bad_envelope", []byte(`[1,2,3]`))
	add("no t", "bad_envelope", edit("t", nil))
	add("no body", "bad_envelope", edit("body", nil))
	add("t as string", "bad_envelope", edit("t", "now"))
	add("t as float", "bad_envelope", edit("t", 1.5))
	add("t huge", "bad_envelope", edit("t", json.Number("99999999999999999999999")))
	add("body as object", "bad_envelope", edit("body", map[string]any{"node": "any"}))
	add("extra member", "bad_envelope", edit("x", 1))
	add("sig not hex", "bad_signature", edit("sig", "zz"))
	add("sig empty", "bad_signature", edit("sig", ""))
	add("sig of another key", "bad_signature", transport.Sign([]byte("wrong key"), body(), now))
	add("sig of another body", "bad_signature", edit("body", `{"node":"any","interface":["lo"]}`))
	add("signed an hour ago", "stale", transport.Sign(key, body(), now.Add(-time.Hour)))
	add("signed in the future", "stale", transport.Sign(key, body(), now.Add(time.Hour)))
	add("oversized envelope", wantTooLarge, transport.Sign(key, []byte(strings.Repeat("x", 70<<10)), now))
	for i := range 40 {
		add(fmt.Sprintf("random sig %d", i), "bad_signature", edit("sig", fmt.Sprintf("%064x", g.rng.Uint64())))
	}
	// Properly signed hostile bodies: the Guard lets them through, the
	// agent rejects them naming the field.
	hg := &hostileGen{rng: g.rng, prefix: "sb", host: g.host, iface: g.iface}
	hg.wrongTypes()
	hg.filters()
	hg.ids()
	for _, c := range hg.cases {
		if c.want == wantInvalid && !c.gap {
			c.msg = transport.Sign(key, c.msg, now)
			out = append(out, envelopeCase{c})
		}
	}
	// A good envelope, and the same again: the second is a replay.
	out = append(out,
		envelopeCase{hostileCase{name: "good envelope", msg: good, want: wantInvalid, field: "evil", id: goodID}},
		envelopeCase{hostileCase{name: "good envelope replayed", msg: good, want: "replay"}})
	return out
}
