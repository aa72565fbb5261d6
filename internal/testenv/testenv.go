// Package testenv holds helpers shared by the project's tests: the privilege
// gate that turns skips into failures when PCAPDAEMON_REQUIRE_PRIV=1, free
// loopback ports, test servers run as processes (redis-server, binaries
// found by their Go package), a self-signed certificate, a buffer safe for
// concurrent use, an Ethernet/IPv4/UDP frame builder, a reader of a
// daemon's /metrics and the seed's example configuration.
package testenv

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// RequirePrivEnv is the environment variable that makes privileged tests fail
// instead of skipping (set by .ci/run).
const RequirePrivEnv = "PCAPDAEMON_REQUIRE_PRIV"

// Skip skips the test with reason, or fails it when PCAPDAEMON_REQUIRE_PRIV=1:
// in CI a skipped capture test counts as a failure.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequirePrivEnv) == "1" {
		t.Fatalf("%s (and %s=1 forbids skipping)", reason, RequirePrivEnv)
	}
	t.Skip(reason)
}

// RequireRoot skips (or fails, see Skip) unless the test runs as root with
// CAP_NET_ADMIN and CAP_NET_RAW, which network namespaces and packet sockets need.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root for network namespaces and AF_PACKET sockets")
		return
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		Skip(t, "cannot open an AF_PACKET socket (needs CAP_NET_RAW): "+err.Error())
		return
	}
	unix.Close(fd)
}
