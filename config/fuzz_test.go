package config

import (
	"testing"
)

// FuzzParse feeds arbitrary TOML to the loader: it must never panic, must
// return a config exactly when it returns no error, and Validate must not
// panic on whatever it returns (nor on what decode keeps despite unknown
// keys).
func FuzzParse(f *testing.F) {
	f.Add(seedConfig(f))
	f.Add([]byte("[general]\nmaxpacket = 5\n"))
	f.Add([]byte("[[interface]]\nname = \"lo\"\nalias = [\"a\", 1]\n"))
	f.Add([]byte("general = 5\n[redis]\nport = 1.5\naddrs = \"x\"\n"))
	f.Add([]byte("[http]\nlisten = \"\"\n[security]\nhmackey = \"0123456789abcdef\"\n"))
	f.Add([]byte("[general.deep]\nx = 1\n\"a.b\" = 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz", data, nil, nil)
		if (c == nil) == (err == nil) {
			t.Fatalf("parse returned config %v and error %v", c, err)
		}
		if c != nil {
			// Validate looks at nothing but c, so any decoded value is fair.
			_ = c.Validate()
		}
		// decode keeps a config alongside unknown keys only.
		c, problems, err := decode("fuzz", data, nil, nil)
		if c == nil && err == nil && len(problems) == 0 {
			t.Fatal("decode returned neither a config nor a problem")
		}
		if c != nil {
			_ = c.Validate()
		}
	})
}
