package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/net/bpf"
)

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

func (c *fakeClock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

// scripted is one frame of a fakeHandle's script, at an offset from the
// moment the handle was opened.
type scripted struct {
	at   time.Duration
	data []byte
	err  error // returned instead of a frame
}

// fakeHandle plays a script of frames against the fake clock: a read whose
// deadline comes before the next frame moves the clock to the deadline and
// returns os.ErrDeadlineExceeded. When the script is over it either idles
// (deadline after deadline) or, with block set, waits for ctx.
type fakeHandle struct {
	clock   *fakeClock
	opened  time.Time
	script  []scripted
	block   bool
	blocked chan struct{} // closed when a read first blocks
	drops   uint64

	mu     sync.Mutex
	closed bool
	reads  int
	once   sync.Once
}

func (h *fakeHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	h.mu.Lock()
	h.reads++
	if h.reads > 100000 {
		h.mu.Unlock()
		panic("fake handle: runaway read loop")
	}
	h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return afpacket.Packet{}, fmt.Errorf("fake read: %w", err)
	}
	if len(h.script) == 0 {
		if h.block {
			h.once.Do(func() { close(h.blocked) })
			<-ctx.Done()
			return afpacket.Packet{}, fmt.Errorf("fake read: %w", ctx.Err())
		}
		h.clock.set(deadline)
		return afpacket.Packet{}, os.ErrDeadlineExceeded
	}
	next := h.script[0]
	at := h.opened.Add(next.at)
	if !at.Before(deadline) {
		h.clock.set(deadline)
		return afpacket.Packet{}, os.ErrDeadlineExceeded
	}
	h.script = h.script[1:]
	h.clock.set(at)
	if next.err != nil {
		return afpacket.Packet{}, next.err
	}
	return afpacket.Packet{
		Timestamp: at.UnixNano(), Data: next.data, CaptureLength: len(next.data),
		Length: len(next.data), IfIndex: 3,
	}, nil
}

func (h *fakeHandle) Stats() (afpacket.Stats, error) {
	return afpacket.Stats{Packets: 100, Drops: h.drops}, nil
}
func (h *fakeHandle) LinkType() uint32 { return 1 }
func (h *fakeHandle) Snaplen() int     { return 262144 }
func (h *fakeHandle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return nil
}

// fakeHost opens fakeHandles from per-interface scripts.
type fakeHost struct {
	clock *fakeClock

	mu           sync.Mutex
	scripts      map[string][]scripted
	block        map[string]bool
	rejectFilter bool // refuse every kernel filter, like protochain's
	opens        []afpacket.Config
	handles      map[string]*fakeHandle
	openErr      error
}

func newFakeHost(clock *fakeClock) *fakeHost {
	return &fakeHost{clock: clock, scripts: map[string][]scripted{}, block: map[string]bool{}, handles: map[string]*fakeHandle{}}
}

func (f *fakeHost) open(ifname string, cfg afpacket.Config) (Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens = append(f.opens, cfg)
	if f.openErr != nil {
		return nil, f.openErr
	}
	if f.rejectFilter && cfg.Filter != nil {
		return nil, fmt.Errorf("attach: %w", afpacket.ErrFilterRejected)
	}
	h := &fakeHandle{
		clock: f.clock, opened: f.clock.Now(), script: f.scripts[ifname],
		block: f.block[ifname], blocked: make(chan struct{}), drops: 2,
	}
	f.handles[ifname] = h
	return h, nil
}

func (f *fakeHost) handle(ifname string) *fakeHandle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handles[ifname]
}

