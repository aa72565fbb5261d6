package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// captureRun is a "pcapdaemon capture" process started by a test. Its
// stderr lines arrive on lines as they are written.
type captureRun struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	lines  chan string
	mu     sync.Mutex
	stderr []string
	done   chan struct{}
	status int
	pipe   *os.File // startCapturePipe: the read end of stdout
}

// startCapture runs the binary's capture sub-command with args; the process
// is killed if it outlives the test.
func startCapture(t *testing.T, args ...string) *captureRun {
	t.Helper()
	return startCaptureWith(t, nil, args...)
}

// startCaptureWith is startCapture with stdout going to w (nil: r.stdout).
func startCaptureWith(t *testing.T, w io.Writer, args ...string) *captureRun {
	t.Helper()
	r := &captureRun{lines: make(chan string, 64), done: make(chan struct{})}
	r.cmd = exec.Command(daemonBinary(t), append([]string{"capture"}, args...)...)
	r.cmd.Stdout = &r.stdout
	if w != nil {
		r.cmd.Stdout = w
	}
	errp, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errp)
		for sc.Scan() {
			r.mu.Lock()
			r.stderr = append(r.stderr, sc.Text())
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		_ = r.cmd.Wait()
		r.status = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// waitArmed waits for the "listening on" line and returns it.
func (r *captureRun) waitArmed(t *testing.T) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l := <-r.lines:
			if strings.HasPrefix(l, "listening on ") {
				return l
			}
		case <-r.done:
			t.Fatalf("capture ended before arming: status %d, stderr %q", r.status, r.stderrLines())
		case <-timeout:
			t.Fatalf("capture not armed after 15s: stderr %q", r.stderrLines())
		}
	}
}

// wait waits for the process to end and returns its status.
func (r *captureRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.status
	case <-time.After(d):
		t.Fatalf("capture still running after %v: stderr %q", d, r.stderrLines())
		return -1
	}
}

func (r *captureRun) stderrLines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.stderr...)
}

// tcpFrame is udpFrame with the IP protocol changed to TCP: a frame the
// filter "udp" must drop.
// stopAndCheck ends the capture with sig and checks that it exits 0,
// prints tcpdump's counters for want frames and leaves them in file.
func (r *captureRun) stopAndCheck(t *testing.T, sig os.Signal, file string, want int) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if st := r.wait(t, 10*time.Second); st != 0 {
		t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
	}
	checkCounters(t, r.stderrLines(), want)
	if got := tcpdumpRead(t, file); len(got) != want {
		t.Errorf("tcpdump -r: %d packets, want %d:\n%s", len(got), want, strings.Join(got, "\n"))
	}
}

func tcpFrame(p *netns.Pair) []byte {
	f := udpFrame(p, 80, []byte("noise"))
	f[14+9] = 6
	return f
}

// checkCounters checks the closing tcpdump-style counters.
func checkCounters(t *testing.T, lines []string, captured int) {
	t.Helper()
	n := len(lines)
	if n < 3 {
		t.Fatalf("stderr %q: no counters", lines)
	}
	want := regexp.MustCompile(fmt.Sprintf(`^%d packets? captured$`, captured))
	recv := regexp.MustCompile(`^(\d+) packets? received by filter$`)
	drop := regexp.MustCompile(`^0 packets dropped by kernel$`)
	if !want.MatchString(lines[n-3]) || !recv.MatchString(lines[n-2]) || !drop.MatchString(lines[n-1]) {
		t.Errorf("counters %q, want %d captured, received by filter, 0 dropped", lines[n-3:], captured)
	}
	if m := recv.FindStringSubmatch(lines[n-2]); m != nil {
		var got int
		fmt.Sscan(m[1], &got)
		if got < captured {
			t.Errorf("%d received by filter, fewer than the %d captured", got, captured)
		}
	}
}

