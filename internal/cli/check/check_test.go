package check

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// host lists the interfaces of a pretend host.
func host(names ...string) func() ([]string, error) {
	return func() ([]string, error) { return names, nil }
}

// checkRun runs "pcapdaemon check args..." on a host with the interfaces
// ifs and returns the exit status, stdout and stderr.
func checkRun(t *testing.T, ifs []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(Options{Args: args, Interfaces: host(ifs...)}, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCheckSeedConfig checks the seed's example on a host that has eth0
// and lo: valid, every setting printed, every secret masked.
func TestCheckSeedConfig(t *testing.T) {
	path := testenv.SeedConfig(t)
	code, out, errs := checkRun(t, []string{"lo", "eth0"}, "-config", path)
	if code != 0 {
		t.Fatalf("check of the seed example: status %d\nstderr:\n%s", code, errs)
	}
	for _, line := range []string{
		`cloudshark.token = "REDACTED"`, `redis.auth = "REDACTED"`,
		`s3.accessid = "REDACTED"`, `s3.accesskey = "REDACTED"`,
		`sqs.accessid = "REDACTED"`, `sqs.accesskey = "REDACTED"`,
		`http.token = ""`, // unset secrets show as unset
		`syslog.priority = 25`, `redis.host = "node.running.redis.net"`,
		`interface[0].name = "eth0"`, `interface[0].alias = ["main", "public"]`, `interface[1].name = "lo"`,
		`s3.acl = "private"`, `s3.allowacls = []`,
	} {
		if !strings.Contains("\n"+out, "\n"+line+"\n") {
			t.Errorf("stdout lacks the line %q", line)
		}
	}
	for _, secret := range []string{"fffffffffffffffffff", "password", "xxxxxxxxxxxxxxxxxxxxxxx"} {
		if strings.Contains(out+errs, secret) {
			t.Errorf("a secret (%q) is printed:\n%s%s", secret, out, errs)
		}
	}
	if !strings.Contains(errs, path+": the configuration is valid") {
		t.Errorf("stderr %q does not say the file is valid", errs)
	}
	// Stable: the same file prints the same lines.
	if _, again, _ := checkRun(t, []string{"lo", "eth0"}, "-config", path); again != out {
		t.Errorf("a second check printed differently:\n%s\n---\n%s", out, again)
	}
}

// TestCheckSeedConfigWithoutEth0 checks the seed's example on a host
// without eth0: the key and the host's interfaces are named.
func TestCheckSeedConfigWithoutEth0(t *testing.T) {
	code, out, errs := checkRun(t, []string{"lo", "ens3"}, "-config", testenv.SeedConfig(t))
	if code != 1 {
		t.Fatalf("status %d, want 1\nstderr:\n%s", code, errs)
	}
	want := `interface[0].name = "eth0": no such interface on this host (it has lo, ens3)` + "\n"
	if !strings.HasPrefix(errs, want) {
		t.Errorf("stderr:\n%s\nwant it to start with %q", errs, want)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing for an invalid configuration", out)
	}
}

// TestCheckListsEveryProblem gives a file with problems of every kind —
// an unknown key, wrong values, a missing directory, an interface the
// host lacks — and wants each on its own line, starting with its key,
// without any secret.
func TestCheckListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := `[general]
maxpacket = 5
maxbytes = 0
writelocal = true
localdir = "` + filepath.Join(dir, "missing") + `"

[cloudshark]
token = "tok-not-to-be-printed"

[http]
listen = "0.0.0.0:8657"

[s3]
allowacls = ["public-read", "world"]

[[interface]]
name = "eth9"
alias = ["uplink"]
`
	path := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := checkRun(t, []string{"lo"}, "-config", path)
	if code != 1 {
		t.Fatalf("status %d, want 1\n%s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	wantKeys := []string{"general.maxpacket", "general.maxbytes", "http.token", "s3.allowacls[1]", "general.localdir", "interface[0].name"}
	for _, key := range wantKeys {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, key+": ") || strings.HasPrefix(l, key+" = ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines for %s, want 1:\n%s", n, key, errs)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, path) || !strings.Contains(last, "6 problem(s)") {
		t.Errorf("last line %q, want the file and the count, 6", last)
	}
	if len(lines) != len(wantKeys)+1 {
		t.Errorf("%d lines, want %d problems and the verdict:\n%s", len(lines), len(wantKeys), errs)
	}
	if strings.Contains(out+errs, "tok-not-to-be-printed") {
		t.Errorf("the token is printed:\n%s", errs)
	}
}

// TestCheckCreatesNothing runs check on the defaults in an empty working
// directory: valid, the default ./captures announced, not created.
func TestCheckCreatesNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, errs := checkRun(t, nil)
	if code != 0 {
		t.Fatalf("status %d\n%s", code, errs)
	}
	if _, err := os.Stat("captures"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check created ./captures (stat: %v)", err)
	}
	if !strings.Contains(errs, `note: general.localdir = "./captures": does not exist yet: it will be created when the daemon starts`) {
		t.Errorf("stderr does not announce ./captures:\n%s", errs)
	}
	if !strings.Contains(out, `general.localdir = "./captures"`) || !strings.Contains(out, "general.writelocal = true") {
		t.Errorf("stdout lacks the local sink's settings:\n%s", out)
	}
}

func TestCheckCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "Usage: pcapdaemon check"},
		{"unknown flag", []string{"-nosuch"}, 2, "flag provided but not defined: -nosuch"},
		{"stray argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"missing file", []string{"-config", "/nonexistent/pcapdaemon.toml"}, 1, "no such file"},
		{"seed flags apply", []string{"-maxpackets", "0"}, 1, "general.maxpackets = 0: must be greater than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			code, _, errs := checkRun(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("status %d, stderr:\n%s\nwant %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
}
