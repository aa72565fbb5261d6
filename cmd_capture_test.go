package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestCaptureCommandErrors checks the errors that stop a capture before it
// starts: one line on stderr, exit status 1 (2 for a bad command line).
// It needs no privileges: they all happen before a socket is opened.
func TestCaptureCommandErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		status int
		want   string // regexp for the first stderr line
	}{
		{"bad filter", []string{"-i", "lo", "-w", filepath.Join(dir, "x.pcap"), "udp", "and", "port"},
			1, `^pcapdaemon capture: filter "udp and port": 1:13: .+$`},
		{"no interface", []string{"-i", "pcapdnone0", "udp"},
			1, `^pcapdaemon capture: no interface "pcapdnone0" on this host: .+$`},
		{"unwritable file", []string{"-i", "lo", "-w", filepath.Join(dir, "no", "such", "dir", "x.pcap")},
			1, `^pcapdaemon capture: creating .*x\.pcap: .+$`},
		{"no -i", []string{"udp"}, 2, `^pcapdaemon capture: -i IFACE is required$`},
		{"bad format", []string{"-i", "lo", "--format", "json"}, 2, `^pcapdaemon capture: --format "json": must be pcap or pcapng$`},
		{"bad -t", []string{"-i", "lo", "-t", "soon"}, 2, `^pcapdaemon capture: invalid value "soon" for flag -t: .+$`},
		{"several as pcap", []string{"-i", "lo,pcapdnone0", "--format", "pcap"},
			2, `^pcapdaemon capture: --format pcap: a capture on several interfaces \(lo, pcapdnone0\) is one merged pcapng file$`},
		{"empty name in list", []string{"-i", "lo,", "udp"}, 2, `^pcapdaemon capture: invalid value "lo," for flag -i: "lo,": empty interface name$`},
		{"no second interface", []string{"-i", "lo", "-i", "pcapdnone0", "udp"},
			1, `^pcapdaemon capture: no interface "pcapdnone0" on this host: .+$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			st := captureMain(context.Background(), tt.args, &stdout, &stderr)
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			if st != tt.status || !regexp.MustCompile(tt.want).MatchString(lines[0]) {
				t.Errorf("status %d, stderr %q; want %d and %s", st, stderr.String(), tt.status, tt.want)
			}
			if tt.status == 1 && len(lines) != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", len(lines), stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
	if names := testenv.ReadDirNames(dir); len(names) != 0 {
		t.Errorf("left behind %v", names)
	}
}

func TestParseCaptureInterfaces(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		iface  string
		ifaces []string
		format string
	}{
		{[]string{"-i", "eth0"}, "eth0", nil, ""},
		{[]string{"-i", "eth0", "--format", "pcap"}, "eth0", nil, "pcap"},
		{[]string{"-i", "eth0,eth1"}, "eth0", []string{"eth0", "eth1"}, ""},
		{[]string{"-i", "a", "-i", "b,c", "-i", "a", "--format", "pcapng"}, "a", []string{"a", "b", "c"}, "pcapng"},
		{[]string{"-i", "a,a"}, "a", nil, ""},
	} {
		o, err := parseCaptureArgs(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o.spec.Interface != tc.iface || !slices.Equal(o.spec.Interfaces, tc.ifaces) || o.spec.Format != tc.format {
			t.Errorf("%q: interface %q, interfaces %q, format %q; want %q, %q, %q",
				tc.args, o.spec.Interface, o.spec.Interfaces, o.spec.Format, tc.iface, tc.ifaces, tc.format)
		}
	}
}
