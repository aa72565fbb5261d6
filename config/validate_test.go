package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// keyErrors flattens the joined errors of err into its *KeyErrors.
func keyErrors(err error) []*KeyError {
	var out []*KeyError
	var walk func(error)
	walk = func(e error) {
		if ke, ok := e.(*KeyError); ok {
			out = append(out, ke)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := u.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// findKeyError returns the *KeyError of err for key, or nil.
func findKeyError(err error, key string) *KeyError {
	for _, ke := range keyErrors(err) {
		if ke.Key == key {
			return ke
		}
	}
	return nil
}

// validBase returns a valid configuration: defaults, writing to a temp dir.
func validBase(t *testing.T) *Config {
	t.Helper()
	c, err := parse("", nil, nil, map[string]any{"general.localdir": t.TempDir(), "general.writelocal": true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("base configuration invalid: %v", err)
	}
	if _, err := c.CheckHost(HostOptions{Interfaces: fakeHost("lo")}); err != nil {
		t.Fatalf("base configuration does not fit the host: %v", err)
	}
	return c
}

// onHost returns the problems of Validate and of CheckHost on a host with
// the interfaces ifs, joined.
func onHost(c *Config, ifs ...string) error {
	_, herr := c.CheckHost(HostOptions{Interfaces: fakeHost(ifs...)})
	return errors.Join(c.Validate(), herr)
}

func TestValidate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Rows whose key is a host check are marked by hostKeys: Validate
	// must not see them (it looks at nothing outside the config), and
	// CheckHost must.
	hostKeys := map[string]bool{"localdir missing": true, "localdir is a file": true, "spooldir missing": true,
		"tlsca missing": true, "http tls missing": true, "interface missing on host": true}
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
		reason string
	}{
		{"no listener", func(c *Config) { c.HTTP.Listen = "" }, "redis.listen", "no request source"},
		{"no sink", func(c *Config) { c.General.WriteLocal = false }, "general.writelocal", "no sink"},
		{"localdir missing", func(c *Config) { c.General.LocalDir = filepath.Join(c.General.LocalDir, "x") }, "general.localdir", "does not exist"},
		{"localdir is a file", func(c *Config) { c.General.LocalDir = file }, "general.localdir", "not a directory"},
		{"spooldir missing", func(c *Config) { c.General.SpoolDir = "/nonexistent/spool" }, "general.spooldir", "does not exist"},
		{"maxpackets zero", func(c *Config) { c.General.MaxPackets = 0 }, "general.maxpackets", "greater than 0"},
		{"maxbytes negative", func(c *Config) { c.General.MaxBytes = -1 }, "general.maxbytes", "greater than 0"},
		{"maxduration zero", func(c *Config) { c.General.MaxDuration = 0 }, "general.maxduration", "greater than 0"},
		{"maxtimeout zero", func(c *Config) { c.General.MaxTimeout = 0 }, "general.maxtimeout", "greater than 0"},
		{"defaulttimeout zero", func(c *Config) { c.General.DefaultTimeout = 0 }, "general.defaulttimeout", "greater than 0"},
		{"defaulttimeout above max", func(c *Config) { c.General.DefaultTimeout = 4000 }, "general.defaulttimeout", "must not exceed general.maxtimeout"},
		{"maxconcurrent zero", func(c *Config) { c.General.MaxConcurrent = 0 }, "general.maxconcurrent", "greater than 0"},
		{"maxmemory zero", func(c *Config) { c.General.MaxMemory = 0 }, "general.maxmemory", "greater than 0"},
		{"shutdowngrace zero", func(c *Config) { c.General.ShutdownGrace = 0 }, "general.shutdowngrace", "greater than 0"},
		{"maxmessage zero", func(c *Config) { c.General.MaxMessage = 0 }, "general.maxmessage", "greater than 0"},
		{"snaplength zero", func(c *Config) { c.General.SnapLength = 0 }, "general.snaplength", "must be 1 to"},
		{"snaplength above max", func(c *Config) { c.General.SnapLength = 300000 }, "general.snaplength", "must be 1 to"},
		{"maxsnaplength huge", func(c *Config) { c.General.MaxSnapLength = 1 << 20 }, "general.maxsnaplength", "must be 1 to 262144"},
		{"format", func(c *Config) { c.General.Format = "erf" }, "general.format", "pcap, pcapng"},
		{"redis port zero", func(c *Config) { c.Redis.Port = 0 }, "redis.port", "port number"},
		{"redis port huge", func(c *Config) { c.Redis.Port = 70000 }, "redis.port", "port number"},
		{"redis addr", func(c *Config) { c.Redis.Addrs = []string{"10.0.0.1"} }, "redis.addrs[0]", "host:port"},
		{"redis mode", func(c *Config) { c.Redis.Mode = "ring" }, "redis.mode", "single, cluster, sentinel"},
		{"sentinel without master", func(c *Config) { c.Redis.Mode = "sentinel" }, "redis.master", "sentinel master"},
		{"master without sentinel", func(c *Config) { c.Redis.Master = "m" }, "redis.master", "only used"},
		{"results on the request channel", func(c *Config) { c.Redis.Listen = true; c.Redis.ResultsChannel = "capture" }, "redis.resultschannel", "must differ"},
		{"redis empty channel", func(c *Config) { c.Redis.Listen = true; c.Redis.Channel = "" }, "redis.channel", "must not be empty"},
		{"tlsca missing", func(c *Config) { c.Redis.TLSCA = "/nonexistent/ca.pem" }, "redis.tlsca", "cannot read"},
		{"sqs without url", func(c *Config) { c.SQS.Listen = true }, "sqs.url", "must name the queue"},
		{"sqs bad url", func(c *Config) { c.SQS.Listen = true; c.SQS.URL = "queue" }, "sqs.url", "http:// or https://"},
		{"sqs protocol", func(c *Config) { c.SQS.Protocol = "xml" }, "sqs.protocol", "json, query"},
		{"sqs waitseconds", func(c *Config) { c.SQS.WaitSeconds = 21 }, "sqs.waitseconds", "0 to 20"},
		{"sqs chunksize", func(c *Config) { c.SQS.ChunkSize = 0 }, "sqs.chunksize", "1 to 10"},
		{"sqs half credentials", func(c *Config) { c.SQS.AccessID = "id" }, "sqs.accesskey", "set together"},
		{"http listen", func(c *Config) { c.HTTP.Listen = "localhost" }, "http.listen", "host:port"},
		{"http port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:99999" }, "http.listen", "1 to 65535"},
		{"cloudshark scheme", func(c *Config) { c.Cloudshark.Scheme = "ftp" }, "cloudshark.scheme", "http, https"},
		{"cloudshark port", func(c *Config) { c.Cloudshark.Port = -1 }, "cloudshark.port", "port number"},
		{"cloudshark token", func(c *Config) { c.Cloudshark.Upload = true }, "cloudshark.token", "must be set"},
		{"cloudshark timeout", func(c *Config) { c.Cloudshark.Upload = true; c.Cloudshark.Token = "t"; c.Cloudshark.Timeout = 0 }, "cloudshark.timeout", "greater than 0"},
		{"s3 bucket", func(c *Config) { c.S3.Upload = true }, "s3.bucket", "must not be empty"},
		{"s3 acl", func(c *Config) { c.S3.ACL = "everyone" }, "s3.acl", "public-read"},
		{"s3 half credentials", func(c *Config) { c.S3.AccessKey = "k" }, "s3.accesskey", "set together"},
		{"syslog priority negative", func(c *Config) { c.Syslog.Priority = -1 }, "syslog.priority", "0 to 191"},
		{"syslog priority huge", func(c *Config) { c.Syslog.Priority = 192 }, "syslog.priority", "0 to 191"},
		{"syslog no tag", func(c *Config) { c.Syslog.Priority = 25; c.Syslog.Tag = "" }, "syslog.tag", "must not be empty"},
		{"syslog network alone", func(c *Config) { c.Syslog.Network = "udp" }, "syslog.address", "set together"},
		{"syslog network", func(c *Config) { c.Syslog.Network = "sctp"; c.Syslog.Address = "h:514" }, "syslog.network", "udp, tcp"},
		{"interface missing on host", func(c *Config) { c.Interfaces = []Interface{{Name: "eth9", Alias: []string{"x"}}} }, "interface[0].name", "no such interface on this host (it has lo)"},
		{"interface empty name", func(c *Config) { c.Interfaces = []Interface{{Alias: []string{"x"}}} }, "interface[0].name", "must name an interface"},
		{"interface twice", func(c *Config) {
			c.Interfaces = []Interface{{Name: "lo", Alias: []string{"a"}}, {Name: "lo", Alias: []string{"b"}}}
		}, "interface[1].name", "already configured in interface[0]"},
		{"alias pointing nowhere", func(c *Config) { c.Interfaces = []Interface{{Name: "lo"}} }, "interface[0].alias", "at least one alias"},
		{"alias empty", func(c *Config) { c.Interfaces = []Interface{{Name: "lo", Alias: []string{"a", " "}}} }, "interface[0].alias[1]", "must not be empty"},
		{"alias duplicate", func(c *Config) { c.Interfaces = []Interface{{Name: "lo", Alias: []string{"a", "a"}}} }, "interface[0].alias[1]", "listed twice"},
		{"maxskew zero", func(c *Config) { c.Security.MaxSkew = 0 }, "security.maxskew", "greater than 0"},
		{"hmackey short", func(c *Config) { c.Security.HMACKey = "short" }, "security.hmackey", "at least 16 bytes"},
		{"http open without token", func(c *Config) { c.HTTP.Listen = "0.0.0.0:8657" }, "http.token", "not a loopback address"},
		{"http all addresses without token", func(c *Config) { c.HTTP.Listen = ":8657" }, "http.token", "not a loopback address"},
		{"http tls half", func(c *Config) { c.HTTP.TLSCert = file }, "http.tlskey", "set together"},
		{"http tls missing", func(c *Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = file, "/nonexistent/key.pem" }, "http.tlskey", "cannot read"},
		{"localdir empty", func(c *Config) { c.General.LocalDir = "" }, "general.localdir", "must name a directory"},
		{"http maxconns", func(c *Config) { c.HTTP.MaxConns = 0 }, "http.maxconns", "1 to 65536"},
		{"s3 allowacls", func(c *Config) { c.S3.AllowACLs = []string{"public-read", "world"} }, "s3.allowacls[1]", "public-read"},
		{"s3 folder dotdot", func(c *Config) { c.S3.Folder = "pcaps/../other" }, "s3.folder", "\"..\" segment"},
		{"s3 allowfolders backslash", func(c *Config) { c.S3.AllowFolders = []string{`a\b`} }, "s3.allowfolders[0]", "backslash"},
		{"s3 folder empty segment", func(c *Config) { c.S3.Folder = "pcaps//team" }, "s3.folder", "empty segment"},
		{"spoolmaxbytes zero", func(c *Config) { c.General.SpoolMaxBytes = 0 }, "general.spoolmaxbytes", "greater than 0"},
		{"metrics listen", func(c *Config) { c.Metrics.Listen = "9100" }, "metrics.listen", "host:port"},
		{"metrics listen port", func(c *Config) { c.Metrics.Listen = ":70000" }, "metrics.listen", "1 to 65535"},
		{"metrics on the API's address", func(c *Config) { c.Metrics.Listen = c.HTTP.Listen }, "metrics.listen", "must differ from http.listen"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", "debug, info, warn, error"},
		{"log level case", func(c *Config) { c.Log.Level = "INFO" }, "log.level", "debug, info, warn, error"},
		{"log format", func(c *Config) { c.Log.Format = "logfmt" }, "log.format", "text, json"},
		{"localmaxfiles negative", func(c *Config) { c.General.LocalMaxFiles = -1 }, "general.localmaxfiles", "0 (no bound) or more"},
		{"localmaxbytes negative", func(c *Config) { c.General.LocalMaxBytes = -5 }, "general.localmaxbytes", "0 (no bound) or more"},
		{"localmaxbytes below maxbytes", func(c *Config) { c.General.LocalMaxBytes = c.General.MaxBytes - 1 }, "general.localmaxbytes", "at least general.maxbytes"},
		{"localmaxage negative", func(c *Config) { c.General.LocalMaxAge = -60 }, "general.localmaxage", "number of seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase(t)
			tt.mutate(c)
			if hostKeys[tt.name] {
				if err := c.Validate(); err != nil {
					t.Errorf("Validate = %v; a host check must be left to CheckHost", err)
				}
			}
			err := onHost(c, "lo")
			ke := findKeyError(err, tt.key)
			if ke == nil {
				t.Fatalf("Validate = %v\nwant an error for key %s", err, tt.key)
			}
			if !strings.Contains(ke.Reason, tt.reason) {
				t.Errorf("error for %s = %q, want it to say %q", tt.key, ke.Reason, tt.reason)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error text %q does not name %s", err, tt.key)
			}
		})
	}
}

func TestValidateAcceptsTokenOnOpenListener(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:8657", "localhost:8657"} {
		c := validBase(t)
		c.HTTP.Listen = listen
		if err := c.Validate(); err != nil {
			t.Errorf("loopback listen %s without a token: %v", listen, err)
		}
	}
	c := validBase(t)
	c.HTTP.Listen, c.HTTP.Token = "0.0.0.0:8657", "a-long-bearer-token"
	if err := c.Validate(); err != nil {
		t.Errorf("open listen with a token: %v", err)
	}
}

