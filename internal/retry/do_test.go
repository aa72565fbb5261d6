package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var errFlaky = errors.New("flaky")

func TestDo(t *testing.T) {
	tests := []struct {
		name      string
		failures  []error // returned by successive calls; then success
		attempts  int
		wantCalls int
		wantErr   bool
		wantPerm  bool
		wantWaits int
	}{
		{name: "first try", attempts: 3, wantCalls: 1},
		{name: "two transient then ok", failures: []error{errFlaky, errFlaky}, attempts: 3, wantCalls: 3, wantWaits: 2},
		{name: "exhausted", failures: []error{errFlaky, errFlaky, errFlaky, errFlaky}, attempts: 3, wantCalls: 3, wantErr: true, wantWaits: 2},
		{name: "zero attempts means the default", failures: []error{errFlaky, errFlaky, errFlaky, errFlaky, errFlaky}, wantCalls: DefaultAttempts, wantErr: true, wantWaits: DefaultAttempts - 1},
		{name: "permanent fails fast", failures: []error{Permanent(errFlaky)}, attempts: 5, wantCalls: 1, wantErr: true, wantPerm: true},
		{name: "transient then permanent", failures: []error{errFlaky, fmt.Errorf("wrapped: %w", Permanent(errFlaky))}, attempts: 5, wantCalls: 2, wantErr: true, wantPerm: true, wantWaits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Attempts: tt.attempts, Initial: time.Millisecond, Max: 4 * time.Millisecond}
			var waits []time.Duration
			notify := func(err error, attempts int, wait time.Duration) {
				if attempts != len(waits)+1 || !errors.Is(err, errFlaky) {
					t.Errorf("notify(%v, %d), want the failure of try %d", err, attempts, len(waits)+1)
				}
				waits = append(waits, wait)
			}
			calls := 0
			err := Do(context.Background(), p, notify, func(ctx context.Context) error {
				calls++
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
			if len(waits) != tt.wantWaits {
				t.Errorf("waits = %v, want %d of them", waits, tt.wantWaits)
			}
			for i, w := range waits {
				if want := p.Delay(i + 1); w != want {
					t.Errorf("wait %d = %v, want %v", i+1, w, want)
				}
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
			if IsPermanent(err) != tt.wantPerm {
				t.Errorf("IsPermanent(%v) = %v", err, !tt.wantPerm)
			}
		})
	}
}

// TestDoCancelled: a context ended during a wait (of an hour) or during a
// try ends Do at once, with the context's error in the chain.
func TestDoCancelled(t *testing.T) {
	hour := Policy{Attempts: 10, Initial: time.Hour, Max: time.Hour}
	tests := []struct {
		name string
		fn   func(cancel context.CancelFunc) error
		// cancelInNotify cancels in notify, just before the wait.
		cancelInNotify bool
	}{
		{"during the wait", func(context.CancelFunc) error { return errFlaky }, true},
		{"during the try", func(cancel context.CancelFunc) error { cancel(); return errFlaky }, false},
		{"try fails with the context's error", func(cancel context.CancelFunc) error {
			cancel()
			return fmt.Errorf("request: %w", context.Canceled)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var notify Notify
			if tt.cancelInNotify {
				notify = func(error, int, time.Duration) { cancel() }
			}
			calls := 0
			start := time.Now()
			err := Do(ctx, hour, notify, func(context.Context) error { calls++; return tt.fn(cancel) })
			if time.Since(start) > 10*time.Second {
				t.Fatal("cancel did not interrupt the wait")
			}
			var re *Error
			if !errors.As(err, &re) || !re.Permanent || re.Attempts != 1 || calls != 1 {
				t.Fatalf("Do = %#v after %d calls, want a permanent *Error after 1", err, calls)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want it to wrap context.Canceled", err)
			}
			if strings.Count(err.Error(), "context canceled") != 1 {
				t.Errorf("err = %q, want the cause named once", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	if got := (&Error{Attempts: 3, Err: errFlaky}).Error(); got != "giving up after 3 attempts: flaky" {
		t.Errorf("exhausted: %q", got)
	}
	if got := (&Error{Attempts: 1, Permanent: true, Err: errFlaky}).Error(); got != "flaky" {
		t.Errorf("permanent: %q", got)
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
}

// TestLog: the Notify from Log writes one Warn line per retried failure,
// with the caller's args, the try, the wait and the error.
func TestLog(t *testing.T) {
	if Log(nil) != nil {
		t.Error("Log(nil) is not nil")
	}
	var buf bytes.Buffer
	args := []any{"op", "upload x"}
	n := Log(slog.New(slog.NewTextHandler(&buf, nil)), args...)
	n(errFlaky, 1, time.Second)
	n(errFlaky, 2, 2*time.Second)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{`level=WARN msg="transient failure, retrying" op="upload x" attempt=1 backoff=1s err=flaky`,
		`attempt=2 backoff=2s`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to hold %q", i+1, lines[i], want)
		}
	}
	if len(args) != 2 {
		t.Errorf("Log changed its caller's args: %v", args)
	}
}
