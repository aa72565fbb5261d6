package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedConfig returns the example config of the seed's README (a copy in
// testdata, see testdata/README.md at the module root), verbatim: the lines
// after "## Config file" up to the closing ```.
func seedConfig(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed-README.md"))
	if err != nil {
		t.Fatalf("reading the seed README: %v", err)
	}
	_, rest, ok := bytes.Cut(b, []byte("## Config file\n"))
	if !ok {
		t.Fatal("seed README has no \"## Config file\" block")
	}
	block, _, ok := bytes.Cut(rest, []byte("\n```"))
	if !ok {
		t.Fatal("seed README's config block is not closed by ```")
	}
	return block
}

// fakeHost lists the interfaces of a pretend host.
func fakeHost(names ...string) func() ([]string, error) {
	return func() ([]string, error) { return names, nil }
}

// writeFile writes data to a temp file and returns its path.
func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// diff returns "" when want and got are deeply equal, else both as JSON.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	w, _ := json.MarshalIndent(want, "", "  ")
	g, _ := json.MarshalIndent(got, "", "  ")
	wl, gl := strings.Split(string(w), "\n"), strings.Split(string(g), "\n")
	var b strings.Builder
	for i := range max(len(wl), len(gl)) {
		var a, c string
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(gl) {
			c = gl[i]
		}
		if a != c {
			b.WriteString("-" + a + "\n+" + c + "\n")
		}
	}
	if b.Len() == 0 {
		return "values differ in unexported or unprintable fields"
	}
	return b.String()
}

func TestSeedExampleParsesUnchanged(t *testing.T) {
	path := writeFile(t, seedConfig(t))
	c, notes, err := Loader{Args: []string{"-config", path}}.LoadForHost(HostOptions{Interfaces: fakeHost("lo", "eth0")})
	if err != nil {
		t.Fatalf("Load(seed example): %v", err)
	}
	if len(notes) != 0 {
		t.Errorf("notes %v, want none (writelocal is false)", notes)
	}
	want := &Config{
		General: General{
			MaxPackets: 50000, WriteLocal: false, LocalDir: "/tmp", SnapLength: 500,
			MaxSnapLength: 262144, DefaultTimeout: 10, MaxTimeout: 3600, MaxDuration: 3600,
			MaxBytes: 100000000, PacketDebug: false,
			Promiscuous: true, MaxConcurrent: 16, MaxMemory: 1 << 30, ShutdownGrace: 30,
			Format: "pcap", MaxMessage: 64 << 10, RingSize: 8 << 20, BlockTimeout: 10,
			FilterNames: true, SpoolMaxBytes: 1 << 30, MaxLookback: 300,
		},
		Cloudshark: Cloudshark{Host: "www.cloudshark.org", Scheme: "https", Port: 443,
			Token: "fffffffffffffffffff", Upload: true, Timeout: 60},
		Redis: Redis{Listen: true, Host: "node.running.redis.net", Port: 6379, Channel: "capture",
			Auth: "password", ResultsChannel: "capture.results"},
		Syslog: Syslog{Priority: 25, Tag: "pcapdaemon"},
		Interfaces: []Interface{
			{Name: "eth0", Alias: []string{"main", "public"}},
			{Name: "lo", Alias: []string{"local"}},
		},
		S3: S3{AccessID: "xxxxxxxxxxxxxxxxxxxxxxxxx", AccessKey: "xxxxxxxxxxxxxxxxxxxxxxx",
			Endpoint: "s3.amazonaws.com", Bucket: "pcapdaemon", Folder: "pcaps", Upload: true,
			Region: "us-east-1", ACL: "private", Encryption: false},
		SQS: SQS{Listen: true, Region: "us-east-1", AccessID: "xxxxxxxxxxxxxxxxxxxxxxxxx",
			AccessKey: "xxxxxxxxxxxxxxxxxxxxxxx", URL: "https://example.amazone.com/asdfasdf/myqueue",
			WaitSeconds: 20, ChunkSize: 10, Protocol: "json"},
		HTTP:     HTTP{Listen: DefaultHTTPListen, MaxConns: 256},
		Security: Security{MaxSkew: 30},
		Log:      Log{Level: "info", Format: "text"},
		File:     path,
	}
	c.localDirDefault = false
	if d := diff(want, c); d != "" {
		t.Errorf("seed example (-want +got):\n%s", d)
	}
	if got, want := c.Aliases(), map[string][]string{"main": {"eth0"}, "public": {"eth0"}, "local": {"lo"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Aliases() = %v, want %v", got, want)
	}
}

func TestNoConfigRunsOnDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	l := Loader{Environ: []string{"HOME=/root", "PCAPDAEMON_REQUIRE_PRIV=1"}}
	c, err := l.Load()
	if err != nil {
		t.Fatalf("Load with no config: %v", err)
	}
	if c.HTTP.Listen != "127.0.0.1:8657" {
		t.Errorf("http.listen = %q, want 127.0.0.1:8657", c.HTTP.Listen)
	}
	if !c.General.WriteLocal || c.General.LocalDir != "./captures" {
		t.Errorf("writelocal, localdir = %v, %q; want true, ./captures", c.General.WriteLocal, c.General.LocalDir)
	}
	if c.Redis.Listen || c.SQS.Listen || c.Cloudshark.Upload || c.S3.Upload || c.Syslog.Enabled() {
		t.Errorf("redis, sqs, cloudshark, s3 or syslog on by default: %+v", c)
	}
	if c.Redis.ResultsChannel != "capture.results" {
		t.Errorf("redis.resultschannel = %q, want capture.results", c.Redis.ResultsChannel)
	}
	// Load changes nothing on the host; the daemon's start (LoadForHost)
	// creates the default directory, and says so; a dry run only says it
	// will.
	if _, err := os.Stat("captures"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load created ./captures (stat: %v)", err)
	}
	tests := []struct {
		name    string
		dryRun  bool
		created bool
		note    string
	}{
		{"dry run", true, false, "will be created when the daemon starts"},
		{"start", false, true, "created"},
	}
	for _, tt := range tests {
		_, notes, err := l.LoadForHost(HostOptions{DryRun: tt.dryRun})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(notes) != 1 || notes[0].Key != "general.localdir" || !strings.Contains(notes[0].Text, tt.note) {
			t.Errorf("%s: notes %v, want one on general.localdir saying %q", tt.name, notes, tt.note)
		}
		fi, err := os.Stat("captures")
		if got := err == nil && fi.IsDir(); got != tt.created {
			t.Errorf("%s: ./captures exists = %v, want %v", tt.name, got, tt.created)
		}
	}
	// Once it exists there is nothing to say.
	if _, notes, err := l.LoadForHost(HostOptions{}); err != nil || len(notes) != 0 {
		t.Errorf("second start: notes %v, error %v; want neither", notes, err)
	}
}

func TestConfiguredLocalDirMustExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	for _, dry := range []bool{false, true} {
		_, _, err := Loader{Args: []string{"-writelocal", "-destdir", dir}}.LoadForHost(HostOptions{DryRun: dry})
		ke := findKeyError(err, "general.localdir")
		if ke == nil || !strings.Contains(ke.Reason, "does not exist") {
			t.Fatalf("dry run %v with a missing -destdir = %v, want a general.localdir error saying it does not exist", dry, err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("the configured directory %s was created; only the default is", dir)
		}
	}
}

// TestLoadReportsAllAtOnce checks that unknown keys, wrong values and host
// problems come in one error, each with its key.
func TestLoadReportsAllAtOnce(t *testing.T) {
	data := []byte("[general]\nmaxpacket = 5\nmaxbytes = 0\nwritelocal = true\nlocaldir = \"/nonexistent/dir\"\n" +
		"[[interface]]\nname = \"eth0\"\nalias = [\"main\"]\n")
	_, _, err := Loader{Args: []string{"-config", writeFile(t, data)}}.LoadForHost(HostOptions{DryRun: true, Interfaces: fakeHost("lo")})
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.Key != "general.maxpacket" {
		t.Errorf("error %v\nwant the unknown key general.maxpacket", err)
	}
	for _, key := range []string{"general.maxbytes", "general.localdir", "interface[0].name"} {
		if findKeyError(err, key) == nil {
			t.Errorf("error %v\nwant a problem with %s", err, key)
		}
	}
	// Load alone reports the first two kinds, and nothing of the host.
	_, err = Loader{Args: []string{"-config", writeFile(t, data)}}.Load()
	if !errors.As(err, &uk) || findKeyError(err, "general.maxbytes") == nil || findKeyError(err, "general.localdir") != nil {
		t.Errorf("Load: %v\nwant general.maxpacket and general.maxbytes, no host problem", err)
	}
}