// TestKeyErrorHidesSecrets checks that a wrong value of a credential is never
// printed, whether the key comes from the file or the environment.
func TestKeyErrorHidesSecrets(t *testing.T) {
	for _, key := range []string{"redis.auth", "cloudshark.token", "s3.accesskey", "sqs.accesskey",
		"http.token", "security.hmackey", "PCAPDAEMON_REDIS_AUTH", "PCAPDAEMON_CLOUDSHARK_TOKEN"} {
		err := &KeyError{Key: key, Value: int64(1234567), Reason: "must be a string, found an integer"}
		if strings.Contains(err.Error(), "1234567") {
			t.Errorf("%s: error %q shows the secret", key, err)
		}
		if !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %q does not name the key", key, err)
		}
	}
	if err := (&KeyError{Key: "redis.port", Value: 70000, Reason: "r"}); !strings.Contains(err.Error(), "70000") {
		t.Errorf("a non-secret value is hidden: %q", err)
	}
	data := []byte("[redis]\nauth = 987654321\n[cloudshark]\ntoken = 13579\n")
	_, err := Loader{Args: []string{"-config", writeFile(t, data)}}.Load()
	if err == nil {
		t.Fatal("a numeric redis.auth was accepted")
	}
	for _, secret := range []string{"987654321", "13579"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("config error %q shows a secret", err)
		}
	}
	_, err = Loader{Environ: []string{"PCAPDAEMON_REDIS_AUTHH=hunter2hunter2"}}.Load()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unknown secret-like env key: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := validBase(t)
	c.General.MaxPackets = -1
	c.Redis.Port = 0
	c.Syslog.Priority = 999
	err := c.Validate()
	if got := len(keyErrors(err)); got != 3 {
		t.Fatalf("Validate found %d problems, want 3: %v", got, err)
	}
}

