package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The bare-root test runs the static binary the way the distroless image
// does, but stricter: chrooted into a directory that holds nothing but the
// binary, its config and the capture directory (no /etc, no libc, no /bin,
// no /proc), as uid 65534 with CAP_NET_RAW as its only capability
// (permitted, effective, inheritable, ambient and bounding), and an empty
// environment. capsh does the chroot, the uid change and the capability
// sets in one exec: setpriv cannot chroot, and chroot(1) would have to run
// setpriv from inside the root, which has no libc for it.

// nobody is the uid and gid the confined daemon runs as.
const nobody = 65534

// capNetRawMask is CAP_NET_RAW (13) as a bit in /proc/PID/status's Cap* masks.
const capNetRawMask = 1 << 13

// bareDaemon is the daemon running confined in a bare root.
type bareDaemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs strings.Builder
}

func (d *bareDaemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.Write(p)
}

func (d *bareDaemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// exited reports whether the daemon has exited.
func (d *bareDaemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// buildRelease builds the binary with scripts/build.sh, as a release is
// built, into dir.
func buildRelease(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "pcapdaemon")
	cmd := exec.Command("scripts/build.sh")
	cmd.Env = append(os.Environ(), "OUT="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	return bin
}

// makeBareRoot makes a root directory holding only the binary at
// /pcapdaemon, config at /pcapdaemon.toml and an empty /captures owned by
// the confined uid.
func makeBareRoot(t *testing.T, bin, config string) string {
	t.Helper()
	root := t.TempDir()
	// t.TempDir is 0700: the confined uid must be able to search its "/".
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pcapdaemon"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "pcapdaemon.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	captures := filepath.Join(root, "captures")
	if err := os.Mkdir(captures, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(captures, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "captures pcapdaemon pcapdaemon.toml" {
		t.Fatalf("bare root holds %q, want only the binary, its config and /captures", got)
	}
	return root
}

// dropBoundingList names every capability but CAP_NET_RAW, up to the
// kernel's last, for capsh --drop.
func dropBoundingList(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	var caps []string
	for c := 0; c <= last; c++ {
		if c != 13 {
			caps = append(caps, strconv.Itoa(c))
		}
	}
	return strings.Join(caps, ",")
}

// startConfined runs /pcapdaemon args... chrooted in root as uid/gid 65534
// with no supplementary groups, a bounding set of CAP_NET_RAW alone and an
// empty environment; withRaw grants CAP_NET_RAW (ambient, so it survives the
// exec), without it the process has no capability at all. The daemon gets
// SIGTERM (then SIGKILL) when the test ends.
func startConfined(t *testing.T, root string, withRaw bool, args ...string) *bareDaemon {
	t.Helper()
	capsh := []string{
		"--drop=" + dropBoundingList(t),
		"--chroot=" + root,
		"--keep=1",
		"--gid=" + strconv.Itoa(nobody), "--groups=", "--uid=" + strconv.Itoa(nobody),
	}
	if withRaw {
		capsh = append(capsh, "--caps=cap_net_raw+eip", "--addamb=cap_net_raw")
	} else {
		capsh = append(capsh, "--caps=")
	}
	// "--shell=X --" makes capsh execve X (inside the root) with the rest.
	capsh = append(capsh, "--shell=/pcapdaemon", "--")
	d := &bareDaemon{done: make(chan struct{})}
	d.cmd = exec.Command("capsh", append(capsh, args...)...)
	d.cmd.Env = []string{}
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("confined daemon's output:\n%s", d.Logs())
		}
	})
	return d
}

// procStatus returns the "Key:\tvalue" lines of /proc/PID/status.
func procStatus(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

// checkConfinement fails t unless process pid runs in root as uid and gid
// 65534 with exactly the capabilities wantCaps (a mask) in each set and
// CAP_NET_RAW alone in the bounding set: the test must not pass by running
// the daemon with more privilege than it claims.
func checkConfinement(t *testing.T, pid int, root string, wantCaps uint64) {
	t.Helper()
	st, err := procStatus(pid)
	if err != nil {
		t.Fatalf("confined daemon's status: %v", err)
	}
	for _, k := range []string{"Uid", "Gid"} {
		for _, id := range strings.Fields(st[k]) { // real, effective, saved, fs
			if id != strconv.Itoa(nobody) {
				t.Errorf("%s: %q, want %d in all four", k, st[k], nobody)
				break
			}
		}
	}
	if st["Groups"] != "" {
		t.Errorf("supplementary groups %q, want none", st["Groups"])
	}
	for k, want := range map[string]uint64{"CapInh": wantCaps, "CapPrm": wantCaps, "CapEff": wantCaps, "CapAmb": wantCaps, "CapBnd": capNetRawMask} {
		got, err := strconv.ParseUint(st[k], 16, 64)
		if err != nil || got != want {
			t.Errorf("%s = %s, want %016x", k, st[k], want)
		}
	}
	if got, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err != nil || got != root {
		t.Errorf("root directory %q (%v), want %s", got, err, root)
	}
}

// bareConfig is the daemon's config inside the bare root: Redis on
// loopback (the chroot shares the test's network namespace), local files
// in /captures, no HTTP listener.
func bareConfig(redisPort int) string {
	return fmt.Sprintf(`[general]
writelocal = true
localdir = "/captures"
defaulttimeout = 10
shutdowngrace = 5

[redis]
listen = true
host = "127.0.0.1"
port = %d
channel = "capture"

[http]
listen = ""
`, redisPort)
}

func TestBareRootCapture(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tool := range []string{"capsh", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, tool+" not installed")
		}
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRelease(t, t.TempDir())
	redis := testenv.StartRedis(t)
	pair := netns.NewVethPair(t)
	subscribed := func() bool {
		out, err := redis.CLI("PUBSUB", "NUMSUB", "capture")
		return err == nil && strings.HasSuffix(out, "1")
	}
	publish := func(msg string) {
		t.Helper()
		if out, err := redis.CLI("PUBLISH", "capture", msg); err != nil || out != "1" {
			t.Fatalf("PUBLISH: %q %v", out, err)
		}
	}
	const packets = 5
	request := fmt.Sprintf(`{"node":"any","interface":[%q],"bpf":"udp and dst port 9999","packets":%d,"timeout":10,"duration":20}`,
		pair.Host, packets)

	t.Run("with CAP_NET_RAW", func(t *testing.T) {
		root := makeBareRoot(t, bin, bareConfig(redis.Port))
		d := startConfined(t, root, true, "-config", "/pcapdaemon.toml")
		if !testenv.WaitFor(15*time.Second, func() bool { return subscribed() || d.exited() }) || d.exited() {
			t.Fatalf("confined daemon never subscribed (exited: %v)\n%s", d.exited(), d.Logs())
		}
		checkConfinement(t, d.cmd.Process.Pid, root, capNetRawMask)

		publish(request)
		match := [][]byte{udpFrame(pair, 9999, []byte("bare-root"))}
		noise := [][]byte{udpFrame(pair, 53, []byte("noise"))}
		captures := filepath.Join(root, "captures")
		// The daemon arms its socket asynchronously: send (bounded) until a
		// file appears.
		for i := 0; i < 100 && len(testenv.ReadDirNames(captures)) == 0 && !d.exited(); i++ {
			if err := pair.Send(append(noise, match...)); err != nil {
				t.Fatalf("send: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		files := testenv.ReadDirNames(captures)
		if len(files) != 1 || !strings.HasSuffix(files[0], ".pcap") {
			t.Fatalf("capture directory holds %v, want one .pcap file", files)
		}
		lines := tcpdumpRead(t, files[0])
		if len(lines) != packets {
			t.Fatalf("tcpdump -r: %d packets, want %d:\n%s", len(lines), packets, strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			if !strings.Contains(l, pair.PeerAddr.String()+".40000 > "+pair.HostAddr.String()+".9999: UDP") {
				t.Errorf("packet not selected by the filter: %s", l)
			}
		}
		fi, err := os.Stat(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != nobody {
			t.Errorf("capture file owned by %+v, want uid %d", fi.Sys(), nobody)
		}
	})

	t.Run("without CAP_NET_RAW", func(t *testing.T) {
		root := makeBareRoot(t, bin, bareConfig(redis.Port))
		d := startConfined(t, root, false, "-config", "/pcapdaemon.toml")
		// Either the daemon refuses to start, naming the capability, or it
		// starts and every capture fails naming it. Both are precise; what
		// must not happen is a capture, or an error that leaves the operator
		// guessing.
		testenv.WaitFor(15*time.Second, func() bool { return subscribed() || d.exited() })
		if !d.exited() {
			checkConfinement(t, d.cmd.Process.Pid, root, 0)
			publish(request)
			testenv.WaitFor(10*time.Second, func() bool {
				return strings.Contains(d.Logs(), "CAP_NET_RAW") || d.exited()
			})
		} else if code := d.cmd.ProcessState.ExitCode(); code == 0 {
			t.Errorf("daemon without CAP_NET_RAW exited with status 0")
		}
		if !strings.Contains(d.Logs(), "CAP_NET_RAW") {
			t.Errorf("daemon without CAP_NET_RAW never said CAP_NET_RAW is missing; its output:\n%s", d.Logs())
		}
		if files := testenv.ReadDirNames(filepath.Join(root, "captures")); len(files) != 0 {
			t.Errorf("daemon without CAP_NET_RAW wrote %v", files)
		}
	})
}
