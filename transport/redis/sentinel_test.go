package redis

import (
	"fmt"
	"testing"
)

// TestSentinel subscribes through a real sentinel that monitors a real
// master, as a fleet deployment would.
func TestSentinel(t *testing.T) {
	master := startServer(t, "requirepass pw")
	sentinel := startServer(t,
		fmt.Sprintf("sentinel monitor pcapmaster 127.0.0.1 %d 1", master.port),
		"sentinel auth-pass pcapmaster pw")
	o := Options{Addrs: []string{sentinel.addr()}, Mode: "sentinel", MasterSet: "pcapmaster", Password: "pw", Channel: "capture"}
	sub := make(chanSubmitter, 1)
	tr, err := New(o, sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	publish(t, Options{Addrs: []string{master.addr()}, Password: "pw", Mode: "single"}, "capture", "via sentinel")
	expect(t, sub, "via sentinel")
}
