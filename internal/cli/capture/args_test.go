package capture

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pcapdaemon/pcapdaemon/agent"
)

// TestParseArgs: the command line as tcpdump users write it.
func TestParseArgs(t *testing.T) {
	base := func(f func(o *Options)) *Options {
		o := &Options{}
		o.Spec.Bytes, o.Spec.Promiscuous = -1, true
		f(o)
		return o
	}
	tests := []struct {
		name string
		args []string
		want *Options
	}{
		{"one interface", []string{"-i", "eth0"}, base(func(o *Options) { o.Spec.Interface = "eth0" })},
		{"-S and -q: tcpdump's lines", []string{"-Sqi", "eth0"}, base(func(o *Options) {
			o.Spec.Interface, o.AbsoluteSeq, o.Quick = "eth0", true, true
		})},
		{"--absolute-tcp-sequence-numbers", []string{"-i", "eth0", "--absolute-tcp-sequence-numbers"}, base(func(o *Options) {
			o.Spec.Interface, o.AbsoluteSeq = "eth0", true
		})},
		{"grouped letters and words", []string{"-ni", "eth0", "udp", "port", "53"}, base(func(o *Options) {
			o.Spec.Interface, o.Words = "eth0", []string{"udp", "port", "53"}
		})},
		{"-nn and attached values", []string{"-nni", "any", "-s0", "-c5", "-B1024"}, base(func(o *Options) {
			o.Spec.Interface, o.Spec.Snaplen, o.Spec.Packets, o.Spec.RingBytes = "any", 0, 5, 1<<20
		})},
		{"options after the expression (glibc's getopt)", []string{"icmp", "-i", "eth0", "-c", "1"}, base(func(o *Options) {
			o.Spec.Interface, o.Spec.Packets, o.Words = "eth0", 1, []string{"icmp"}
		})},
		{"-- ends the options", []string{"-i", "eth0", "--", "-c", "x"}, base(func(o *Options) {
			o.Spec.Interface, o.Words = "eth0", []string{"-c", "x"}
		})},
		{"stop controls, both dash styles", []string{"-i", "eth0", "--bytes=5", "-duration", "2.5", "--timeout", "300ms"}, base(func(o *Options) {
			o.Spec.Interface, o.Spec.Bytes, o.Spec.Duration, o.Spec.Timeout = "eth0", 5, 2500*time.Millisecond, 300*time.Millisecond
		})},
		{"--bytes 0 is no limit", []string{"-i", "eth0", "--bytes", "0"}, base(func(o *Options) { o.Spec.Interface, o.Spec.Bytes = "eth0", 0 })},
		{"direction, -U, -p, pcapng", []string{"-pUi", "eth0", "-Q", "in", "--format", "pcapng", "-w", "-"}, base(func(o *Options) {
			o.Spec.Interface, o.Direction, o.PacketBuffered, o.Spec.Promiscuous, o.Spec.Format, o.Write = "eth0", "in", true, false, "pcapng", "-"
		})},
		{"tcpdump's long names", []string{"--interface=eth0", "--direction=out", "--packet-buffered", "--snapshot-length=96", "--buffer-size", "64", "--no-promiscuous-mode"},
			base(func(o *Options) {
				o.Spec.Interface, o.Direction, o.PacketBuffered, o.Spec.Snaplen, o.Spec.RingBytes, o.Spec.Promiscuous = "eth0", "out", true, 96, 64<<10, false
			})},
		{"-tttt", []string{"-tttti", "eth0"}, base(func(o *Options) { o.Spec.Interface, o.TimeFormat = "eth0", 4 })},
		{"-t icmp: no timestamps, as in tcpdump (issue 14: it was a timeout)", []string{"-t", "-i", "eth0", "icmp"}, base(func(o *Options) {
			o.Spec.Interface, o.TimeFormat, o.Words = "eth0", 1, []string{"icmp"}
		})},
		{"-t -t", []string{"-t", "-i", "eth0", "-t"}, base(func(o *Options) { o.Spec.Interface, o.TimeFormat = "eth0", 2 })},
		{"-l", []string{"-li", "eth0"}, base(func(o *Options) { o.Spec.Interface, o.PacketBuffered = "eth0", true })},
		{"several interfaces, each once", []string{"-i", "a", "-i", "b,c", "-i", "a"}, base(func(o *Options) {
			o.Spec.Interface, o.Spec.Interfaces = "a", []string{"a", "b", "c"}
		})},
		{"a list naming one twice", []string{"-i", "a,a"}, base(func(o *Options) { o.Spec.Interface = "a" })},
		{"read a file", []string{"-r", "f.pcap", "-w", "out.pcap", "-c", "3", "--bytes", "100", "-F", "expr.txt", "udp"}, base(func(o *Options) {
			o.Read, o.Write, o.Spec.Packets, o.Spec.Bytes, o.FilterFile, o.Words = "f.pcap", "out.pcap", 3, 100, "expr.txt", []string{"udp"}
		})},
		{"read stdin", []string{"-nr", "-", "-tt"}, base(func(o *Options) { o.Read, o.TimeFormat = "-", 2 })},
		{"-e and the dumps: tcpdump's lines", []string{"-nei", "eth0", "-xx", "-X", "-A"}, base(func(o *Options) {
			o.Spec.Interface, o.LinkHeader, o.Hex, o.HexASCII, o.ASCII = "eth0", true, 2, 1, 1
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(agent.CaptureSpec{}, "Armed", "Packet", "PacketOn")); diff != "" {
				t.Errorf("ParseArgs(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestParseArgsRefused: a tcpdump option that is not implemented is
// refused as itself, with a message that says what it is and what to use
// instead, whether written alone, grouped or long.
func TestParseArgsRefused(t *testing.T) {
	tests := []struct {
		args   []string
		option string
		want   string // in the message
	}{
		{[]string{"-i", "eth0", "-C", "10"}, "-C", "use --bytes N to stop after N bytes"},
		{[]string{"-i", "eth0", "-G", "5"}, "-G", "use --duration S to stop after S seconds"},
		{[]string{"-i", "eth0", "-W", "3"}, "-W", "does not rotate files"},
		{[]string{"-i", "eth0", "-z", "gzip"}, "-z", "does not rotate files"},
		{[]string{"-i", "eth0", "-Z", "nobody"}, "-Z", "CAP_NET_RAW"},
		{[]string{"-i", "eth0", "-vv"}, "-v", "tcpdump -v -r FILE"},
		{[]string{"-i", "eth0", "-y", "EN10MB"}, "-y", "pcapdaemon bpf -y"},
		{[]string{"-i", "eth0", "-ddd", "udp"}, "-d", "pcapdaemon bpf -d"},
		{[]string{"-D"}, "-D", "pcapdaemon interfaces"},
		{[]string{"-i", "eth0", "-K"}, "-K", "drop it"},
		{[]string{"-i", "eth0", "--nano"}, "--nano", "files keep nanoseconds"},
		{[]string{"-i", "eth0", "--time-stamp-precision=nano"}, "--time-stamp-precision", "not implemented"},
		{[]string{"-i", "eth0", "--immediate-mode"}, "--immediate-mode", "block timeout"},
		{[]string{"--list-interfaces"}, "--list-interfaces", "pcapdaemon interfaces"},
		{[]string{"--version"}, "--version", "pcapdaemon version"},
		{[]string{"-r", "f", "--count"}, "--count", "not implemented"},
		{[]string{"-i", "eth0", "--linktype=EN10MB"}, "--linktype", "pcapdaemon bpf -y"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a *RefusedError", err)
			}
			if re.Option != tt.option || !strings.Contains(re.Msg, tt.want) {
				t.Errorf("refused %s: %q; want %s and a message containing %q", re.Option, re.Msg, tt.option, tt.want)
			}
		})
	}
	// Every refusal names its option and says what to do or why.
	for c, msg := range refusedShort {
		if !strings.HasPrefix(msg, "-"+string(c)) {
			t.Errorf("-%c: message %q does not start with the option", c, msg)
		}
	}
	for name, msg := range refusedLong {
		if !strings.HasPrefix(msg, "--"+name) && !strings.HasPrefix(msg, "-") {
			t.Errorf("--%s: message %q does not name an option", name, msg)
		}
	}
}

// TestParseArgsErrors: bad values and options that do not go together.
func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to capture", []string{"udp"}, "-i IFACE (capture) or -r FILE (read a file) is required"},
		{"-i and -r", []string{"-i", "eth0", "-r", "f.pcap"}, "-r and -i: read a file or capture on interfaces, not both"},
		{"-Q with -r", []string{"-r", "f.pcap", "-Q", "in"}, "-Q has no meaning with -r"},
		{"--direction with -r", []string{"-r", "f.pcap", "--direction=in"}, "-Q has no meaning with -r"},
		{"-B with -r", []string{"-r", "f.pcap", "-B", "10"}, "-B has no meaning with -r"},
		{"-p with -r", []string{"-pr", "f.pcap"}, "-p has no meaning with -r"},
		{"-s with -r", []string{"-r", "f.pcap", "-s", "100"}, "-s has no meaning with -r"},
		{"--duration with -r", []string{"-r", "f.pcap", "--duration", "1"}, "--duration has no meaning with -r"},
		{"--timeout with -r", []string{"-r", "f.pcap", "--timeout", "1"}, "--timeout has no meaning with -r"},
		{"-c 0", []string{"-i", "eth0", "-c", "0"}, `-c "0": invalid packet count`},
		{"-c word", []string{"-i", "eth0", "-c", "many"}, `-c "many": invalid packet count`},
		{"negative --bytes", []string{"-i", "eth0", "--bytes", "-1"}, `--bytes "-1": must be a number of bytes`},
		{"negative -s", []string{"-i", "eth0", "-s", "-5"}, `-s "-5": invalid snaplen`},
		{"-B 0", []string{"-i", "eth0", "-B", "0"}, `-B "0": must be between 1 and 2097152 KiB`},
		{"-B too big", []string{"-i", "eth0", "-B", "99999999"}, `-B "99999999": must be between 1 and 2097152 KiB`},
		{"-Q sideways", []string{"-i", "eth0", "-Q", "sideways"}, `-Q "sideways": must be in, out or inout`},
		{"-tttttt", []string{"-tttttti", "eth0"}, "only -t, -tt, -ttt, -tttt and -ttttt are supported"},
		{"-w without a value", []string{"-i", "eth0", "-w"}, "-w: needs a value"},
		{"--bytes without a value", []string{"-i", "eth0", "--bytes"}, "--bytes: needs a value"},
		{"-p with a value", []string{"-i", "eth0", "--no-promiscuous-mode=yes"}, "takes no value"},
		{"unknown letter", []string{"-i", "eth0", "-k"}, "-k: unknown option"},
		{"unknown long", []string{"-i", "eth0", "--frobnicate"}, "--frobnicate: unknown option"},
		{"bad --duration", []string{"-i", "eth0", "--duration", "-3"}, `--duration "-3": seconds out of range`},
		{"pcap for several interfaces", []string{"-i", "a,b", "--format", "pcap"}, "--format pcap: a capture on several interfaces (a, b) is one merged pcapng file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseArgs(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
			var re *RefusedError
			if errors.As(err, &re) {
				t.Errorf("a usage error, not a refusal: %v", err)
			}
		})
	}
	if _, err := ParseArgs([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if _, err := ParseArgs([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}
