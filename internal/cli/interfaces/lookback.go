package interfaces

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// Lookback is an interface's look-back ring in the output of "pcapdaemon
// interfaces": as the configuration sets it and, when the daemon's HTTP
// API answered, what it holds now.
type Lookback struct {
	// Bytes is the history configured ([[interface]] lookback), RingBytes
	// the ring's memory, charged to general.maxmemory.
	Bytes     int64 `json:"bytes"`
	RingBytes int64 `json:"ring_bytes"`
	// HeldBytes and Seconds are the bytes of the blocks holding history
	// and the time span they hold, as the daemon said (absent when it
	// could not be asked).
	HeldBytes *int64   `json:"held_bytes,omitempty"`
	Seconds   *float64 `json:"seconds,omitempty"`
}

// apiTimeout bounds the question to the daemon's API.
const apiTimeout = 2 * time.Second

// addLookback gives the interfaces of list the look-back rings cfg
// configures (adding "any", which the host does not list, when it has
// one), and what each holds when the daemon answers at cfg's [http]
// listen (with its token).
func addLookback(list []Info, cfg *config.Config, file string, environ []string) []Info {
	rings := fromconfig.Lookback(cfg)
	if len(rings) == 0 {
		return list
	}
	held := daemonInterfaces(file, environ)
	for _, r := range rings {
		i := slices.IndexFunc(list, func(in Info) bool { return in.Name == r.Interface })
		if i < 0 {
			list = append([]Info{{Name: r.Interface, LinkType: linkTypeName(afpacket.LinkTypeLinuxSLL2), DLT: afpacket.LinkTypeLinuxSLL2,
				ARPHRD: -1, Flags: []string{}, Addresses: []string{}, Aliases: []string{}}}, list...)
			i = 0
		}
		lb := &Lookback{Bytes: r.Bytes, RingBytes: agent.LookbackRingBytes(r)}
		if in, ok := held[r.Interface]; ok {
			lb.HeldBytes, lb.Seconds = &in.LookbackBytes, &in.Lookback
		}
		list[i].Lookback = lb
	}
	return list
}

// daemonInterfaces asks the daemon's API (GET /v1/agent) for its
// interfaces, by name; nil when it has none or does not answer.
func daemonInterfaces(file string, environ []string) map[string]httpapi.InterfaceInfo {
	s, err := request.Resolve(request.TransportFlags{Config: file, Via: "http", Given: map[string]string{}}, environ)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	info, err := httpapi.NewClient(s.HTTPURL, s.Token, s.HTTPRoots).Agent(ctx)
	if err != nil {
		return nil
	}
	m := make(map[string]httpapi.InterfaceInfo, len(info.Interfaces))
	for _, in := range info.Interfaces {
		m[in.Name] = in
	}
	return m
}

// lookbackColumn is the LOOKBACK cell of an interface: "-" without a
// ring, the history configured, and what it holds now when known.
func lookbackColumn(lb *Lookback) string {
	switch {
	case lb == nil:
		return "-"
	case lb.Seconds == nil:
		return sizeString(lb.Bytes)
	}
	return fmt.Sprintf("%s(%s,%.1fs)", sizeString(lb.Bytes), sizeString(*lb.HeldBytes), *lb.Seconds)
}

// sizeString writes n bytes in the largest binary unit that keeps it
// short.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.4gMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.4gKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