func TestValidateInterfaceListError(t *testing.T) {
	c := validBase(t)
	c.Interfaces = []Interface{{Name: "lo", Alias: []string{"l"}}}
	_, err := c.CheckHost(HostOptions{Interfaces: func() ([]string, error) { return nil, errors.New("netlink says no") }})
	if ke := findKeyError(err, "interface"); ke == nil || !strings.Contains(ke.Reason, "netlink says no") {
		t.Fatalf("Validate = %v, want the listing error reported on interface", err)
	}
}

func TestValidateRealHost(t *testing.T) {
	c := validBase(t)
	c.Interfaces = []Interface{{Name: "lo", Alias: []string{"local"}}}
	if _, err := c.CheckHost(HostOptions{}); err != nil {
		t.Fatalf("CheckHost with the host's lo: %v", err)
	}
}

func TestAliasOnSeveralInterfaces(t *testing.T) {
	c := validBase(t)
	c.Interfaces = []Interface{{Name: "eth0", Alias: []string{"uplink"}}, {Name: "eth1", Alias: []string{"uplink"}}}
	if err := onHost(c, "eth0", "eth1"); err != nil {
		t.Fatalf("an alias naming two interfaces: %v", err)
	}
	if got := c.Aliases()["uplink"]; len(got) != 2 {
		t.Errorf("Aliases()[uplink] = %v, want both interfaces", got)
	}
}

