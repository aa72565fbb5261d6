package fromconfig

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
)

func lookbackConfig(ifs ...config.Interface) *config.Config {
	c := &config.Config{File: "/etc/pcapdaemon.toml", Interfaces: ifs}
	c.General.SnapLength = 500
	c.General.MaxMemory = 1 << 30
	c.General.RingSize = 8 << 20
	c.General.MaxLookback = 120
	return c
}

func TestLookback(t *testing.T) {
	c := lookbackConfig(
		config.Interface{Name: "eth0", Alias: []string{"a"}},
		config.Interface{Name: "eth1", Lookback: 64 << 20},
		config.Interface{Name: "any", Lookback: 8 << 20, LookbackSnap: 96, LookbackFilter: "tcp"},
	)
	want := []agent.LookbackConfig{
		{Interface: "eth1", Bytes: 64 << 20, Snaplen: 500},
		{Interface: "any", Bytes: 8 << 20, Snaplen: 96, Filter: "tcp"},
	}
	if diff := cmp.Diff(want, Lookback(c)); diff != "" {
		t.Errorf("Lookback (-want +got):\n%s", diff)
	}
	if got := Agent(c).MaxLookback; got != 120*time.Second {
		t.Errorf("agent MaxLookback %v", got)
	}
	if err := CheckLookback(c); err != nil {
		t.Errorf("CheckLookback = %v, want the rings to fit", err)
	}
}

// Rings that leave less than one capture's least ring of maxmemory refuse
// the start, naming the keys; so does a filter that does not compile.
func TestCheckLookbackRefuses(t *testing.T) {
	c := lookbackConfig(
		config.Interface{Name: "eth0", Lookback: 500 << 20},
		config.Interface{Name: "eth1", Alias: []string{"b"}},
		config.Interface{Name: "eth2", Lookback: 300 << 20},
	)
	err := CheckLookback(c)
	var pe *config.ProblemsError
	if !errors.As(err, &pe) || pe.File != c.File {
		t.Fatalf("CheckLookback = %v, want a ProblemsError of the file", err)
	}
	for _, w := range []string{"general.maxmemory", "interface[0].lookback", "interface[2].lookback", "general.ringsize"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not name %s", err, w)
		}
	}

	lerr := errors.Join(&agent.LookbackError{Interface: "eth2", Field: "filter", Err: errors.New("1:4: syntax error")})
	c.Interfaces[2].LookbackFilter = "tcp tcp"
	err = LookbackError(c, lerr)
	var ke *config.KeyError
	if !errors.As(err, &ke) || ke.Key != "interface[2].lookbackfilter" || ke.Value != "tcp tcp" || !strings.Contains(ke.Reason, "syntax error") {
		t.Errorf("LookbackError = %v (%+v), want a KeyError of interface[2].lookbackfilter", err, ke)
	}
	other := errors.New("other")
	if got := LookbackError(c, other); got != other {
		t.Errorf("LookbackError(other) = %v", got)
	}
}
