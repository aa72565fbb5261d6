package httpapi

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// TestClientCancel cancels through the real server: a running request
// (204), then an id the daemon does not run (a 404 StatusError).
func TestClientCancel(t *testing.T) {
	a := &fakeAgent{}
	state := func(id string) (agent.RequestState, bool) { return agent.RequestState{}, false }
	s, err := New(Options{Listen: "127.0.0.1:0", Token: "tok"}, a, Adapt(state, a.Cancel), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(serve(t, s), "tok", nil)
	ctx := context.Background()
	if _, err := c.Submit(ctx, []byte(`{"id":"k1","node":"any","interface":["lo"]}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, "k1"); err != nil {
		t.Errorf("Cancel(k1) = %v", err)
	}
	var se *StatusError
	if err := c.Cancel(ctx, "nope"); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("Cancel(nope) = %v, want a 404 StatusError", err)
	}
}