func TestRedacted(t *testing.T) {
	c := validBase(t)
	c.Redis.Auth, c.HTTP.Token, c.Security.HMACKey = "pw", "tok", "0123456789abcdef"
	r := c.Redacted()
	if r.Redis.Auth != "REDACTED" || r.HTTP.Token != "REDACTED" || r.Security.HMACKey != "REDACTED" {
		t.Errorf("Redacted left a secret: %+v", r)
	}
	if c.Redis.Auth != "pw" {
		t.Error("Redacted changed the original")
	}
}

func TestValidateRingSettings(t *testing.T) {
	for _, tc := range []struct {
		key  string
		set  func(*Config)
		want string
	}{
		{"general.ringsize", func(c *Config) { c.General.RingSize = 4096 }, "1 MiB"},
		{"general.ringsize", func(c *Config) { c.General.RingSize = 2 << 30 }, "1 GiB"},
		{"general.blocktimeout", func(c *Config) { c.General.BlockTimeout = 0 }, "1 to 1000 milliseconds"},
		{"general.blocktimeout", func(c *Config) { c.General.BlockTimeout = 5000 }, "1 to 1000 milliseconds"},
	} {
		c := validBase(t)
		tc.set(c)
		ke := findKeyError(c.Validate(), tc.key)
		if ke == nil || !strings.Contains(ke.Reason, tc.want) {
			t.Errorf("%s: got %v, want a KeyError saying %q", tc.key, ke, tc.want)
		}
	}
}

