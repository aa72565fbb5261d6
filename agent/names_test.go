package agent

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// countingResolver is bpfcompile's default resolver that counts the
// lookups asked of it; host names go to dns when it is set.
type countingResolver struct {
	bpfcompile.Resolver
	dns   *net.Resolver
	calls atomic.Int64
}

func newCountingResolver(dns *net.Resolver) *countingResolver {
	return &countingResolver{Resolver: bpfcompile.DefaultResolver(), dns: dns}
}

func (r *countingResolver) LookupHost(ctx context.Context, name string) ([]net.IP, error) {
	r.calls.Add(1)
	if r.dns == nil {
		return r.Resolver.LookupHost(ctx, name)
	}
	addrs, err := r.dns.LookupIPAddr(ctx, name)
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, err
}

func (r *countingResolver) LookupEther(name string) (net.HardwareAddr, error) {
	r.calls.Add(1)
	return r.Resolver.LookupEther(name)
}

func (r *countingResolver) LookupNet(name string) (uint32, error) {
	r.calls.Add(1)
	return r.Resolver.LookupNet(name)
}

func (r *countingResolver) LookupPort(name, proto string) (int, error) {
	r.calls.Add(1)
	return r.Resolver.LookupPort(name, proto)
}

func (r *countingResolver) LookupProto(name string) (int, error) {
	r.calls.Add(1)
	return r.Resolver.LookupProto(name)
}

// TestFilterNamesOff checks [general] filternames = false: a filter naming
// a host, network, port or protocol is refused with an error naming the
// field and the name, without any lookup; numbers still work.
func TestFilterNamesOff(t *testing.T) {
	tests := []struct {
		name   string
		bpf    string
		refuse string // the name the error must quote; "" = accepted
		kind   string
	}{
		{name: "host name", bpf: "host example", refuse: "example", kind: "host"},
		{name: "host name in an expression", bpf: "tcp and src host db.example.net", refuse: "db.example.net", kind: "host"},
		{name: "port name", bpf: "tcp port http", refuse: "http", kind: "port"},
		{name: "network name", bpf: "net localnet", refuse: "localnet", kind: "network"},
		{name: "ethernet name", bpf: "ether host gateway1", refuse: "gateway1", kind: "Ethernet host"},
		{name: "protocol name", bpf: `ip proto \ospf`, refuse: "ospf", kind: "protocol"},
		{name: "host address", bpf: "host 198.18.0.1"},
		{name: "ipv6 address", bpf: "host 2001:db8::1"},
		{name: "port number", bpf: "tcp port 80"},
		{name: "network number", bpf: "net 10.0.0.0/8"},
		{name: "mac address", bpf: "ether host 02:00:00:00:00:01"},
		{name: "protocol number", bpf: "ip proto 89"},
		{name: "keywords", bpf: "tcp or udp or icmp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newCountingResolver(nil)
			ta := newTestAgent(t, Config{NoFilterNames: true}, WithCompiler(nil), WithResolver(res))
			ta.host.block["eth0"] = true
			msg := `{"node":"any","interface":["eth0"],"bpf":` + quoteJSON(tt.bpf) + `}`
			_, err := ta.Submit(context.Background(), []byte(msg), "test")
			if n := res.calls.Load(); n != 0 {
				t.Errorf("%d lookups with names turned off", n)
			}
			if tt.refuse == "" {
				if err != nil {
					t.Fatalf("filter %q: %v", tt.bpf, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "bpf" || !errors.Is(err, ErrFilterName) {
				t.Fatalf("filter %q: Submit = %v, want a bpf *ValidationError wrapping ErrFilterName", tt.bpf, err)
			}
			t.Logf("%s", err)
			for _, want := range []string{tt.kind + ` name "` + tt.refuse + `"`, "filternames = false"} {
				if !strings.Contains(ve.Reason, want) {
					t.Errorf("reason %q does not say %q", ve.Reason, want)
				}
			}
			if r := ta.result(t); r.Status != StatusRejected || r.Error != err.Error() {
				t.Errorf("result %+v, want rejected with %q", r, err)
			}
		})
	}
}

// TestSlowNameLookup compiles a filter whose host name goes to a DNS
// server that never answers: the request is rejected once the lookup
// timeout passes, naming the host, not after the whole compile budget.
func TestSlowNameLookup(t *testing.T) {
	dns := testenv.StartSilentDNS(t)
	res := newCountingResolver(dns.Resolver())
	const nameTimeout = 300 * time.Millisecond
	ta := newTestAgent(t, Config{NameTimeout: nameTimeout, CompileTimeout: 5 * time.Second}, WithCompiler(nil), WithResolver(res))
	start := time.Now()
	_, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth0"],"bpf":"host slow.example.net"}`), "test")
	took := time.Since(start)
	t.Logf("a filter with a host name nobody answers for was rejected after %v", took.Round(time.Millisecond))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "bpf" || errors.Is(err, ErrFilterName) {
		t.Fatalf("Submit = %v, want a bpf *ValidationError", err)
	}
	if !strings.Contains(ve.Reason, `"slow.example.net"`) || !strings.Contains(ve.Reason, "within "+nameTimeout.String()) {
		t.Errorf("reason %q does not name the host and the lookup timeout", ve.Reason)
	}
	if took > 2*time.Second {
		t.Errorf("rejected after %v, want about the %v lookup timeout", took, nameTimeout)
	}
	if dns.Queries() == 0 {
		t.Error("the DNS server got no query")
	}
}

// blockingResolver answers host lookups only once released.
type blockingResolver struct {
	bpfcompile.Resolver
	asked   chan string
	release chan struct{}
}

func (r *blockingResolver) LookupHost(ctx context.Context, name string) ([]net.IP, error) {
	r.asked <- name
	select {
	case <-r.release:
		return []net.IP{net.IPv4(198, 18, 0, 1)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestCancelWhilePlanning cancels a request while its filter is still
// being compiled (a slow name lookup): the cancel is not lost, the
// capture ends at once with stop reason cancelled.
func TestCancelWhilePlanning(t *testing.T) {
	res := &blockingResolver{Resolver: bpfcompile.DefaultResolver(), asked: make(chan string, 1), release: make(chan struct{})}
	ta := newTestAgent(t, Config{NameTimeout: 10 * time.Second, CompileTimeout: 10 * time.Second}, WithCompiler(nil), WithResolver(res))
	ta.host.block["eth0"] = true
	done := make(chan error, 1)
	go func() {
		_, err := ta.Submit(context.Background(), []byte(`{"id":"planned","node":"any","interface":["eth0"],"bpf":"host wait.example"}`), "test")
		done <- err
	}()
	select {
	case <-res.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the filter's host name was not looked up")
	}
	if err := ta.Cancel("planned"); err != nil {
		t.Fatalf("Cancel while the filter compiles = %v", err)
	}
	if err := ta.Cancel("unknown"); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Cancel of an unknown id = %v, want ErrUnknownID", err)
	}
	close(res.release)
	if err := <-done; err != nil {
		t.Fatalf("Submit = %v", err)
	}
	r := ta.result(t)
	if r.ID != "planned" || r.StopReason != StopCancelled {
		t.Errorf("result %+v, want request planned cancelled", r)
	}
}

func quoteJSON(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
