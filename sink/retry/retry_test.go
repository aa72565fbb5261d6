package retry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

var errFlaky = errors.New("flaky")

// noSleep records the backoffs instead of waiting.
func noSleep(got *[]time.Duration) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		*got = append(*got, d)
		return ctx.Err()
	}
}

func TestDo(t *testing.T) {
	tests := []struct {
		name         string
		failures     []error // returned by successive calls; then success
		attempts     int
		wantCalls    int
		wantErr      bool
		wantPerm     bool
		wantBackoffs int
	}{
		{name: "first try", attempts: 3, wantCalls: 1},
		{name: "two transient then ok", failures: []error{errFlaky, errFlaky}, attempts: 3, wantCalls: 3, wantBackoffs: 2},
		{name: "exhausted", failures: []error{errFlaky, errFlaky, errFlaky, errFlaky}, attempts: 3, wantCalls: 3, wantErr: true, wantBackoffs: 2},
		{name: "permanent fails fast", failures: []error{Permanent(errFlaky)}, attempts: 5, wantCalls: 1, wantErr: true, wantPerm: true},
		{name: "transient then permanent", failures: []error{errFlaky, fmt.Errorf("wrapped: %w", Permanent(errFlaky))}, attempts: 5, wantCalls: 2, wantErr: true, wantPerm: true, wantBackoffs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slept []time.Duration
			p := Policy{Attempts: tt.attempts, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, Sleep: noSleep(&slept)}
			calls := 0
			err := Do(context.Background(), p, nil, "op", nil, func(ctx context.Context, attempt int) error {
				calls++
				if attempt != calls {
					t.Errorf("attempt = %d, want %d", attempt, calls)
				}
				if calls <= len(tt.failures) {
					return tt.failures[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(slept) != tt.wantBackoffs {
				t.Errorf("backoffs = %v, want %d of them", slept, tt.wantBackoffs)
			}
			if err == nil {
				return
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("err %T is not *Error", err)
			}
			if re.Permanent != tt.wantPerm || re.Attempts != tt.wantCalls {
				t.Errorf("Error = %+v, want Permanent %v Attempts %d", re, tt.wantPerm, tt.wantCalls)
			}
			if !errors.Is(err, errFlaky) {
				t.Errorf("err %v does not wrap the last failure", err)
			}
		})
	}
}

func TestDoClassify(t *testing.T) {
	calls := 0
	err := Do(context.Background(), Policy{Attempts: 5, Sleep: noSleep(new([]time.Duration))}, nil, "op",
		func(error) bool { return false }, func(context.Context, int) error { calls++; return errFlaky })
	if calls != 1 || err == nil {
		t.Fatalf("classify=false: calls %d err %v, want 1 call and an error", calls, err)
	}
}

func TestDoCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	start := time.Now()
	err := Do(ctx, Policy{Attempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour, Jitter: func() float64 { return 0.99 }}, nil, "op", nil,
		func(context.Context, int) error {
			calls++
			if calls == 2 {
				t.Fatal("called again after cancel")
			}
			go cancel()
			return errFlaky
		})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want it to wrap context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancel did not interrupt the backoff")
	}
}

func TestBackoffBounds(t *testing.T) {
	p := Policy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: func() float64 { return 0.999999 }}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		got := p.Backoff(i + 1)
		w *= time.Millisecond
		if got > w || got < w*99/100 {
			t.Errorf("Backoff(%d) = %v, want about %v", i+1, got, w)
		}
	}
	p.Jitter = func() float64 { return 0 }
	if got := p.Backoff(3); got != 0 {
		t.Errorf("Backoff with zero jitter = %v, want 0", got)
	}
	// Large attempt numbers must not overflow.
	p.Jitter = nil
	for i := range 200 {
		if d := p.Backoff(i + 1); d < 0 || d > time.Second {
			t.Fatalf("Backoff(%d) = %v out of [0, 1s]", i+1, d)
		}
	}
}

func TestHTTPStatusTransient(t *testing.T) {
	tests := map[int]bool{
		200: false, 400: false, 401: false, 403: false, 404: false, 409: false,
		408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true,
		501: false, 505: false,
	}
	for code, want := range tests {
		if got := HTTPStatusTransient(code); got != want {
			t.Errorf("HTTPStatusTransient(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestNetworkTransient(t *testing.T) {
	// A real refused connection: listen, note the port, close, dial.
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
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused", refused, true},
		{"deadline", context.DeadlineExceeded, true},
		{"canceled", context.Canceled, false},
		{"plain", errors.New("bad request"), false},
	}
	for _, tt := range tests {
		if got := NetworkTransient(tt.err); got != tt.want {
			t.Errorf("%s: NetworkTransient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func BenchmarkBackoff(b *testing.B) {
	b.ReportAllocs()
	p := DefaultPolicy
	for i := range b.N {
		_ = p.Backoff(i%8 + 1)
	}
}
