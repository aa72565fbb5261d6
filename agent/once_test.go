package agent

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// onceOptions are the fakes CaptureOnce runs against: one interface eth0
// with a fakeHandle playing script.
func onceOptions(clock *fakeClock, script []scripted, opened *[]afpacket.Config) []Option {
	host := newFakeHost(clock)
	host.scripts["eth0"] = script
	return []Option{
		WithClock(clock),
		WithInterfaceLookup(func(name string) (InterfaceInfo, error) {
			if name != "eth0" {
				return InterfaceInfo{}, errors.New("no such interface")
			}
			return InterfaceInfo{LinkType: 1}, nil
		}),
		WithOpener(func(name string, cfg afpacket.Config) (Handle, error) {
			*opened = append(*opened, cfg)
			return host.open(name, cfg)
		}),
	}
}

func TestCaptureOnceStops(t *testing.T) {
	frames := make([]scripted, 10)
	for i := range frames {
		frames[i] = scripted{at: time.Duration(i+1) * time.Second, data: testFrame(60+i, uint16(i))}
	}
	tests := []struct {
		name    string
		spec    CaptureSpec
		reason  StopReason
		packets uint64
	}{
		{"packets", CaptureSpec{Packets: 3}, StopPackets, 3},
		{"bytes", CaptureSpec{Bytes: 24 + 2*(16+60)}, StopBytes, 2},
		{"duration", CaptureSpec{Duration: 4500 * time.Millisecond}, StopDuration, 4},
		{"timeout after the script", CaptureSpec{Timeout: 3 * time.Second}, StopTimeout, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opened []afpacket.Config
			spec := tt.spec
			spec.Interface = "eth0"
			var armed []CaptureInfo
			var seen int
			spec.Armed = func(i CaptureInfo) { armed = append(armed, i) }
			spec.Packet = func(ts int64, data []byte, wire int) { seen++ }
			sum, data, err := CaptureOnce(context.Background(), spec, onceOptions(newFakeClock(), frames, &opened)...)
			if err != nil {
				t.Fatal(err)
			}
			if sum.StopReason != tt.reason || sum.Packets != tt.packets || seen != int(tt.packets) {
				t.Errorf("stopped by %q after %d packets (%d seen), want %q after %d", sum.StopReason, sum.Packets, seen, tt.reason, tt.packets)
			}
			want := []CaptureInfo{{Interface: "eth0", LinkType: 1, Snaplen: DefaultMaxSnaplen}}
			if d := cmp.Diff(want, armed); d != "" {
				t.Errorf("Armed (-want +got):\n%s", d)
			}
			if !sum.StatsKnown || sum.Received != 100 || sum.KernelDrops != 2 {
				t.Errorf("kernel counters %+v", sum)
			}
			if len(opened) != 1 || opened[0].Filter != nil || opened[0].Snaplen != DefaultMaxSnaplen {
				t.Errorf("opened %+v", opened)
			}
			if sum.Bytes != uint64(data.Len()) {
				t.Errorf("summary says %d bytes, data has %d", sum.Bytes, data.Len())
			}
			r, err := pcapgo.NewReader(data.NewReader())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for ; ; n++ {
				if _, _, err := r.ReadPacketData(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if n != int(tt.packets) {
				t.Errorf("file holds %d packets, want %d", n, tt.packets)
			}
		})
	}
}

func TestCaptureOnceCancel(t *testing.T) {
	var opened []afpacket.Config
	clock := newFakeClock()
	opts := onceOptions(clock, nil, &opened)
	ctx, cancel := context.WithCancel(context.Background())
	// The handle has no script and idles deadline after deadline: only the
	// context ends the capture. Cancel it once the socket is armed.
	sum, data, err := CaptureOnce(ctx, CaptureSpec{Interface: "eth0", Format: FormatPcapNG, Armed: func(CaptureInfo) { cancel() }}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if sum.StopReason != StopShutdown || sum.Packets != 0 || data.Len() == 0 {
		t.Errorf("summary %+v, %d bytes", sum, data.Len())
	}
	if _, err := pcapgo.NewNgReader(data.NewReader(), pcapgo.DefaultNgReaderOptions); err != nil {
		t.Errorf("empty pcapng: %v", err)
	}
}

func TestCaptureOnceErrors(t *testing.T) {
	tests := []struct {
		name string
		spec CaptureSpec
		pos  string // the filter error's position, "" for other errors
	}{
		{"no interface", CaptureSpec{Interface: "eth9"}, ""},
		{"bad interface name", CaptureSpec{Interface: "a/b"}, ""},
		{"filter", CaptureSpec{Interface: "eth0", Filter: "udp and port"}, "1:13"},
		{"format", CaptureSpec{Interface: "eth0", Format: "json"}, ""},
		{"snaplen", CaptureSpec{Interface: "eth0", Snaplen: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opened []afpacket.Config
			_, data, err := CaptureOnce(context.Background(), tt.spec, onceOptions(newFakeClock(), nil, &opened)...)
			if err == nil || data != nil || len(opened) != 0 {
				t.Fatalf("got %v, data %v, %d opens; want an error before any open", err, data, len(opened))
			}
			var ce *bpfcompile.Error
			if tt.pos != "" && (!errors.As(err, &ce) || ce.Pos.String() != tt.pos) {
				t.Errorf("error %v, want a *bpfcompile.Error at %s", err, tt.pos)
			}
		})
	}
}

func TestCaptureOnceOpenError(t *testing.T) {
	var opened []afpacket.Config
	opts := append(onceOptions(newFakeClock(), nil, &opened), WithOpener(func(string, afpacket.Config) (Handle, error) {
		return nil, afpacket.ErrFilterRejected // no program to fall back to: no filter
	}))
	_, data, err := CaptureOnce(context.Background(), CaptureSpec{Interface: "eth0"}, opts...)
	if !errors.Is(err, afpacket.ErrFilterRejected) || data != nil {
		t.Errorf("got %v, %v", err, data)
	}
}
