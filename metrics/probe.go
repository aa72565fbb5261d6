package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// The states of a Probe.
const (
	ProbeConnecting = "connecting" // nothing answered yet
	ProbeConnected  = "connected"  // a connection was made, no reply yet (a long poll waits)
	ProbeUp         = "receiving"  // the last reply was a success
	ProbeFailing    = "failing"    // the last reply was an error status
	ProbeDown       = "down"       // the last request got no reply
)

// Probe is an http.RoundTripper that watches a dependency reached through
// it (the SQS queue, through the SDK's HTTP client): the outcome of the
// last request says whether the dependency works. A long poll answers only
// when a message arrives or its wait ends, so a first connection already
// counts as connected.
type Probe struct {
	base http.RoundTripper

	mu    sync.Mutex
	state string
	err   error
}

// NewProbe returns a Probe sending requests through base
// (http.DefaultTransport when nil).
func NewProbe(base http.RoundTripper) *Probe {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Probe{base: base, state: ProbeConnecting}
}

// RoundTrip implements http.RoundTripper.
func (p *Probe) RoundTrip(req *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		p.mu.Lock()
		if p.state == ProbeConnecting {
			p.state = ProbeConnected
		}
		p.mu.Unlock()
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := p.base.RoundTrip(req)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil:
		if req.Context().Err() != nil {
			break // our own cancellation says nothing about the server
		}
		p.state, p.err = ProbeDown, fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, err)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		p.state, p.err = ProbeUp, nil
	default:
		p.state, p.err = ProbeFailing, fmt.Errorf("%s %s: HTTP %s", req.Method, req.URL.Host, resp.Status)
	}
	return resp, err
}

// State returns the probe's state and, unless the dependency works, why.
func (p *Probe) State() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case ProbeConnected, ProbeUp:
		return p.state, nil
	case ProbeConnecting:
		return p.state, fmt.Errorf("no connection made yet")
	}
	return p.state, p.err
}