// TestLayers checks the order defaults < file < environment < flags.
func TestLayers(t *testing.T) {
	file := writeFile(t, []byte("[redis]\nlisten = true\nport = 1001\nchannel = \"fromfile\"\n[cloudshark]\ntoken = \"filetoken\"\n"))
	tests := []struct {
		name        string
		args        []string
		env         []string
		port        int
		channel     string
		token, host string
	}{
		{name: "file", args: []string{"-config", file}, port: 1001, channel: "fromfile", token: "filetoken", host: "127.0.0.1"},
		{name: "env over file", args: []string{"-config", file},
			env:  []string{"PCAPDAEMON_REDIS_PORT=1002", "PCAPDAEMON_CLOUDSHARK_TOKEN=envtoken", "PCAPDAEMON_REDIS_HOST=redis.example"},
			port: 1002, channel: "fromfile", token: "envtoken", host: "redis.example"},
		{name: "flags over env", args: []string{"-config", file, "-redisport", "1003", "-cstoken", "flagtoken"},
			env:  []string{"PCAPDAEMON_REDIS_PORT=1002", "PCAPDAEMON_CLOUDSHARK_TOKEN=envtoken"},
			port: 1003, channel: "fromfile", token: "flagtoken", host: "127.0.0.1"},
		{name: "unset flags do not override", args: []string{"-config", file, "-redisnode", "10.1.1.1"},
			port: 1001, channel: "fromfile", token: "filetoken", host: "10.1.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			c, err := Loader{Args: tt.args, Environ: tt.env}.Load()
			if err != nil {
				t.Fatal(err)
			}
			got := []any{c.Redis.Port, c.Redis.Channel, c.Cloudshark.Token, c.Redis.Host}
			want := []any{tt.port, tt.channel, tt.token, tt.host}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("port, channel, token, host = %v, want %v", got, want)
			}
			if c.Redis.ResultsChannel != tt.channel+".results" {
				t.Errorf("resultschannel = %q, want %q", c.Redis.ResultsChannel, tt.channel+".results")
			}
		})
	}
}

func TestSeedFlags(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-cshost", "cs.example", "-csscheme", "http", "-cstoken", "tok", "-csport", "8080",
		"-cstimeout", "5", "-redisnode", "10.0.0.1", "-redisport", "6380", "-redischannel", "cap",
		"-upload", "-writelocal", "-destdir", dir, "-maxpackets", "7"}
	c, err := Load(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.Cloudshark.Host, c.Cloudshark.Scheme, c.Cloudshark.Token, c.Cloudshark.Port,
		c.Cloudshark.Timeout, c.Redis.Host, c.Redis.Port, c.Redis.Channel, c.Redis.Listen,
		c.Cloudshark.Upload, c.General.WriteLocal, c.General.LocalDir, c.General.MaxPackets}
	want := []any{"cs.example", "http", "tok", 8080, int64(5), "10.0.0.1", 6380, "cap", true,
		true, true, dir, int64(7)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flag values\n got %v\nwant %v", got, want)
	}
	// -upload alone turns the implicit local sink off.
	c, err = Load([]string{"-upload", "-cstoken", "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.General.WriteLocal {
		t.Error("-upload without -writelocal still writes locally")
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := Loader{Args: []string{"-h"}, Output: &out}.Load()
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(-h) = %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-config", "-cshost", "-csscheme", "-cstoken", "-csport", "-cstimeout",
		"-redisnode", "-redisport", "-redischannel", "-upload", "-writelocal", "-destdir", "-maxpackets", "PCAPDAEMON_"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("usage does not mention %s:\n%s", f, out.String())
		}
	}
}

func TestEnvironment(t *testing.T) {
	t.Chdir(t.TempDir())
	env := []string{
		"PCAPDAEMON_REDIS_AUTH=s3cret", "PCAPDAEMON_REDIS_USERNAME=agent",
		"PCAPDAEMON_REDIS_ADDRS=10.0.0.1:7000, 10.0.0.2:7000", "PCAPDAEMON_REDIS_TLS=true",
		"PCAPDAEMON_GENERAL_MAXCONCURRENT=3", "PCAPDAEMON_HTTP_LISTEN=",
		"PCAPDAEMON_REDIS_LISTEN=1",
		"PCAPDAEMON_REQUIRE_PRIV=1", // not a section: someone else's variable
		"PATH=/usr/bin",
	}
	c, err := Load(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.Redis.Auth, c.Redis.Username, c.Redis.Addrs, c.Redis.TLS, c.General.MaxConcurrent, c.HTTP.Listen, c.Redis.Listen}
	want := []any{"s3cret", "agent", []string{"10.0.0.1:7000", "10.0.0.2:7000"}, true, 3, "", true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("from the environment\n got %#v\nwant %#v", got, want)
	}
	if got, want := c.Redis.Addresses(), []string{"10.0.0.1:7000", "10.0.0.2:7000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Addresses() = %v, want %v", got, want)
	}
}

