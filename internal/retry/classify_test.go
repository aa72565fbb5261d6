package retry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTransientStatus(t *testing.T) {
	tests := map[int]bool{
		200: false, 400: false, 401: false, 403: false, 404: false, 409: false,
		408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true,
		501: false, 505: false, 600: false,
	}
	for code, want := range tests {
		if got := TransientStatus(code); got != want {
			t.Errorf("TransientStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

// TestTransientNetwork classifies real failures: a refused connection is
// worth another try, a certificate the client does not trust is not.
func TestTransientNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := http.Get("http://" + addr + "/")
	if refused == nil {
		t.Fatal("expected a refused connection")
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	_, untrusted := http.Get(srv.URL) // the default client lacks the test CA
	if untrusted == nil {
		t.Fatal("expected a certificate error")
	}
	tests := []struct {
		name    string
		err     error
		want    bool
		wantBad bool
	}{
		{"nil", nil, false, false},
		{"refused", refused, true, false},
		{"untrusted certificate", untrusted, false, true},
		{"deadline", context.DeadlineExceeded, true, false},
		{"canceled", context.Canceled, false, false},
		{"plain", errors.New("bad request"), false, false},
	}
	for _, tt := range tests {
		if got := TransientNetwork(tt.err); got != tt.want {
			t.Errorf("%s: TransientNetwork(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
		if got := BadCertificate(tt.err); got != tt.wantBad {
			t.Errorf("%s: BadCertificate(%v) = %v, want %v", tt.name, tt.err, got, tt.wantBad)
		}
	}
}
