package e2e

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
)

// The deployment files are checked for what the daemon relies on; the
// systemd unit also by systemd-analyze when it is installed. (No YAML
// parser is a dependency of the module, so the manifests are read as text.)

// unitSettings returns the KEY=value lines of a systemd unit, every value
// of a key in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = append(m[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSystemdUnit(t *testing.T) {
	const unit = "deploy/systemd/pcapdaemon.service"
	s := unitSettings(t, unit)
	for key, want := range map[string]string{
		"DynamicUser":             "yes",
		"AmbientCapabilities":     "CAP_NET_RAW",
		"CapabilityBoundingSet":   "CAP_NET_RAW",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_PACKET AF_INET AF_INET6 AF_UNIX AF_NETLINK",
		"SystemCallArchitectures": "native",
		"MemoryDenyWriteExecute":  "yes",
		"LockPersonality":         "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"StateDirectory":          "pcapdaemon",
	} {
		if got := s[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	// Each of these would stop captures: a private network namespace sees
	// no host interface, and capabilities held in a private user namespace
	// do not count for the host's network namespace.
	for _, key := range []string{"PrivateNetwork", "PrivateUsers", "User"} {
		if v, ok := s[key]; ok {
			t.Errorf("%s=%q: the unit must not set it", key, v)
		}
	}
	if got := strings.Join(s["ExecStart"], ""); !strings.HasPrefix(got, "/usr/local/bin/pcapdaemon -config ") {
		t.Errorf("ExecStart=%q", got)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: checked the settings only")
	}
	// verify wants ExecStart's binary to exist: point it at this test binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "pcapdaemon.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/pcapdaemon", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", tmp).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", tmp).CombinedOutput()
	if err != nil {
		t.Skipf("systemd-analyze security --offline (systemd >= 250): %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security output:\n%s", out)
	}
	// 10 is a unit with no sandboxing. What remains for this one is
	// inherent: the host network, CAP_NET_RAW, Internet sockets.
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.5 {
		t.Errorf("systemd-analyze security: exposure %s, want at most 2.5:\n%s", m[1], out)
	}
}

// yamlBlock returns the literal block scalar (key: |) named key in a YAML
// text, without its indentation.
func yamlBlock(t *testing.T, text, key string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != key+": |" {
			continue
		}
		indent := -1
		var block []string
		for _, b := range lines[i+1:] {
			if strings.TrimSpace(b) == "" {
				block = append(block, "")
				continue
			}
			n := len(b) - len(strings.TrimLeft(b, " "))
			if indent < 0 {
				indent = n
			}
			if n < indent {
				break
			}
			block = append(block, b[indent:])
		}
		return strings.Join(block, "\n")
	}
	t.Fatalf("no %q block", key)
	return ""
}

