package capture

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/savefile"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// packets splits printed lines into one string per packet: its line and
// the further lines after it (a hex dump's, which start with a tab). With
// numbered, the lines are tcpdump -#'s: a packet starts with its number,
// which is removed.
func packets(out []byte, numbered bool) []string {
	var ps []string
	for l := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
		if numbered {
			if m := packetNumber.FindString(l); m != "" {
				ps = append(ps, l[len(m):])
			} else if len(ps) > 0 {
				ps[len(ps)-1] += "\n" + l
			}
			continue
		}
		if strings.HasPrefix(l, "\t") && len(ps) > 0 {
			ps[len(ps)-1] += "\n" + l
			continue
		}
		ps = append(ps, l)
	}
	return ps
}

// packetNumber is what tcpdump -# prints before each packet.
var packetNumber = regexp.MustCompile(`^ *[0-9]+  `)

// inScope are the lines of tcpdump that the capture command must print
// byte for byte: TCP without an application protocol after it, UDP of
// ports tcpdump does not decode, ICMP and ICMPv6 echo, ARP, DNS.
var inScope = regexp.MustCompile(`^[^ ]+ (IP6? [^ ]+ > [^ ]+: (Flags \[[^]]*\], .*length \d+|UDP, length \d+|ICMP6?,? echo (request|reply), id \d+, seq \d+, length \d+)|ARP, (Request|Reply) [^:]*length \d+|` +
	`IP6? ([^ ]+\.(53|5353) > [^ ]+|[^ ]+ > [^ ]+\.(53|5353)): (Flags \[[^]]*\], .*length \d+ )?\d+[^ ]* .*\(\d+\))$`)

// notInScope are the TCP options only tcpdump decodes.
var notInScope = regexp.MustCompile(`mptcp |tfo |exp-|tcp-ao `)

// TestLinesMatchTcpdumpOnItsCaptures reads tcpdump's own test captures
// with -r and compares every packet's line with tcpdump -nn -r's, for each
// timestamp format: the lines of the protocols in scope must be
// identical; how many of all are identical is logged per file.
func TestLinesMatchTcpdumpOnItsCaptures(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		testenv.Skip(t, "tcpdump not installed: the lines are compared with its own")
	}
	root := testenv.ModuleRoot(t)
	var files []string
	for _, dir := range []string{"testdata/conformance/packets", "testdata/conformance/savefiles"} {
		m, _ := filepath.Glob(filepath.Join(root, dir, "*.pcap*"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no conformance captures found")
	}
	var totalSame, total int
	for _, f := range files {
		name := filepath.Base(f)
		decoded := knownLinkType(f) // the in-scope lines are asserted only on link types the printer knows
		var same0 []int
		for tf := range 6 {
			targs := []string{"-nn"}
			if tf > 0 {
				targs = append(targs, "-"+strings.Repeat("t", tf))
			}
			var stderr bytes.Buffer
			cmd := exec.Command(tcpdump, append(slices.Clone(targs), "-#", "-r", f)...)
			cmd.Stderr = &stderr
			want, err := cmd.Output()
			if err != nil {
				if tf == 0 {
					t.Logf("%s: tcpdump cannot read it (%v): skipped", name, strings.TrimSpace(stderr.String()))
				}
				break
			}
			st, got, errOut := runOffline(t, nil, append(targs, "-r", f)...)
			if st != 0 {
				t.Errorf("%s: capture -r: status %d: %s", name, st, errOut)
				break
			}
			wp, gp := packets(want, true), packets(got, false)
			if len(wp) != len(gp) {
				t.Errorf("%s %v: tcpdump printed %d packets, capture %d", name, targs, len(wp), len(gp))
				break
			}
			var same []int
			bad := 0
			for i := range wp {
				if wp[i] == gp[i] {
					same = append(same, i)
					continue
				}
				// tcpdump's line without its timestamp must not be in scope.
				line := wp[i]
				if tf == 1 {
					line = "x " + line
				}
				// MACsec is not decoded here: tcpdump decodes what it
				// carries.
				if decoded && inScope.MatchString(line) && !notInScope.MatchString(line) && !strings.Contains(gp[i], "MACsec (0x88e5)") {
					if bad++; bad <= 5 {
						t.Errorf("%s %v packet %d:\n got %q\nwant %q", name, targs, i+1, gp[i], wp[i])
					}
				}
			}
			if tf == 0 {
				same0 = same
				t.Logf("%-40s %5d of %5d lines identical", name, len(same), len(wp))
				totalSame += len(same)
				total += len(wp)
			} else if len(same) != len(same0) {
				t.Logf("%s %v: %d lines identical, %d without -t", name, targs, len(same), len(same0))
			}
		}
	}
	t.Logf("all files: %d of %d lines identical", totalSame, total)
}

// BenchmarkLine is one line of a capture: the timestamp and tcpdump's
// decoding of a frame of tcpdump's own captures, appended into the reused
// buffer.
func BenchmarkLine(b *testing.B) {
	root := testenv.ModuleRoot(b)
	data, err := os.ReadFile(filepath.Join(root, "testdata/conformance/packets/tcpdump-EN10MB.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	frames := readRecords(&testing.T{}, data)
	if len(frames) > 2000 {
		frames = frames[:2000]
	}
	o, _ := ParseArgs([]string{"-r", "x"})
	l := newLines(o)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := &frames[i%len(frames)]
		l.line(1, f.US*1e3, "", []byte(f.Data), f.Len)
	}
}

// knownLinkType reports whether the file's first interface has a link type
// the line printer decodes.
func knownLinkType(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	rd, err := savefile.NewReader(f)
	if err != nil {
		return false
	}
	switch rd.Interfaces()[0].LinkType {
	case 0, 1, 101, 108, 113, 228, 229, 276:
		return true
	}
	return false
}

// TestFlagsMatchTcpdumpOnItsCaptures: -e, -x, -X and -XX reach the
// lines: on tcpdump's own captures, every packet whose line without them
// is tcpdump's is also tcpdump's with them (link-level header, dumps).
func TestFlagsMatchTcpdumpOnItsCaptures(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		testenv.Skip(t, "tcpdump not installed: the lines are compared with its own")
	}
	files, _ := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "testdata/conformance/packets", "*.pcap"))
	if len(files) == 0 {
		t.Fatal("no conformance captures found")
	}
	run := func(t *testing.T, f string, flags ...string) (want, got []string) {
		args := append([]string{"-nn", "-t"}, flags...)
		cmd := exec.Command(tcpdump, append(slices.Clone(args), "-#", "-r", f)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tcpdump %v: %v", args, err)
		}
		st, mine, errOut := runOffline(t, nil, append(args, "-r", f)...)
		if st != 0 {
			t.Fatalf("capture %v: status %d: %s", args, st, errOut)
		}
		want, got = packets(out, true), packets(mine, false)
		if len(want) != len(got) {
			t.Fatalf("%v: tcpdump printed %d packets, capture %d", args, len(want), len(got))
		}
		return want, got
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			bw, bg := run(t, f)
			for _, flags := range [][]string{{"-e"}, {"-x"}, {"-XX"}, {"-e", "-X"}} {
				want, got := run(t, f, flags...)
				same, bad := 0, 0
				for i := range want {
					if bw[i] != bg[i] {
						continue
					}
					if want[i] == got[i] {
						same++
						continue
					}
					if bad++; bad <= 3 {
						t.Errorf("%v packet %d:\n got %q\nwant %q", flags, i+1, got[i], want[i])
					}
				}
				t.Logf("%v: %d of %d lines identical", flags, same, len(want))
			}
		})
	}
}
