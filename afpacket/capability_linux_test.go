//go:build linux

package afpacket_test

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestCheckCapability runs CheckCapability on a thread that has dropped
// CAP_NET_RAW (capabilities are per thread; the thread is discarded after).
func TestCheckCapability(t *testing.T) {
	testenv.RequireRoot(t)
	const netRaw = 1 << unix.CAP_NET_RAW
	tests := []struct {
		name      string
		drop      func(d *[2]unix.CapUserData)
		wantErr   bool
		wantWords []string
	}{
		{name: "root", drop: func(*[2]unix.CapUserData) {}},
		{
			name:      "not effective",
			drop:      func(d *[2]unix.CapUserData) { d[0].Effective &^= netRaw },
			wantErr:   true,
			wantWords: []string{"CAP_NET_RAW", "permitted but not effective"},
		},
		{
			name:      "not permitted",
			drop:      func(d *[2]unix.CapUserData) { d[0].Effective &^= netRaw; d[0].Permitted &^= netRaw },
			wantErr:   true,
			wantWords: []string{"CAP_NET_RAW", "effective capabilities", "setcap cap_net_raw+ep"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errc := make(chan error, 2)
			go func() {
				runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
				hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
				var d [2]unix.CapUserData
				if err := unix.Capget(&hdr, &d[0]); err != nil {
					errc <- err
					return
				}
				tt.drop(&d)
				if err := unix.Capset(&hdr, &d[0]); err != nil {
					errc <- err
					return
				}
				errc <- afpacket.CheckCapability()
				c, err := afpacket.Open("lo", afpacket.Config{})
				if err == nil {
					c.Close()
				}
				errc <- err
			}()
			err, openErr := <-errc, <-errc
			t.Logf("CheckCapability: %v", err)
			if tt.wantErr != errors.Is(openErr, os.ErrPermission) {
				t.Errorf("Open = %v, want os.ErrPermission: %v", openErr, tt.wantErr)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CheckCapability = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckCapability = nil, want an error")
			}
			if !errors.Is(err, os.ErrPermission) {
				t.Errorf("error %v does not match os.ErrPermission", err)
			}
			for _, w := range tt.wantWords {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
