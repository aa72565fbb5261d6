package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// countingCompiler is bpfcompile.Compile counting its calls.
type countingCompiler struct{ calls atomic.Int64 }

func (c *countingCompiler) compile(expr string, opts bpfcompile.Options) ([]bpf.Instruction, error) {
	c.calls.Add(1)
	return bpfcompile.Compile(expr, opts)
}

// compileArgs are the inputs of one compileFlavour call.
type compileArgs struct {
	expr    string
	info    InterfaceInfo
	snaplen int
	live    bool
	noNames bool
}

func (c compileArgs) run(t *testing.T, a *Agent) []bpf.Instruction {
	t.Helper()
	cfg := Config{NoFilterNames: c.noNames}.withDefaults()
	prog, raw, err := a.compileFlavour(context.Background(), &cfg, c.expr, c.info, c.snaplen, c.live)
	if err != nil {
		t.Fatalf("compiling %q: %v", c.expr, err)
	}
	if cap(prog) != len(prog) || cap(raw) != len(raw) {
		t.Errorf("program of %q shared with spare capacity (%d/%d, %d/%d): an append would write into it", c.expr, len(prog), cap(prog), len(raw), cap(raw))
	}
	return prog
}

// want is the program bpfcompile makes for c, compiled afresh.
func (c compileArgs) want(t *testing.T) []bpf.Instruction {
	t.Helper()
	prog, err := bpfcompile.Compile(c.expr, bpfcompile.Options{
		LinkType: bpfcompile.LinkType(c.info.LinkType), Snaplen: c.snaplen, Netmask: c.info.Netmask, Live: c.live,
	})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestFilterCacheKey checks that a filter compiled again with the same
// inputs comes from the cache (no compilation, a hit in Metrics), and
// that changing any input that changes the program — expression, link
// type, netmask, snap length, live or savefile flavour, the filternames
// setting — compiles the program for the new inputs.
func TestFilterCacheKey(t *testing.T) {
	eth := InterfaceInfo{LinkType: uint32(bpfcompile.LinkTypeEthernet), Netmask: 0xffffff00}
	tests := []struct {
		name   string
		expr   string // "": ip broadcast and udp
		change func(*compileArgs)
	}{
		{"filter", "", func(c *compileArgs) { c.expr = "ip broadcast and tcp" }},
		{"netmask", "", func(c *compileArgs) { c.info.Netmask = 0xffff0000 }},
		{"link type", "", func(c *compileArgs) { c.info.LinkType = uint32(bpfcompile.LinkTypeRaw) }},
		{"snap length", "", func(c *compileArgs) { c.snaplen = 96 }},
		{"savefile flavour", "vlan 10 and udp", func(c *compileArgs) { c.live = false }},
		{"filternames off", "", func(c *compileArgs) { c.noNames = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := compileArgs{expr: "ip broadcast and udp", info: eth, snaplen: 262144, live: true}
			if tt.expr != "" {
				base.expr = tt.expr
			}
			var cc countingCompiler
			ta := newTestAgent(t, Config{}, WithCompiler(cc.compile))
			if got, want := base.run(t, ta.Agent), base.want(t); !reflect.DeepEqual(got, want) {
				t.Fatalf("first compilation:\n got %v\nwant %v", got, want)
			}
			if got, want := base.run(t, ta.Agent), base.want(t); !reflect.DeepEqual(got, want) {
				t.Fatalf("from the cache:\n got %v\nwant %v", got, want)
			}
			if n := cc.calls.Load(); n != 1 {
				t.Fatalf("the same filter twice: %d compilations, want 1", n)
			}
			if m := ta.Metrics(); m.FilterCacheHits != 1 || m.FilterCacheMisses != 1 {
				t.Errorf("metrics: %d hits, %d misses, want 1 and 1", m.FilterCacheHits, m.FilterCacheMisses)
			}
			changed := base
			tt.change(&changed)
			got, want := changed.run(t, ta.Agent), changed.want(t)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after the change:\n got %v\nwant %v", got, want)
			}
			if reflect.DeepEqual(want, base.want(t)) && !changed.noNames {
				t.Fatalf("the change does not change the program: the row tests nothing")
			}
			if n := cc.calls.Load(); n != 2 {
				t.Errorf("after the change: %d compilations, want 2", n)
			}
		})
	}
}

// hostResolver answers one address for every host name, which the test
// changes, and counts the lookups of each kind.
type hostResolver struct {
	bpfcompile.Resolver
	mu    sync.Mutex
	ip    net.IP
	calls int
}

func (r *hostResolver) LookupHost(ctx context.Context, name string) ([]net.IP, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return []net.IP{r.ip}, nil
}

func (r *hostResolver) LookupPort(name, proto string) (int, error) {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	return r.Resolver.LookupPort(name, proto)
}

func (r *hostResolver) set(ip string) {
	r.mu.Lock()
	r.ip = net.ParseIP(ip)
	r.mu.Unlock()
}

