package agent

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// TestCheckFilter compiles filters as a request would have them compiled
// (the real compiler, the interface's link type and netmask, the
// configured snap length and name rules) and reports what a request would
// be refused for, naming the field.
func TestCheckFilter(t *testing.T) {
	ta := newTestAgent(t, Config{Snaplen: 500, MaxSnaplen: 9000, NoFilterNames: true}, WithCompiler(nil))
	want := func(expr string, snap int) []string {
		t.Helper()
		prog, err := bpfcompile.Compile(expr, bpfcompile.Options{
			LinkType: bpfcompile.LinkTypeEthernet, Snaplen: snap, Netmask: 0xffffff00, Live: true})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		bpfcompile.Dump(&b, prog, bpfcompile.DumpListing)
		return strings.Split(b.String(), "\n")
	}
	for _, tt := range []struct {
		name, expr, iface string
		snap              int64
		wantSnap          int
		wantField         string
		wantPos           string // "line:col" of a *bpfcompile.Error
		wantNameErr       bool
	}{
		{name: "default snap", expr: "tcp port 80", iface: "eth0", wantSnap: 500},
		{name: "request's snap", expr: "udp and src port 2000", iface: "eth1", snap: 1500, wantSnap: 1500},
		{name: "broadcast uses the netmask", expr: "ip broadcast", iface: "eth0", wantSnap: 500},
		{name: "no filter", expr: "  ", iface: "eth0", wantSnap: 500},
		{name: "syntax", expr: "tcp port", iface: "eth0", wantField: "bpf", wantPos: "1:9"},
		{name: "second line", expr: "tcp\nand port 99999", iface: "eth0", wantField: "bpf", wantPos: "2:10"},
		{name: "names refused", expr: "host www.example.com", iface: "eth0", wantField: "bpf", wantNameErr: true},
		{name: "control character", expr: "tcp\x00", iface: "eth0", wantField: "bpf"},
		{name: "too long", expr: strings.Repeat("tcp or ", 2000) + "tcp", iface: "eth0", wantField: "bpf"},
		{name: "unknown interface", expr: "tcp", iface: "eth9", wantField: "interface"},
		{name: "bad interface name", expr: "tcp", iface: "../x", wantField: "interface"},
		{name: "snap above the maximum", expr: "tcp", iface: "eth0", snap: 9001, wantField: "snap"},
		{name: "negative snap", expr: "tcp", iface: "eth0", snap: -1, wantField: "snap"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fc, err := ta.CheckFilter(context.Background(), tt.expr, tt.iface, tt.snap)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("CheckFilter = %v", err)
				}
				if fc.Interface != tt.iface || fc.LinkType != 1 || fc.Snaplen != tt.wantSnap {
					t.Errorf("CheckFilter = %+v, want %s, link type 1, snap %d", fc, tt.iface, tt.wantSnap)
				}
				if strings.TrimSpace(tt.expr) == "" {
					if fc.Program != nil {
						t.Errorf("an empty filter compiled to %v, want no program", fc.Program)
					}
					return
				}
				var b strings.Builder
				bpfcompile.Dump(&b, fc.Program, bpfcompile.DumpListing)
				if got := strings.Split(b.String(), "\n"); !reflect.DeepEqual(got, want(tt.expr, tt.wantSnap)) {
					t.Errorf("program:\n%s\nwant:\n%s", b.String(), strings.Join(want(tt.expr, tt.wantSnap), "\n"))
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.wantField {
				t.Fatalf("CheckFilter = %v, want a validation error for %s", err, tt.wantField)
			}
			var pe *bpfcompile.Error
			if got := errors.As(err, &pe); got != (tt.wantPos != "") || (got && pe.Pos.String() != tt.wantPos) {
				t.Errorf("CheckFilter = %v (position %v), want position %q", err, pe, tt.wantPos)
			}
			if got := errors.Is(err, ErrFilterName); got != tt.wantNameErr {
				t.Errorf("errors.Is(%v, ErrFilterName) = %v", err, got)
			}
		})
	}
	if got := ta.logText(); strings.Contains(got, "rejected") {
		t.Errorf("a filter check was logged as a rejected request:\n%s", got)
	}
}