// yamlMapKeys returns the keys of the mapping under "key:" (one level in).
func yamlMapKeys(t *testing.T, text, key string) []string {
	t.Helper()
	indentOf := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != key+":" {
			continue
		}
		var keys []string
		inner := -1
		for _, m := range lines[i+1:] {
			if strings.TrimSpace(m) == "" || strings.HasPrefix(strings.TrimSpace(m), "#") {
				continue
			}
			n := indentOf(m)
			if n <= indentOf(l) {
				break
			}
			if inner < 0 {
				inner = n
			}
			if k, _, ok := strings.Cut(strings.TrimSpace(m), ":"); ok && n == inner {
				keys = append(keys, k)
			}
		}
		return keys
	}
	t.Fatalf("no %q mapping", key)
	return nil
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKubernetesConfig loads the ConfigMap's TOML with the Secret's keys
// as the environment, as the DaemonSet's pod does: every key must be one
// the daemon knows, with the right type.
func TestKubernetesConfig(t *testing.T) {
	text := readText(t, "deploy/kubernetes/config.yaml")
	toml := yamlBlock(t, text, "pcapdaemon.toml")
	// The pod's localdir is its emptyDir; here it must be a directory
	// that exists.
	dir := t.TempDir()
	if !strings.Contains(toml, `"/var/lib/pcapdaemon"`) {
		t.Fatalf("localdir is not the DaemonSet's state volume /var/lib/pcapdaemon:\n%s", toml)
	}
	toml = strings.ReplaceAll(toml, `"/var/lib/pcapdaemon"`, strconv.Quote(dir))
	path := filepath.Join(dir, "pcapdaemon.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PCAPDAEMON_GENERAL_HOSTNAME=node-1"} // the DaemonSet's fieldRef
	for _, k := range yamlMapKeys(t, text, "stringData") {
		env = append(env, k+"=secret-"+k)
	}
	if len(env) < 2 {
		t.Fatal("the Secret holds no keys")
	}
	cfg, err := config.Loader{Args: []string{"-config", path}, Environ: env, Output: io.Discard}.Load()
	if err != nil {
		t.Fatalf("the ConfigMap's TOML with the Secret's environment: %v", err)
	}
	if cfg.Redis.Auth != "secret-PCAPDAEMON_REDIS_AUTH" || cfg.HTTP.Token != "secret-PCAPDAEMON_HTTP_TOKEN" ||
		cfg.Security.HMACKey != "secret-PCAPDAEMON_SECURITY_HMACKEY" || cfg.General.Hostname != "node-1" {
		t.Errorf("secrets or hostname not taken from the environment: %+v", cfg.Redacted())
	}
	if cfg.HTTP.Listen != "127.0.0.1:8657" {
		t.Errorf("[http] listen = %q, want the node's loopback 127.0.0.1:8657: the capture API stays off the network", cfg.HTTP.Listen)
	}
	// Prometheus scrapes the node's address: the metrics listener binds
	// every address, on the port the annotations and probes name.
	mhost, mport, err := net.SplitHostPort(cfg.Metrics.Listen)
	if err != nil || mhost != "" || mport == "" {
		t.Fatalf("[metrics] listen = %q, want \":PORT\" (every address of the node): %v", cfg.Metrics.Listen, err)
	}
	if cfg.Log.Format != "json" {
		t.Errorf("[log] format = %q, want json for the cluster's log collector", cfg.Log.Format)
	}
	if cfg.General.MaxMemory <= 0 || cfg.General.MaxMemory >= 1<<30 {
		t.Errorf("maxmemory %d, want below the container's 1Gi limit", cfg.General.MaxMemory)
	}

	ds := readText(t, "deploy/kubernetes/daemonset.yaml")
	// The local directory is the emptyDir: retention must keep it, with
	// the captures being written and the request index, under its
	// sizeLimit, or the kubelet evicts the pod.
	m := regexp.MustCompile(`sizeLimit: (\d+)Gi`).FindStringSubmatch(ds)
	if m == nil {
		t.Fatal("daemonset.yaml: no sizeLimit in Gi on the state volume")
	}
	limit, _ := strconv.ParseInt(m[1], 10, 64)
	g := cfg.General
	if need := g.LocalMaxBytes + int64(g.MaxConcurrent)*g.MaxBytes + agent.DefaultIndexBytes; g.LocalMaxBytes <= 0 || need > limit<<30 {
		t.Errorf("localmaxbytes %d + maxconcurrent %d × maxbytes %d + the index = %d bytes, want some bound within the emptyDir's %dGi",
			g.LocalMaxBytes, g.MaxConcurrent, g.MaxBytes, need, limit)
	}
	for _, want := range []string{
		"hostNetwork: true",
		`drop: ["ALL"]`,
		`add: ["NET_RAW"]`,
		"runAsNonRoot: true",
		"allowPrivilegeEscalation: true", // the file capability needs it
		"readOnlyRootFilesystem: true",
		"name: pcapdaemon-config",  // the ConfigMap
		"name: pcapdaemon-secrets", // the Secret
		"mountPath: /etc/pcapdaemon",
		"mountPath: /var/lib/pcapdaemon",
		`args: ["-config", "/etc/pcapdaemon/pcapdaemon.toml"]`,
	} {
		if !strings.Contains(ds, want) {
			t.Errorf("daemonset.yaml lacks %q", want)
		}
	}
	checkScrapeAndProbes(t, ds, mport)
	for _, name := range []string{"name: pcapdaemon-config", "name: pcapdaemon-secrets"} {
		if !strings.Contains(text, name) {
			t.Errorf("config.yaml lacks %q, which the DaemonSet names", name)
		}
	}
}

