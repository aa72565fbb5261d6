package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// The kinds of name a filter may contain, as the error names them, with
// what to give instead.
const (
	nameHost  = "host"
	nameEther = "Ethernet host"
	nameNet   = "network"
	namePort  = "port"
	nameProto = "protocol"
)

var nameInstead = map[string]string{
	nameHost:  "an IP address",
	nameEther: "a MAC address",
	nameNet:   "a network number such as 10.1 or 10.1.0.0/16",
	namePort:  "a port number",
	nameProto: "a protocol number",
}

// filterResolver is the bpfcompile.Resolver of one filter compilation. A
// requester chooses the names, so every lookup is bounded: a host name
// lookup gets at most timeout and ends with the compilation (an abandoned
// compilation stops querying DNS), and with refuse set no name is looked
// up at all. It remembers the first name that was refused or got no
// answer in time, for the error.
type filterResolver struct {
	next    bpfcompile.Resolver
	ctx     context.Context // the compilation's
	timeout time.Duration   // per host name lookup
	refuse  bool

	mu    sync.Mutex
	first *nameError
}

var _ bpfcompile.Resolver = (*filterResolver)(nil)

// nameError is a filter that failed on a name: refused (names are off) or
// not answered within the lookup timeout.
type nameError struct {
	pos     string // "line:col" of the compiler's error, or ""
	kind    string // nameHost, ...
	name    string
	refused bool
	timeout time.Duration // the lookup's bound, when not refused
}

func (e *nameError) Error() string {
	where := ""
	if e.pos != "" {
		where = e.pos + ": "
	}
	if e.refused {
		return fmt.Sprintf("%s%s name %q refused: this agent looks up no names in filters ([general] filternames = false); give %s",
			where, e.kind, e.name, nameInstead[e.kind])
	}
	return fmt.Sprintf("%sunknown %s %q: no answer to its lookup within %v", where, e.kind, e.name, e.timeout)
}

// Unwrap returns ErrFilterName for a refused name.
func (e *nameError) Unwrap() error {
	if e.refused {
		return ErrFilterName
	}
	return nil
}

// note records the first name problem; it returns err for the compiler.
func (r *filterResolver) note(kind, name string, refused bool, err error) error {
	r.mu.Lock()
	if r.first == nil {
		r.first = &nameError{kind: kind, name: name, refused: refused, timeout: r.timeout}
	}
	r.mu.Unlock()
	return err
}

// problem returns the first name that was refused or timed out, or nil.
func (r *filterResolver) problem() *nameError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// refused returns the error of a refused name of kind.
func (r *filterResolver) refused(kind, name string) error {
	return r.note(kind, name, true, fmt.Errorf("%s %q: %w", kind, name, ErrFilterName))
}

func (r *filterResolver) LookupHost(ctx context.Context, name string) ([]net.IP, error) {
	if r.refuse {
		return nil, r.refused(nameHost, name)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()
	ips, err := r.next.LookupHost(ctx, name)
	if err != nil && ctx.Err() != nil && r.ctx.Err() == nil {
		return nil, r.note(nameHost, name, false, err)
	}
	return ips, err
}

func (r *filterResolver) LookupEther(name string) (net.HardwareAddr, error) {
	if r.refuse {
		return nil, r.refused(nameEther, name)
	}
	return r.next.LookupEther(name)
}

func (r *filterResolver) LookupNet(name string) (uint32, error) {
	if r.refuse {
		return 0, r.refused(nameNet, name)
	}
	return r.next.LookupNet(name)
}

func (r *filterResolver) LookupPort(name, proto string) (int, error) {
	if r.refuse {
		return -1, r.refused(namePort, name)
	}
	return r.next.LookupPort(name, proto)
}

func (r *filterResolver) LookupProto(name string) (int, error) {
	if r.refuse {
		return -1, r.refused(nameProto, name)
	}
	return r.next.LookupProto(name)
}

// withNamePosition returns the name problem of a failed compilation with
// the compiler's position, or nil when the failure was not about a name.
func withNamePosition(res *filterResolver, err error) *nameError {
	ne := res.problem()
	if ne == nil {
		return nil
	}
	out := *ne
	var pe *bpfcompile.Error
	if errors.As(err, &pe) {
		out.pos = pe.Pos.String()
	}
	return &out
}

// errNameDeferred is noNames' answer to every lookup.
var errNameDeferred = errors.New("name lookup deferred")

// noNames is the resolver of a first compilation that must not block: it
// answers no name and records that one was asked for, so that the filter
// is compiled again with a filterResolver (compileFlavour).
type noNames struct{ asked atomic.Bool }

var _ bpfcompile.Resolver = (*noNames)(nil)

func (r *noNames) LookupHost(context.Context, string) ([]net.IP, error) {
	r.asked.Store(true)
	return nil, errNameDeferred
}

func (r *noNames) LookupEther(string) (net.HardwareAddr, error) {
	r.asked.Store(true)
	return nil, errNameDeferred
}

func (r *noNames) LookupNet(string) (uint32, error) {
	r.asked.Store(true)
	return 0, errNameDeferred
}

func (r *noNames) LookupPort(string, string) (int, error) {
	r.asked.Store(true)
	return -1, errNameDeferred
}

func (r *noNames) LookupProto(string) (int, error) {
	r.asked.Store(true)
	return -1, errNameDeferred
}