// TestFilterCacheNames checks that a filter whose compilation looked up a
// name is never taken from the cache: a host name that resolves to
// another address the second time gets the program for that address, and
// a service name is looked up at every compilation.
func TestFilterCacheNames(t *testing.T) {
	eth := InterfaceInfo{LinkType: uint32(bpfcompile.LinkTypeEthernet), Netmask: bpfcompile.NetmaskUnknown}
	res := &hostResolver{Resolver: bpfcompile.DefaultResolver()}
	ta := newTestAgent(t, Config{}, WithCompiler(nil), WithResolver(res))

	res.set("198.18.0.1")
	host := compileArgs{expr: "host db.example.test", info: eth, snaplen: 262144, live: true}
	first := host.run(t, ta.Agent)
	res.set("198.18.0.2")
	second := host.run(t, ta.Agent)
	want := compileArgs{expr: "host 198.18.0.2", info: eth, snaplen: 262144, live: true}.want(t)
	if !reflect.DeepEqual(second, want) {
		t.Errorf("after the name changed address:\n got %v\nwant %v (the program of 198.18.0.2)", second, want)
	}
	if reflect.DeepEqual(first, second) {
		t.Errorf("the same program for both addresses")
	}

	port := compileArgs{expr: "tcp port http", info: eth, snaplen: 262144, live: true}
	before := res.calls
	port.run(t, ta.Agent)
	port.run(t, ta.Agent)
	if res.calls-before < 2 {
		t.Errorf("a service name twice: %d lookups, want one per compilation at least", res.calls-before)
	}
	if m := ta.Metrics(); m.FilterCacheHits != 0 {
		t.Errorf("%d cache hits for filters with names, want 0", m.FilterCacheHits)
	}
}

// TestFilterCacheNamesRefused checks that with filternames off a filter
// with a name is refused every time, not only at its first compilation.
func TestFilterCacheNamesRefused(t *testing.T) {
	ta := newTestAgent(t, Config{NoFilterNames: true}, WithCompiler(nil))
	cfg := ta.cfg
	info := InterfaceInfo{LinkType: uint32(bpfcompile.LinkTypeEthernet)}
	for i := range 2 {
		_, _, err := ta.compileFlavour(context.Background(), &cfg, "tcp port http", info, 262144, true)
		var ne *nameError
		if !errors.As(err, &ne) || !errors.Is(err, ErrFilterName) || ne.name != "http" {
			t.Fatalf("compilation %d: %v, want the name http refused", i+1, err)
		}
	}
}

// TestFilterCacheBounds checks the cache's bounds: at most maxEntries
// programs and maxBytes of them, the least recently used evicted first,
// and a program bigger than the whole cache not kept.
func TestFilterCacheBounds(t *testing.T) {
	prog := []bpf.Instruction{bpf.RetConstant{Val: 1}}
	raw := []bpf.RawInstruction{{Op: 6, K: 1}}
	key := func(i int) progKey { return progKey{expr: fmt.Sprintf("port %d", i)} }

	t.Run("entries", func(t *testing.T) {
		c := newProgCache(8, 1<<20)
		for i := range 8 {
			c.put(key(i), prog, raw)
		}
		if _, _, ok := c.get(key(0)); !ok { // 0 is now the most recently used
			t.Fatal("entry 0 missing before the cache was full")
		}
		c.put(key(8), prog, raw)
		if _, _, n, _ := c.stats(); n != 8 {
			t.Errorf("%d entries, the bound is 8", n)
		}
		if _, _, ok := c.get(key(1)); ok {
			t.Error("entry 1, the least recently used, was not evicted")
		}
		for _, i := range []int{0, 2, 8} {
			if _, _, ok := c.get(key(i)); !ok {
				t.Errorf("entry %d evicted", i)
			}
		}
	})
	t.Run("bytes", func(t *testing.T) {
		size := entrySize(key(0), prog, raw)
		c := newProgCache(100, 3*size)
		for i := range 10 {
			c.put(key(i), prog, raw)
			if _, _, _, b := c.stats(); b > 3*size {
				t.Fatalf("after %d puts: %d bytes, the bound is %d", i+1, b, 3*size)
			}
		}
		if _, _, n, _ := c.stats(); n != 3 {
			t.Errorf("%d entries, want the 3 that fit", n)
		}
		for i := 7; i < 10; i++ {
			if _, _, ok := c.get(key(i)); !ok {
				t.Errorf("entry %d, one of the newest, evicted", i)
			}
		}
	})
	t.Run("too big", func(t *testing.T) {
		c := newProgCache(100, 1024)
		big := make([]bpf.Instruction, 100)
		for i := range big {
			big[i] = bpf.RetConstant{Val: 1}
		}
		c.put(key(0), prog, raw)
		c.put(key(1), big, make([]bpf.RawInstruction, 100))
		if _, _, ok := c.get(key(1)); ok {
			t.Error("a program bigger than the cache was kept")
		}
		if _, _, ok := c.get(key(0)); !ok {
			t.Error("a program bigger than the cache evicted the others")
		}
	})
}