// checkScrapeAndProbes checks that the DaemonSet's pod template tells
// Prometheus to scrape /metrics on the metrics port, that the container
// declares that port, and that both probes use it (by name or number):
// the capture API's loopback port is no longer what they reach.
func checkScrapeAndProbes(t *testing.T, ds, port string) {
	t.Helper()
	ann := map[string]string{}
	for _, l := range strings.Split(yamlSection(ds, "annotations:"), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			ann[k] = strings.Trim(v, `"`)
		}
	}
	for k, want := range map[string]string{
		"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics",
	} {
		if ann[k] != want {
			t.Errorf("pod annotation %s = %q, want %q (annotations %v)", k, ann[k], want, ann)
		}
	}
	portName := ""
	if ports := yamlSection(ds, "ports:"); strings.Contains(ports, "containerPort: "+port+"\n") {
		if _, rest, ok := strings.Cut(ports, "name: "); ok {
			portName = strings.Fields(rest)[0]
		}
	} else {
		t.Errorf("the container declares no containerPort %s:\n%s", port, ports)
	}
	for probe, path := range map[string]string{"livenessProbe:": "/healthz", "readinessProbe:": "/readyz"} {
		p := yamlSection(ds, probe)
		if !strings.Contains(p, "path: "+path+"\n") {
			t.Errorf("%s does not ask %s:\n%s", probe, path, p)
		}
		if !strings.Contains(p, "port: "+port+"\n") && (portName == "" || !strings.Contains(p, "port: "+portName+"\n")) {
			t.Errorf("%s does not use the metrics port %s (%q):\n%s", probe, port, portName, p)
		}
		if strings.Contains(p, "host: ") {
			t.Errorf("%s names a host: the metrics listener is on the pod's (node's) address:\n%s", probe, p)
		}
	}
}

// yamlSection returns the trimmed lines under the first line whose trimmed
// text is key (comments left out), up to the next line indented as much
// or less.
func yamlSection(text, key string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != key {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		var out []string
		for _, m := range lines[i+1:] {
			tm := strings.TrimSpace(m)
			if tm == "" || strings.HasPrefix(tm, "#") {
				continue
			}
			if len(m)-len(strings.TrimLeft(m, " ")) <= indent {
				break
			}
			out = append(out, strings.TrimPrefix(tm, "- "))
		}
		return strings.Join(out, "\n") + "\n"
	}
	return ""
}

func TestDockerfile(t *testing.T) {
	df := readText(t, "Dockerfile")
	for _, want := range []string{
		"FROM gcr.io/distroless/static:nonroot",
		"scripts/build.sh",
		"setcap cap_net_raw+ep /out/pcapdaemon",
		"COPY --from=build /out/pcapdaemon /usr/local/bin/pcapdaemon\n",
		"USER 65532:65532",
		`ENTRYPOINT ["/usr/local/bin/pcapdaemon"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// Any change of owner or mode after setcap clears the capability.
	for _, l := range strings.Split(df, "\n") {
		if strings.Contains(l, "/usr/local/bin/pcapdaemon") && (strings.Contains(l, "--chown") || strings.Contains(l, "--chmod")) {
			t.Errorf("Dockerfile changes the binary's owner or mode after setcap: %s", l)
		}
	}
}
