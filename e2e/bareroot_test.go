package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/cli/interfaces"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The bare-root test runs the static binary the way the distroless image
// does, but stricter: chrooted into a directory that holds nothing but the
// binary, its config and the capture directory (no /etc, no libc, no /bin,
// no /proc), as uid 65534 with an empty environment and a bounding set of
// CAP_NET_RAW alone, granted CAP_NET_RAW the ways production does (ambient,
// as the systemd unit does; a file capability, as the image does) or not
// at all. capsh does the chroot, the uid change and the capability sets in
// one exec: setpriv cannot chroot, and chroot(1) would have to run setpriv
// from inside the root, which has no libc for it.
//
// The one thing the root gets beyond the binary is a read-only sysfs on
// /sys, mounted in a private mount namespace (unshare(1)) as every
// container runtime mounts one. Captures do not need it (the link type
// comes from an ioctl); `pcapdaemon interfaces` reads the device flags
// (promiscuous or not) from it.

// nobody is the uid and gid the confined daemon runs as.
const nobody = 65534

// capNetRawMask is CAP_NET_RAW (13) as a bit in /proc/PID/status's Cap* masks.
const capNetRawMask = 1 << 13

// wait waits up to d for the process to exit and reports whether it did.
func (d *daemon) wait(timeout time.Duration) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// buildRelease builds the binary with scripts/build.sh, as a release is
// built, into a directory removed when t ends.
func buildRelease(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pcapdaemon")
	cmd := exec.Command("scripts/build.sh")
	cmd.Env = append(os.Environ(), "OUT="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	return bin
}

// A grant is how the confined process may get CAP_NET_RAW.
type grant int

const (
	// grantNone: no capability at all (and none on the binary).
	grantNone grant = iota
	// grantAmbient: CAP_NET_RAW in the inheritable and ambient sets, so it
	// survives the exec into an ordinary binary; systemd's
	// AmbientCapabilities=CAP_NET_RAW does this.
	grantAmbient
	// grantFile: no capability before the exec; the binary carries the file
	// capability cap_net_raw+ep (setcap), as in the container image.
	grantFile
	// grantFileNoNewPrivs: grantFile with no_new_privs set, as
	// allowPrivilegeEscalation: false (Kubernetes) or NoNewPrivileges=yes
	// (systemd) do: the kernel then ignores file capabilities.
	grantFileNoNewPrivs
	// grantFileNoBounding: grantFile with CAP_NET_RAW missing from the
	// bounding set, as in a container that drops ALL and adds nothing.
	grantFileNoBounding
)

// makeBareRoot makes a root directory holding only the binary at
// /pcapdaemon (with the file capability cap_net_raw+ep for the grantFile*
// grants), config at /pcapdaemon.toml, an empty /captures owned by the
// confined uid and an empty /sys (a mount point).
func makeBareRoot(t *testing.T, bin, config string, g grant) string {
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
	if g >= grantFile {
		if out, err := exec.Command("setcap", "cap_net_raw+ep", filepath.Join(root, "pcapdaemon")).CombinedOutput(); err != nil {
			t.Fatalf("setcap: %v: %s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "pcapdaemon.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "sys"), 0o555); err != nil {
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
	if got := strings.Join(names, " "); got != "captures pcapdaemon pcapdaemon.toml sys" {
		t.Fatalf("bare root holds %q, want only the binary, its config, /captures and /sys", got)
	}
	return root
}

// dropBoundingList names every capability up to the kernel's last, but
// CAP_NET_RAW unless dropRaw, for capsh --drop.
func dropBoundingList(t *testing.T, dropRaw bool) string {
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
		if c != 13 || dropRaw {
			caps = append(caps, strconv.Itoa(c))
		}
	}
	return strings.Join(caps, ",")
}

// startConfined runs /pcapdaemon args... chrooted in root (with sysfs on
// /sys) as uid/gid 65534 with no supplementary groups, a bounding set of
// CAP_NET_RAW alone (none for grantFileNoBounding), an empty environment
// and CAP_NET_RAW granted as g says. The process gets SIGTERM (then
// SIGKILL) when the test ends.
func startConfined(t *testing.T, root string, g grant, args ...string) *daemon {
	t.Helper()
	capsh := []string{
		"--drop=" + dropBoundingList(t, g == grantFileNoBounding),
		"--chroot=" + root,
		"--keep=1",
		"--gid=" + strconv.Itoa(nobody), "--groups=", "--uid=" + strconv.Itoa(nobody),
	}
	if g == grantAmbient {
		capsh = append(capsh, "--caps=cap_net_raw+eip", "--addamb=cap_net_raw")
	} else {
		capsh = append(capsh, "--caps=")
	}
	if g == grantFileNoNewPrivs {
		capsh = append(capsh, "--no-new-privs")
	}
	// "--shell=X --" makes capsh execve X (inside the root) with the rest.
	capsh = append(capsh, "--shell=/pcapdaemon", "--")
	// unshare(1) makes a private mount namespace (its mounts vanish with the
	// daemon) and execs sh, which mounts sysfs and execs capsh, which execs
	// the daemon: one process throughout, so cmd.Process.Pid is the daemon.
	sh := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c",
		`mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$0/sys" && exec capsh "$@"`, root}
	cmd := exec.Command("unshare", append(append(sh, capsh...), args...)...)
	cmd.Env = []string{}
	return startDaemonCmd(t, cmd, syscall.SIGTERM, 15*time.Second, "confined process's output")
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
// 65534, with no supplementary groups, CAP_NET_RAW alone in its bounding
// set and, in its other sets, CAP_NET_RAW exactly where want says: the
// test must not pass by running the daemon with more privilege than it
// claims.
func checkConfinement(t *testing.T, pid int, root string, want map[string]bool) {
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
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"} {
		var mask uint64
		if want[k] || k == "CapBnd" {
			mask = capNetRawMask
		}
		got, err := strconv.ParseUint(st[k], 16, 64)
		if err != nil || got != mask {
			t.Errorf("%s = %s, want %016x", k, st[k], mask)
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

// TestRelease builds the binary as a release is built, once, and checks
// the build and then the binary in a bare root.
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRelease(t)
	t.Run("build script", func(t *testing.T) { testBuildScript(t, bin) })
	t.Run("bare root", func(t *testing.T) { testBareRoot(t, bin) })
}

// testBareRoot runs bin confined in bare roots: the daemon capturing with
// CAP_NET_RAW granted as the systemd unit and the image grant it and
// refusing precisely without it, "pcapdaemon capture", and "pcapdaemon
// interfaces".
func testBareRoot(t *testing.T, bin string) {
	testenv.RequireRoot(t)
	for _, tool := range []string{"capsh", "setcap", "unshare", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, tool+" not installed (apt-get install libcap2-bin util-linux tcpdump)")
		}
	}
	redis := testenv.StartRedis(t)
	pair := netns.NewVethPair(t)
	subscribed := func() bool {
		out, err := redis.CLI("PUBSUB", "NUMSUB", "capture")
		return err == nil && strings.HasSuffix(out, "1")
	}
	publish := func(t *testing.T, msg string) {
		t.Helper()
		if out, err := redis.CLI("PUBLISH", "capture", msg); err != nil || out != "1" {
			t.Fatalf("PUBLISH: %q %v", out, err)
		}
	}
	const packets = 5
	request := fmt.Sprintf(`{"node":"any","interface":[%q],"bpf":"udp and dst port 9999","packets":%d,"timeout":10,"duration":20}`,
		pair.Host, packets)
	match := [][]byte{udpFrame(pair, 9999, []byte("bare-root"))}
	noise := [][]byte{udpFrame(pair, 53, []byte("noise"))}

	// Each subtest runs the daemon alone: one subscriber on the channel.
	capture := func(t *testing.T, g grant, want map[string]bool) {
		root := makeBareRoot(t, bin, bareConfig(redis.Port), g)
		d := startConfined(t, root, g, "-config", "/pcapdaemon.toml")
		if !testenv.WaitFor(15*time.Second, func() bool { return subscribed() || !d.alive() }) || !d.alive() {
			t.Fatalf("confined daemon never subscribed (exited: %v)", !d.alive())
		}
		checkConfinement(t, d.cmd.Process.Pid, root, want)

		publish(t, request)
		captures := filepath.Join(root, "captures")
		// The daemon arms its socket asynchronously: send (bounded) until a
		// file appears.
		// The sink writes a hidden temporary file first: wait for the
		// renamed .pcap, not for any entry.
		havePcap := func() bool {
			for _, f := range testenv.ReadDirNames(captures) {
				if strings.HasSuffix(f, ".pcap") {
					return true
				}
			}
			return false
		}
		for i := 0; i < 100 && !havePcap() && d.alive(); i++ {
			if err := pair.Send(append(noise, match...)); err != nil {
				t.Fatalf("send: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// link(2) to the final name comes before the temporary name's
		// removal: give that removal a moment.
		testenv.WaitFor(2*time.Second, func() bool { return len(visibleNames(captures)) == 1 })
		files := visibleNames(captures)
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
	}
	// refused checks that the daemon, lacking CAP_NET_RAW, says so: either
	// it refuses to start, naming the capability, or it starts and the
	// capture fails naming it. What must not happen is a capture, or an
	// error that leaves the operator guessing.
	refused := func(t *testing.T, g grant) {
		root := makeBareRoot(t, bin, bareConfig(redis.Port), g)
		d := startConfined(t, root, g, "-config", "/pcapdaemon.toml")
		testenv.WaitFor(15*time.Second, func() bool { return subscribed() || !d.alive() })
		if d.alive() {
			checkConfinement(t, d.cmd.Process.Pid, root, nil)
			publish(t, request)
			testenv.WaitFor(10*time.Second, func() bool {
				return strings.Contains(d.Logs(), "CAP_NET_RAW") || !d.alive()
			})
		} else if code := d.cmd.ProcessState.ExitCode(); code == 0 {
			t.Errorf("daemon without CAP_NET_RAW exited with status 0")
		}
		if !strings.Contains(d.Logs(), "CAP_NET_RAW") {
			t.Errorf("daemon without CAP_NET_RAW never said CAP_NET_RAW is missing; its output:\n%s", d.Logs())
		}
		if files := visibleNames(filepath.Join(root, "captures")); len(files) != 0 {
			t.Errorf("daemon without CAP_NET_RAW wrote %v", files)
		}
	}

	t.Run("ambient CAP_NET_RAW", func(t *testing.T) {
		capture(t, grantAmbient, map[string]bool{"CapInh": true, "CapPrm": true, "CapEff": true, "CapAmb": true})
	})
	t.Run("file capability", func(t *testing.T) {
		capture(t, grantFile, map[string]bool{"CapPrm": true, "CapEff": true})
	})
	t.Run("no capability", func(t *testing.T) { refused(t, grantNone) })
	t.Run("file capability under no_new_privs", func(t *testing.T) { refused(t, grantFileNoNewPrivs) })
	t.Run("file capability outside the bounding set", func(t *testing.T) {
		// The kernel refuses to exec a binary whose file capabilities it
		// cannot grant in full (the effective bit is set): the container
		// must keep NET_RAW in its bounding set (capabilities.add).
		root := makeBareRoot(t, bin, bareConfig(redis.Port), grantFileNoBounding)
		d := startConfined(t, root, grantFileNoBounding, "-config", "/pcapdaemon.toml")
		if !d.wait(10 * time.Second) {
			t.Fatal("still running after 10s; want exec to fail")
		}
		// capsh reports the failed execve(2) without its errno; the daemon
		// itself must not have run (it would have logged).
		if code := d.cmd.ProcessState.ExitCode(); code == 0 || strings.Contains(d.Logs(), "level=") {
			t.Errorf("status %d; want the exec refused and the daemon never run", code)
		}
	})

	t.Run("capture command", func(t *testing.T) {
		root := makeBareRoot(t, bin, "", grantFile)
		d := startConfined(t, root, grantFile, "capture", "-i", pair.Host, "-c", strconv.Itoa(packets), "--duration", "20",
			"-w", "/captures/out.pcap", "udp", "and", "dst", "port", "9999")
		if !testenv.WaitFor(10*time.Second, func() bool { return strings.Contains(d.Logs(), "listening on") || !d.alive() }) || !d.alive() {
			t.Fatalf("capture never said it was listening (exited: %v)", !d.alive())
		}
		for i := 0; i < 50 && d.alive(); i++ {
			if err := pair.Send(append(noise, match...)); err != nil {
				t.Fatalf("send: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !d.wait(25 * time.Second) {
			t.Fatal("capture did not end")
		}
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("capture: status %d", code)
		}
		if !strings.Contains(d.Logs(), fmt.Sprintf("%d packets captured", packets)) {
			t.Errorf("no %q in the output", fmt.Sprintf("%d packets captured", packets))
		}
		if lines := tcpdumpRead(t, filepath.Join(root, "captures", "out.pcap")); len(lines) != packets {
			t.Errorf("tcpdump -r: %d packets, want %d:\n%s", len(lines), packets, strings.Join(lines, "\n"))
		}
	})

	t.Run("interfaces", func(t *testing.T) {
		// Listing needs no capability at all.
		root := makeBareRoot(t, bin, "[general]\nlocaldir = \"/captures\"\n\n[[interface]]\nname = \""+pair.Host+"\"\nalias = [\"uplink\"]\n", grantNone)
		d := startConfined(t, root, grantNone, "interfaces", "-json", "-config", "/pcapdaemon.toml")
		if !d.wait(10 * time.Second) {
			t.Fatal("pcapdaemon interfaces did not finish within 10s")
		}
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("pcapdaemon interfaces: status %d", code)
		}
		var list []interfaces.Info
		if err := json.Unmarshal([]byte(d.Logs()), &list); err != nil {
			t.Fatalf("pcapdaemon interfaces -json: %v", err)
		}
		var got *interfaces.Info
		for i := range list {
			if list[i].Name == pair.Host {
				got = &list[i]
			}
		}
		if got == nil || got.LinkType != "EN10MB" || got.Error != "" || !slices.Equal(got.Aliases, []string{"uplink"}) {
			t.Errorf("%s in the confined listing: %+v, want EN10MB, alias uplink, no error", pair.Host, got)
		}
	})
}

// testBuildScript checks what scripts/build.sh promises of bin: a static,
// cgo-free, path-free binary stamped with git's description of the tree.
func testBuildScript(t *testing.T, bin string) {
	want := "dev"
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		want = strings.TrimSpace(string(out))
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "pcapdaemon "+want+" (") {
		t.Errorf("%s version: %v, output %q; want \"pcapdaemon %s (...)\"", bin, err, out, want)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	for _, s := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(info), s) {
			t.Errorf("go version -m %s lacks %s:\n%s", bin, s, info)
		}
	}
}