// waitBlocked waits until the handle of ifname blocks in a read.
func (f *fakeHost) waitBlocked(t *testing.T, ifname string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h := f.handle(ifname); h != nil {
			select {
			case <-h.blocked:
				return
			case <-time.After(time.Millisecond):
			}
			continue
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("capture on %s never blocked", ifname)
}

// fakeInterfaces is an InterfaceLookup over a fixed set.
func fakeInterfaces(names ...string) InterfaceLookup {
	return func(ifname string) (InterfaceInfo, error) {
		for _, n := range names {
			if n == ifname {
				return InterfaceInfo{LinkType: 1, Netmask: 0xffffff00}, nil
			}
		}
		return InterfaceInfo{}, fmt.Errorf("interface %q: %w", ifname, os.ErrNotExist)
	}
}

// fakeCompile accepts "udp src port 1001" (as a real program), "" and
// "all"; "bad" fails with a positioned error.
func fakeCompile(expr string, opts bpfcompile.Options) ([]bpf.Instruction, error) {
	switch expr {
	case "bad syntax":
		return nil, errors.New("1:5: syntax error: expected expression, found \"syntax\"")
	case "udp src port 1001":
		return []bpf.Instruction{
			bpf.LoadAbsolute{Off: 34, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1001, SkipFalse: 1},
			bpf.RetConstant{Val: uint32(opts.Snaplen)},
			bpf.RetConstant{Val: 0},
		}, nil
	}
	return []bpf.Instruction{bpf.RetConstant{Val: uint32(opts.Snaplen)}}, nil
}

// memSink keeps delivered captures in memory.
type memSink struct {
	name string
	fail error

	mu   sync.Mutex
	got  []*Capture
	data [][]byte
}

func (s *memSink) Name() string { return s.name }

func (s *memSink) Deliver(ctx context.Context, c *Capture) (string, error) {
	if s.fail != nil {
		return "", s.fail
	}
	b, err := io.ReadAll(c.Data.NewReader())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := *c
	cc.Data = nil
	s.got = append(s.got, &cc)
	s.data = append(s.data, b)
	return s.name + "://" + c.FileName, nil
}

func (s *memSink) captures() ([]*Capture, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Capture(nil), s.got...), append([][]byte(nil), s.data...)
}

// chanPublisher sends every result on a channel.
type chanPublisher struct{ ch chan Result }

func (p *chanPublisher) PublishResult(ctx context.Context, r Result) error {
	select {
	case p.ch <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// testAgent is an Agent wired to fakes.
type testAgent struct {
	*Agent
	clock *fakeClock
	host  *fakeHost
	sink  *memSink
	pub   *chanPublisher
	logs  *testenv.SyncBuffer
}

func (ta *testAgent) logText() string {
	return ta.logs.String()
}

func newTestAgent(t *testing.T, cfg Config, opts ...Option) *testAgent {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "cap1.example.net"
	}
	if cfg.Aliases == nil {
		cfg.Aliases = map[string][]string{"main": {"eth0"}, "both": {"eth0", "eth1"}, "public": {"eth1", "eth0"}}
	}
	ta := &testAgent{
		clock: newFakeClock(), sink: &memSink{name: "mem"},
		pub: &chanPublisher{ch: make(chan Result, 100)}, logs: new(testenv.SyncBuffer),
	}
	ta.host = newFakeHost(ta.clock)
	logger := slog.New(slog.NewTextHandler(ta.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	all := append([]Option{
		WithLogger(logger), WithClock(ta.clock), WithOpener(ta.host.open),
		WithInterfaceLookup(fakeInterfaces("eth0", "eth1", "eth2", "lo")),
		WithCompiler(fakeCompile), WithSinks(ta.sink), WithPublishers(ta.pub),
	}, opts...)
	a, err := New(cfg, all...)
	if err != nil {
		t.Fatal(err)
	}
	ta.Agent = a
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return ta
}

// result waits for the next published result.
func (ta *testAgent) result(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-ta.pub.ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no result published")
		return Result{}
	}
}

// noResult checks nothing is published for a moment.
func (ta *testAgent) noResult(t *testing.T) {
	t.Helper()
	select {
	case r := <-ta.pub.ch:
		t.Fatalf("unexpected result %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
}

// frames returns n frames of size bytes, from UDP source ports 1000, 1001, ...
func frames(n, size int, every time.Duration) []scripted {
	out := make([]scripted, n)
	for i := range out {
		out[i] = scripted{at: time.Duration(i+1) * every, data: testFrame(size, uint16(1000+i))}
	}
	return out
}