func TestCaptureCommand(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)

	t.Run("packet limit", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f.pcap")
		r := startCapture(t, "-i", pair.Host, "-c", "5", "-w", file, "udp")
		armed := r.waitArmed(t)
		if want := "listening on " + pair.Host + ", link-type EN10MB (Ethernet), snapshot length 262144 bytes"; armed != want {
			t.Errorf("armed line %q, want %q", armed, want)
		}
		var frames, sent [][]byte
		for i := range 7 {
			f := udpFrame(pair, uint16(5000+i), []byte("payload"))
			frames = append(frames, tcpFrame(pair), f)
			sent = append(sent, f)
		}
		if err := pair.Send(frames); err != nil {
			t.Fatal(err)
		}
		if st := r.wait(t, 10*time.Second); st != 0 {
			t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
		}
		lines := r.stderrLines()
		checkCounters(t, lines, 5)
		if len(lines) != 4 {
			t.Errorf("stderr has %d lines, want 4: %q", len(lines), lines)
		}
		got := tcpdumpRead(t, file)
		if len(got) != 5 {
			t.Fatalf("tcpdump -r: %d packets, want 5:\n%s", len(got), strings.Join(got, "\n"))
		}
		for i, l := range got {
			if !strings.Contains(l, fmt.Sprintf(".%d: UDP, length 7", 5000+i)) {
				t.Errorf("packet %d: %s", i, l)
			}
		}
		checkPcapFile(t, file, sent)
		if names := testenv.ReadDirNames(filepath.Dir(file)); len(names) != 1 {
			t.Errorf("directory holds %v, want only the file", names)
		}
	})

	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "f.pcapng")
			r := startCapture(t, "-i", pair.Host, "--format", "pcapng", "-w", file, "udp")
			r.waitArmed(t)
			if err := pair.Send([][]byte{udpFrame(pair, 7000, []byte("a")), tcpFrame(pair), udpFrame(pair, 7001, []byte("b")), udpFrame(pair, 7002, []byte("c"))}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // > the ring's block timeout
			r.stopAndCheck(t, sig, file, 3)
		})
	}

	t.Run("stdout lines and inactivity timeout", func(t *testing.T) {
		r := startCapture(t, "-i", pair.Host, "--timeout", "0.5", "-s", "64", "udp port 7100")
		r.waitArmed(t)
		if err := pair.Send([][]byte{udpFrame(pair, 7100, make([]byte, 100)), udpFrame(pair, 7101, nil)}); err != nil {
			t.Fatal(err)
		}
		if st := r.wait(t, 10*time.Second); st != 0 {
			t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
		}
		checkCounters(t, r.stderrLines(), 1)
		out := strings.TrimSpace(r.stdout.String())
		// tcpdump -nn's line; the UDP length is the datagram's, from its
		// header (the frame is cut to 64 bytes).
		want := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} ` + regexp.QuoteMeta(fmt.Sprintf("IP %s.40000 > %s.7100: UDP, length 100", pair.PeerAddr, pair.HostAddr)) + `$`)
		if !want.MatchString(out) {
			t.Errorf("stdout %q, want one line matching %s", out, want)
		}
	})

	t.Run("stdout file", func(t *testing.T) {
		r := startCapture(t, "-i", pair.Host, "-c", "2", "-w", "-", "udp port 7200")
		r.waitArmed(t)
		if err := pair.Send([][]byte{udpFrame(pair, 7200, nil), udpFrame(pair, 7200, nil)}); err != nil {
			t.Fatal(err)
		}
		if st := r.wait(t, 10*time.Second); st != 0 {
			t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
		}
		b := r.stdout.Bytes()
		if want := 24 + 2*(16+42); len(b) != want || binary.LittleEndian.Uint32(b) != 0xa1b23c4d {
			t.Errorf("stdout holds %d bytes (magic %x), want a %d byte nanosecond pcap", len(b), b[:min(4, len(b))], want)
		}
	})
}

// TestCaptureCommandErrorsBinary: an expression that does not compile
// ends the binary itself with exit status 1 and one line (the in-process
// cases are the root package's TestCaptureCommandErrors).
func TestCaptureCommandErrorsBinary(t *testing.T) {
	t.Run("binary", func(t *testing.T) {
		var stderr bytes.Buffer
		cmd := exec.Command(daemonBinary(t), "capture", "-i", "lo", "tcp", "port", "80", "and")
		cmd.Stderr, cmd.Stdout = &stderr, io.Discard
		err := cmd.Run()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v, stderr %q; want exit status 1 and one line", err, stderr.String())
		}
	})
}

// TestCaptureCommandMerged captures on two veth pairs at once: two
// "listening on" lines, one pcapng file with both interfaces whose frames
// tcpdump lists in the order they were sent, and summed counters.
func TestCaptureCommandMerged(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pairs := []*netns.Pair{netns.NewVethPair(t), netns.NewVethPair(t)}
	waitListening := func(r *captureRun) []string {
		t.Helper()
		var got []string
		for len(got) < 2 {
			got = append(got, r.waitArmed(t))
		}
		slices.Sort(got)
		want := []string{
			"listening on " + pairs[0].Host + ", link-type EN10MB (Ethernet), snapshot length 262144 bytes",
			"listening on " + pairs[1].Host + ", link-type EN10MB (Ethernet), snapshot length 262144 bytes",
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("armed lines %q, want %q", got, want)
		}
		return got
	}
	// send sends n frames alternately on the two pairs, to UDP ports
	// base, base+1, ..., with a TCP frame the filter drops in between.
	send := func(base, n int) {
		t.Helper()
		for i := range n {
			p := pairs[i%2]
			if err := p.Send([][]byte{udpFrame(p, uint16(base+i), []byte("merged")), tcpFrame(p)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f.pcapng")
		r := startCapture(t, "-i", pairs[0].Host+","+pairs[1].Host, "-c", "20", "-w", file, "udp")
		waitListening(r)
		send(6000, 24)
		if st := r.wait(t, 10*time.Second); st != 0 {
			t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
		}
		checkCounters(t, r.stderrLines(), 20)
		got := tcpdumpRead(t, file)
		if len(got) != 20 {
			t.Fatalf("tcpdump -r: %d packets, want 20:\n%s", len(got), strings.Join(got, "\n"))
		}
		for i, l := range got {
			if !strings.Contains(l, fmt.Sprintf(".%d: UDP, length 6", 6000+i)) {
				t.Errorf("packet %d: %s", i, l)
			}
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		var prev time.Time
		for i := 0; ; i++ {
			_, ci, err := ng.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ci.InterfaceIndex != i%2 || ci.Timestamp.Before(prev) {
				t.Errorf("packet %d: interface %d at %v (previous %v), want interface %d, in order", i, ci.InterfaceIndex, ci.Timestamp, prev, i%2)
			}
			prev = ci.Timestamp
		}
		if ng.NInterfaces() != 2 {
			t.Fatalf("%d interfaces in the file, want 2", ng.NInterfaces())
		}
		for i, p := range pairs {
			if ifc, err := ng.Interface(i); err != nil || ifc.Name != p.Host || ifc.LinkType != 1 {
				t.Errorf("interface %d: %+v, %v; want %s, EN10MB", i, ifc, err, p.Host)
			}
		}
	})

	t.Run("SIGINT", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f.pcapng")
		r := startCapture(t, "-i", pairs[0].Host+","+pairs[1].Host, "-w", file, "udp")
		waitListening(r)
		send(6200, 6)
		time.Sleep(200 * time.Millisecond) // > the rings' block timeout
		r.stopAndCheck(t, os.Interrupt, file, 6)
	})

	t.Run("stdout lines", func(t *testing.T) {
		r := startCapture(t, "-i", pairs[0].Host, "-i", pairs[1].Host, "-c", "4", "udp")
		waitListening(r)
		send(6100, 4)
		if st := r.wait(t, 10*time.Second); st != 0 {
			t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
		}
		checkCounters(t, r.stderrLines(), 4)
		lines := strings.Split(strings.TrimSpace(r.stdout.String()), "\n")
		if len(lines) != 4 {
			t.Fatalf("stdout %q, want 4 lines", lines)
		}
		for _, l := range lines {
			m := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} (\S+) IP \S+\.40000 > \S+\.(\d+): UDP, length \d+$`).FindStringSubmatch(l)
			if m == nil {
				t.Errorf("line %q", l)
				continue
			}
			var port int
			fmt.Sscan(m[2], &port)
			if want := pairs[(port-6100)%2].Host; m[1] != want {
				t.Errorf("line %q names %s, want %s", l, m[1], want)
			}
		}
	})
}