// TestRedactedHidesEverySecret sets every string key and checks that
// Redacted hides exactly the secret ones, and that every secret key exists.
func TestRedactedHidesEverySecret(t *testing.T) {
	c := validBase(t)
	c.Interfaces = []Interface{{Name: "lo", Alias: []string{"l"}}}
	rv := reflect.ValueOf(c).Elem()
	forEachSection(rv, func(sec string, sv reflect.Value) {
		for _, f := range keyFields(sv.Type()) {
			if fv := sv.Field(f.index); fv.Kind() == reflect.String {
				fv.SetString("value-of-" + sec + "." + f.key)
			}
		}
	})
	secrets := 0
	for _, s := range c.Redacted().Settings() {
		str, ok := s.Value.(string)
		if !ok {
			continue
		}
		switch {
		case IsSecretKey(s.Key):
			secrets++
			if str != "REDACTED" {
				t.Errorf("%s = %q: a secret not redacted", s.Key, str)
			}
		case str != "value-of-"+s.Key:
			t.Errorf("%s = %q: not a secret, but changed", s.Key, str)
		}
	}
	if secrets != len(secretKeys) {
		t.Errorf("%d secret keys redacted, want %d (every entry of secretKeys must be a key)", secrets, len(secretKeys))
	}
	if c.Redis.Auth != "value-of-redis.auth" {
		t.Error("Redacted changed the original")
	}
}

func TestSettings(t *testing.T) {
	c := validBase(t)
	c.Interfaces = []Interface{{Name: "lo", Alias: []string{"a", "b"}}}
	var lines []string
	for _, s := range c.Settings() {
		lines = append(lines, s.String())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"general.maxpackets = 50000", `http.listen = "127.0.0.1:8657"`,
		`interface[0].alias = ["a", "b"]`, "general.writelocal = true", "redis.addrs = []"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("settings lack the line %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "general.blocktimeout") > strings.Index(got, "general.maxpackets") ||
		strings.Index(got, "general.") > strings.Index(got, "cloudshark.") {
		t.Errorf("settings not in section order, keys sorted:\n%s", got)
	}
}

// TestValidateMetricsListen: the metrics listener may bind every address
// without a token (it serves nothing that starts a capture), and the
// [log] keys take their documented values, from a file and from the
// environment.
func TestValidateMetricsListen(t *testing.T) {
	for _, listen := range []string{"", ":8658", "0.0.0.0:8658", "[::]:8658", "127.0.0.1:0"} {
		c := validBase(t)
		c.Metrics.Listen = listen
		if err := c.Validate(); err != nil {
			t.Errorf("metrics.listen %q without a token: %v", listen, err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.toml")
	toml := "[general]\nwritelocal = true\nlocaldir = \"" + dir + "\"\n[metrics]\nlisten = \":8658\"\n[log]\nlevel = \"debug\"\n"
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"-config", path}, []string{"PCAPDAEMON_LOG_FORMAT=json"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != ":8658" || c.Log.Level != "debug" || c.Log.Format != "json" {
		t.Errorf("loaded [metrics] %+v [log] %+v, want :8658, debug, json", c.Metrics, c.Log)
	}
	d := validBase(t)
	if d.Metrics.Listen != "" || d.Log.Level != "info" || d.Log.Format != "text" {
		t.Errorf("defaults [metrics] %+v [log] %+v, want \"\", info, text", d.Metrics, d.Log)
	}
}
