package bpfcompile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestErrorSentinels checks that the errors Compile documents as wrapping
// ErrTooLong and ErrRejectsAll match them with errors.Is, and stay *Error
// values with their position for errors.As; other errors match neither.
func TestErrorSentinels(t *testing.T) {
	var prims strings.Builder
	prims.WriteString("ip[0] = 0")
	for i := 1; i <= maxPrimitives; i++ {
		fmt.Fprintf(&prims, " or ip[0] = %d", i%256)
	}
	tests := []struct {
		name, expr string
		want       error // nil: neither sentinel
		pos        Pos
	}{
		{"rejects all", "ip and not ip", ErrRejectsAll, Pos{0, 1, 1}},
		{"too many primitives", prims.String(), ErrTooLong, Pos{0, 1, 1}},
		{"optimized program too long", bpftest.MACChain(1100), ErrTooLong, Pos{0, 1, 1}},
		{"syntax error", "ip and", nil, Pos{6, 1, 7}},
		{"unknown name", "tcp port nosuchservice0", nil, Pos{0, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.expr, Options{LinkType: LinkTypeEthernet})
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%v (%T) is not an *Error", err, err)
			}
			if tt.want != nil && e.Pos != tt.pos {
				t.Errorf("position %+v, want %+v", e.Pos, tt.pos)
			}
			for _, s := range []error{ErrTooLong, ErrRejectsAll} {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
				}
			}
			wrapped := fmt.Errorf("filter %q: %w", "x", err)
			if tt.want != nil && !errors.Is(wrapped, tt.want) {
				t.Errorf("errors.Is through a further wrap fails: %v", wrapped)
			}
		})
	}
}
