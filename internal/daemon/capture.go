package daemon

import (
	"errors"
	"log/slog"
	"os"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/metrics"
)

// checkCapture finds out at start whether this process may open packet
// sockets. When it may not, the daemon still starts — the README's first
// command is `go run .` as an ordinary user, and the HTTP API, metrics and
// request validation work without privileges — but it says loudly and
// precisely what is missing, reports it on /readyz and in
// pcapdaemon_capture_capable, and every capture it admits fails with the
// same explanation in its result.
func checkCapture(log *slog.Logger, reg *metrics.Registry, health *metrics.Health) error {
	err := afpacket.CheckCapability()
	reg.SetCaptureCapable(err == nil)
	health.AddCheck("capture", func() error { return err })
	if err != nil {
		log.Error("packet capture is not possible: every capture request will fail until this is fixed", "error", err)
	}
	return err
}

// captureOpener is the agent's Opener: open (agent.OpenAFPacket, or a
// pool's), with a permission error explained (which capability is missing
// and how to grant it) instead of a bare "operation not permitted".
// startErr is what checkCapture found.
func captureOpener(startErr error, open agent.Opener) agent.Opener {
	return func(ifname string, cfg afpacket.Config) (agent.Handle, error) {
		h, err := open(ifname, cfg)
		if err == nil || !errors.Is(err, os.ErrPermission) {
			return h, err
		}
		why := startErr
		if why == nil {
			// Capable at start, refused now: look again.
			why = afpacket.CheckCapability()
		}
		if why != nil {
			// It names the syscall and wraps EPERM, as err does, and says
			// what to change.
			return nil, why
		}
		return nil, err
	}
}
