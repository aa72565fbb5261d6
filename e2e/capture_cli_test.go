package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestCaptureStreamsToTcpdump: "capture -w - | tcpdump -r -" shows the
// frames while the capture runs (issue 14: nothing came until it ended),
// in both file formats.
func TestCaptureStreamsToTcpdump(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)
	for i, format := range []string{"pcap", "pcapng"} {
		t.Run(format, func(t *testing.T) {
			port := 7500 + i
			r := startCapturePipe(t, "-i", pair.Host, "--format", format, "-w", "-", fmt.Sprintf("udp port %d", port))
			td := exec.Command("tcpdump", "-n", "-l", "-r", "-")
			td.Stdin = r.pipe
			out, err := td.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := td.Start(); err != nil {
				t.Fatal(err)
			}
			_ = r.pipe.Close() // tcpdump holds it now
			t.Cleanup(func() { _ = td.Process.Kill(); _ = td.Wait() })
			lines := make(chan string, 16)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			r.waitArmed(t)
			if err := pair.Send([][]byte{udpFrame(pair, uint16(port), []byte("one")), udpFrame(pair, uint16(port), []byte("two"))}); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(10 * time.Second)
			for n := 0; n < 2; {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("tcpdump ended after %d lines", n)
					}
					if !strings.Contains(l, fmt.Sprintf("%s.40000 > %s.%d: ", pair.PeerAddr, pair.HostAddr, port)) {
						t.Errorf("tcpdump line %q", l)
					}
					n++
				case <-deadline:
					t.Fatalf("tcpdump -r - printed %d of 2 frames in 10 s while the capture ran", n)
				}
			}
			select {
			case <-r.done:
				t.Fatalf("the capture ended (status %d) before tcpdump showed the frames", r.status)
			default: // still running: the frames came live
			}
			if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			if st := r.wait(t, 10*time.Second); st != 0 {
				t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
			}
			checkCounters(t, r.stderrLines(), 2)
			if err := td.Wait(); err != nil {
				t.Errorf("tcpdump -r -: %v", err)
			}
		})
	}
}

// startCapturePipe is startCapture with stdout a pipe, whose read end is
// r.pipe.
func startCapturePipe(t *testing.T, args ...string) *captureRun {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := startCaptureWith(t, pw, args...)
	_ = pw.Close()
	r.pipe = pr
	return r
}

// TestCapturePacketBufferedFile: with -U, "-w FILE" is written in place as
// frames come, so tcpdump reads them before the capture ends (tcpdump -U).
func TestCapturePacketBufferedFile(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)
	file := filepath.Join(t.TempDir(), "live.pcap")
	r := startCapture(t, "-U", "-i", pair.Host, "-w", file, "udp port 7600")
	r.waitArmed(t)
	if err := pair.Send([][]byte{udpFrame(pair, 7600, []byte("a")), udpFrame(pair, 7600, []byte("b"))}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := tcpdumpReadQuiet(file)
		if len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the -U file holds %d frames after 10 s, want 2 while capturing", len(got))
		}
		time.Sleep(20 * time.Millisecond) // polling the file: there is nothing to wait on
	}
	select {
	case <-r.done:
		t.Fatalf("the capture ended (status %d) early", r.status)
	default:
	}
	r.stopAndCheck(t, os.Interrupt, file, 2)
}

// tcpdumpReadQuiet is tcpdumpRead that returns nothing for a file tcpdump
// cannot read yet.
func tcpdumpReadQuiet(file string) []string {
	out, err := exec.Command("tcpdump", "-n", "-r", file).Output()
	s := strings.TrimSpace(string(out))
	if err != nil || s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestCaptureDirection: -Q in keeps the frames the host received, -Q out
// those it sent, as tcpdump -Q does.
func TestCaptureDirection(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)
	sendOut := func() {
		t.Helper()
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(pair.HostAddr, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(pair.PeerAddr, 7700)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("outbound")); err != nil {
			t.Fatal(err)
		}
	}
	sendIn := func() {
		t.Helper()
		if err := pair.Send([][]byte{udpFrame(pair, 7700, []byte("inbound"))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		dir   string
		first func()
		then  func()
		want  string // tcpdump's line for the one frame kept
	}{
		{"in", sendOut, sendIn, fmt.Sprintf("IP %s.40000 > %s.7700: UDP, length 7", pair.PeerAddr, pair.HostAddr)},
		{"out", sendIn, sendOut, fmt.Sprintf("> %s.7700: UDP, length 8", pair.PeerAddr)},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "q.pcap")
			r := startCapture(t, "-Q", tt.dir, "-c", "1", "-i", pair.Host, "-w", file, "udp port 7700")
			r.waitArmed(t)
			tt.first()
			tt.then()
			if st := r.wait(t, 10*time.Second); st != 0 {
				t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
			}
			got := tcpdumpRead(t, file)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("-Q %s kept %q, want one frame %q", tt.dir, got, tt.want)
			}
		})
	}
}

// TestCaptureAnyLines: -i any frames are LINUX_SLL2, and their lines name
// the interface and direction as tcpdump's do ("eth0  In  ..."); -t drops
// the timestamp as in tcpdump.
func TestCaptureAnyLines(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	r := startCapture(t, "-t", "-c", "1", "-i", "any", fmt.Sprintf("udp port 7800 and src host %s", pair.PeerAddr))
	if l := r.waitArmed(t); !strings.Contains(l, "link-type LINUX_SLL2 (Linux cooked v2)") {
		t.Errorf("armed line %q", l)
	}
	if err := pair.Send([][]byte{udpFrame(pair, 7800, make([]byte, 18))}); err != nil {
		t.Fatal(err)
	}
	if st := r.wait(t, 10*time.Second); st != 0 {
		t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
	}
	want := regexp.MustCompile("^" + regexp.QuoteMeta(pair.Host) + ` +In  ` +
		regexp.QuoteMeta(fmt.Sprintf("IP %s.40000 > %s.7800: UDP, length 18", pair.PeerAddr, pair.HostAddr)) + `$`) // tcpdump -i any's line
	if out := strings.TrimSpace(r.stdout.String()); !want.MatchString(out) {
		t.Errorf("stdout %q, want a line matching %s", out, want)
	}
}

// TestCaptureRefusesTcpdumpOptions: the binary refuses what tcpdump means
// otherwise, with one line naming what to use, and status 2.
func TestCaptureRefusesTcpdumpOptions(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "lo", "-C", "10"}, "use --bytes N to stop after N bytes"},
		{[]string{"-i", "lo", "-G", "5"}, "use --duration S to stop after S seconds"},
		{[]string{"-i", "lo", "-ve"}, "tcpdump -v -r FILE"},
	} {
		cmd := exec.Command(daemonBinary(t), append([]string{"capture"}, tt.args...)...)
		out, _ := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if cmd.ProcessState.ExitCode() != 2 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
			t.Errorf("%q: status %d, output %q; want 2 and one line with %q", tt.args, cmd.ProcessState.ExitCode(), out, tt.want)
		}
	}
}