func TestEnvironmentErrors(t *testing.T) {
	tests := []struct {
		name, env, key, reason string
	}{
		{"typo", "PCAPDAEMON_REDIS_AUHT=x", "PCAPDAEMON_REDIS_AUHT", "did you mean redis.auth"},
		{"not a number", "PCAPDAEMON_GENERAL_MAXPACKETS=many", "PCAPDAEMON_GENERAL_MAXPACKETS", "must be an integer"},
		{"not a bool", "PCAPDAEMON_REDIS_TLS=maybe", "PCAPDAEMON_REDIS_TLS", "must be true or false"},
		{"interface", "PCAPDAEMON_INTERFACE_NAME=eth0", "PCAPDAEMON_INTERFACE_NAME", "cannot be set from the environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(nil, []string{tt.env})
			if err == nil || !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Load(env %s) = %v, want an error naming %s: %s", tt.env, err, tt.key, tt.reason)
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, toml, key, suggestion string
	}{
		{"typo", "[general]\nmaxpacket = 5\n", "general.maxpacket", "general.maxpackets"},
		{"wrong section", "[general]\nauth = \"x\"\n", "general.auth", "redis.auth"},
		{"section typo", "[genral]\nmaxpackets = 5\n", "genral", "general"},
		{"far off", "[redis]\nzzzzzzzzzz = 1\n", "redis.zzzzzzzzzz", ""},
		{"interface key", "[[interface]]\nname = \"lo\"\naliases = [\"x\"]\n", "interface.aliases", "interface.alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(tt.toml), nil, nil)
			var uk *UnknownKeyError
			if !errors.As(err, &uk) {
				t.Fatalf("parse = %v, want an *UnknownKeyError", err)
			}
			if uk.Key != tt.key || uk.Suggestion != tt.suggestion {
				t.Errorf("unknown key %q suggesting %q, want %q suggesting %q", uk.Key, uk.Suggestion, tt.key, tt.suggestion)
			}
		})
	}
}

func TestTypeErrors(t *testing.T) {
	tests := []struct {
		name, toml, key, reason string
	}{
		{"string for int", "[general]\nmaxpackets = \"lots\"\n", "general.maxpackets", "must be an integer, found a string"},
		{"fraction", "[redis]\nport = 6379.5\n", "redis.port", "fraction"},
		{"int for bool", "[redis]\nlisten = 1\n", "redis.listen", "must be true or false"},
		{"string for list", "[[interface]]\nname = \"lo\"\nalias = \"local\"\n", "interface[0].alias", "list of strings"},
		{"section not a table", "general = 5\n", "general", "must be a table"},
		{"interface not an array", "[interface]\nname = \"lo\"\n", "interface", "array of tables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(tt.toml), nil, nil)
			ke := findKeyError(err, tt.key)
			if ke == nil || !strings.Contains(ke.Reason, tt.reason) {
				t.Fatalf("parse = %v, want a KeyError for %s saying %q", err, tt.key, tt.reason)
			}
		})
	}
}

func TestSyntaxErrorHasPosition(t *testing.T) {
	_, err := parse("bad.toml", []byte("[general]\nmaxpackets = = 5\n"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.toml:2:") {
		t.Fatalf("parse = %v, want an error at bad.toml:2:", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load([]string{"-config", filepath.Join(t.TempDir(), "nope.toml")}, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing file) = %v, want os.ErrNotExist", err)
	}
}

func TestUnexpectedArgument(t *testing.T) {
	if _, err := Load([]string{"stray"}, nil); err == nil || !strings.Contains(err.Error(), "stray") {
		t.Fatalf("Load(stray) = %v, want an error naming the argument", err)
	}
}

func BenchmarkLoadSeed(b *testing.B) {
	data := seedConfig(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse("seed", data, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDryRunWritesNothing checks that a dry run judges directories without
// creating a probe file: their modification time stays.
func TestDryRunWritesNothing(t *testing.T) {
	local, spool := t.TempDir(), t.TempDir()
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, d := range []string{local, spool} {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	l := Loader{Args: []string{"-writelocal", "-destdir", local}, Environ: []string{"PCAPDAEMON_GENERAL_SPOOLDIR=" + spool}}
	if _, _, err := l.LoadForHost(HostOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{local, spool} {
		if fi, err := os.Stat(d); err != nil || !fi.ModTime().Equal(old) {
			t.Errorf("%s changed by a dry run (stat %v)", d, err)
		}
	}
	// The daemon's check does probe (and so touches the directories).
	if _, _, err := l.LoadForHost(HostOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(local); fi.ModTime().Equal(old) {
		t.Errorf("the start-up check did not probe %s by writing", local)
	}
}
