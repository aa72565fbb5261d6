package httpapi

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestClient drives the request command's Client against the real server
// over HTTPS with a token: Submit answers the id or a *StatusError with
// the API's status and message; Lookup answers the state, or not found.
func TestClient(t *testing.T) {
	cert := testenv.NewCert(t)
	a := &fakeAgent{}
	state := func(id string) (agent.RequestState, bool) {
		if _, ok := a.Lookup(id); !ok {
			return agent.RequestState{}, false
		}
		return agent.RequestState{ID: id, Phase: agent.PhaseDone, Interfaces: []string{"lo"},
			Results: []agent.Result{{ID: id, Interface: "lo", Status: agent.StatusEmpty}}}, true
	}
	s, err := New(Options{Listen: "127.0.0.1:0", Token: "tok", TLSCert: cert.CertFile, TLSKey: cert.KeyFile}, a, Adapt(state, a.Cancel), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, s)
	ctx := context.Background()
	c := NewClient(base+"/", "tok", cert.Pool)
	if c.Base() != base {
		t.Errorf("Base() = %q, want %q", c.Base(), base)
	}

	id, err := c.Submit(ctx, []byte(`{"id":"c1","node":"any","interface":["lo"]}`))
	if err != nil || id != "c1" {
		t.Fatalf("Submit = %q, %v; want c1", id, err)
	}
	id, err = c.Submit(ctx, []byte(`{"id":"o1","node":"other"}`))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnprocessableEntity || id != "o1" {
		t.Errorf("Submit for another node = %q, %v; want o1 and a 422 StatusError", id, err)
	}

	st, found, err := c.Lookup(ctx, "c1")
	if err != nil || !found || st.Request.Phase != agent.PhaseDone || len(st.Results) != 1 || st.Request.Results[0].Status != agent.StatusEmpty {
		t.Errorf("Lookup(c1) = %+v, %v, %v", st, found, err)
	}
	if _, found, err := c.Lookup(ctx, "nope"); found || err != nil {
		t.Errorf("Lookup(nope) = found %v, %v; want not found", found, err)
	}

	// A wrong token, and a certificate not trusted.
	if _, err := NewClient(base, "bad", cert.Pool).Submit(ctx, []byte(`{"node":"any"}`)); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Errorf("Submit with a wrong token = %v, want a 401 StatusError", err)
	}
	if _, _, err := NewClient(base, "tok", nil).Lookup(ctx, "c1"); err == nil || errors.As(err, &se) {
		t.Errorf("Lookup with an untrusted certificate = %v, want a TLS error", err)
	}
}
