package config

import (
	"strings"
	"testing"
)

func TestValidateLookback(t *testing.T) {
	ring := func(in Interface) func(c *Config) {
		return func(c *Config) { c.Interfaces = []Interface{in} }
	}
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		key    string // "" for a valid configuration
		reason string
	}{
		{"a ring without aliases", ring(Interface{Name: "lo", Lookback: 64 << 20}), "", ""},
		{"a ring with snap and filter", ring(Interface{Name: "lo", Lookback: 64 << 20, LookbackSnap: 1514, LookbackFilter: "tcp\n and port 443"}), "", ""},
		{"neither alias nor ring", ring(Interface{Name: "lo"}), "interface[0].alias", "unless lookback is set"},
		{"ring too small", ring(Interface{Name: "lo", Lookback: 4096}), "interface[0].lookback", "1 MiB"},
		{"ring negative", ring(Interface{Name: "lo", Lookback: -1, Alias: []string{"a"}}), "interface[0].lookback", "0 (no look-back ring)"},
		{"snap without ring", ring(Interface{Name: "lo", Alias: []string{"a"}, LookbackSnap: 100}), "interface[0].lookbacksnap", "only used with lookback"},
		{"filter without ring", ring(Interface{Name: "lo", Alias: []string{"a"}, LookbackFilter: "tcp"}), "interface[0].lookbackfilter", "only used with lookback"},
		{"snap above maxsnaplength", ring(Interface{Name: "lo", Lookback: 1 << 20, LookbackSnap: 300000}), "interface[0].lookbacksnap", "general.maxsnaplength (262144)"},
		{"filter with a control character", ring(Interface{Name: "lo", Lookback: 1 << 20, LookbackFilter: "tcp\x1b"}), "interface[0].lookbackfilter", "control characters"},
		{"filter too long", ring(Interface{Name: "lo", Lookback: 1 << 20, LookbackFilter: strings.Repeat("tcp or ", 2000)}), "interface[0].lookbackfilter", "the limit is 8192"},
		{"rings larger than maxmemory", func(c *Config) {
			c.Interfaces = []Interface{{Name: "lo", Lookback: 600 << 20}, {Name: "any", Lookback: 600 << 20}}
		}, "general.maxmemory", "interface[0].lookback + interface[1].lookback add up to"},
		{"maxlookback zero", func(c *Config) { c.General.MaxLookback = 0 }, "general.maxlookback", "greater than 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validBase(t)
			tc.mutate(c)
			err := onHost(c, "lo")
			if tc.key == "" {
				if err != nil {
					t.Fatalf("a valid configuration: %v", err)
				}
				return
			}
			ke := findKeyError(err, tc.key)
			if ke == nil || !strings.Contains(ke.Reason, tc.reason) {
				t.Fatalf("errors %v\nwant one for %s saying %q", err, tc.key, tc.reason)
			}
		})
	}
}

// The keys load from a file, maxlookback has its default, and the
// settings list them.
func TestLoadLookback(t *testing.T) {
	c, err := parse("", []byte(`
[general]
writelocal = true
localdir = "/tmp"
[[interface]]
name = "eth0"
lookback = 67108864
lookbacksnap = 1514
lookbackfilter = "not port 22"
`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Interface{Name: "eth0", Lookback: 64 << 20, LookbackSnap: 1514, LookbackFilter: "not port 22"}
	if len(c.Interfaces) != 1 || c.Interfaces[0].Name != want.Name || c.Interfaces[0].Lookback != want.Lookback ||
		c.Interfaces[0].LookbackSnap != want.LookbackSnap || c.Interfaces[0].LookbackFilter != want.LookbackFilter {
		t.Errorf("interfaces %+v, want %+v", c.Interfaces, want)
	}
	if c.General.MaxLookback != 300 || c.General.MaxLookbackDuration().Seconds() != 300 {
		t.Errorf("maxlookback %d, want the default 300", c.General.MaxLookback)
	}
	var lines []string
	for _, s := range c.Settings() {
		lines = append(lines, s.String())
	}
	text := strings.Join(lines, "\n")
	for _, w := range []string{"general.maxlookback = 300", "interface[0].lookback = 67108864", "interface[0].lookbacksnap = 1514",
		`interface[0].lookbackfilter = "not port 22"`} {
		if !strings.Contains(text, w) {
			t.Errorf("settings lack %q:\n%s", w, text)
		}
	}
}
