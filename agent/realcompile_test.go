package agent

import (
	"context"
	"errors"
	"regexp"
	"testing"
)

// TestRealCompiler runs the request's filter through bpfcompile: a valid
// one is attached to the handle, an invalid one is rejected with the
// compiler's positioned message.
func TestRealCompiler(t *testing.T) {
	ta := newTestAgent(t, Config{}, WithCompiler(nil))
	ta.host.block["eth0"] = true
	submit(t, ta, `{"node":"any","interface":["eth0"],"bpf":"udp and src port 2000"}`)
	ta.host.waitBlocked(t, "eth0")
	if f := ta.host.opens[0].Filter; len(f) < 4 {
		t.Errorf("attached filter has %d instructions", len(f))
	}
	_, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth0"],"bpf":"udp and src port"}`), "test")
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "bpf" || !regexp.MustCompile(`^1:\d+: .*\(compiling for interface eth0, link type 1\)$`).MatchString(ve.Reason) {
		t.Errorf("invalid filter: %v", err)
	}
}
