package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
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
		{"no -i", []string{"udp"}, 2, `^pcapdaemon capture: -i IFACE \(capture\) or -r FILE \(read a file\) is required$`},
		{"bad format", []string{"-i", "lo", "--format", "json"}, 2, `^pcapdaemon capture: --format "json": must be pcap or pcapng$`},
		{"bad --timeout", []string{"-i", "lo", "--timeout", "soon"}, 2, `^pcapdaemon capture: --timeout "soon": neither a number of seconds nor a duration$`},
		{"tcpdump's -C", []string{"-i", "lo", "-C", "10"}, 2, `^pcapdaemon capture: -C is tcpdump's file rotation by size; .*use --bytes N to stop after N bytes$`},
		{"unreadable -r", []string{"-r", filepath.Join(dir, "none.pcap")}, 1, `^pcapdaemon capture: open .*none\.pcap: no such file or directory$`},
		{"unreadable -F", []string{"-i", "lo", "-F", filepath.Join(dir, "none")}, 1, `^pcapdaemon capture: -F: open .*none: no such file or directory$`},
		{"several as pcap", []string{"-i", "lo,pcapdnone0", "--format", "pcap"},
			2, `^pcapdaemon capture: --format pcap: a capture on several interfaces \(lo, pcapdnone0\) is one merged pcapng file$`},
		{"empty name in list", []string{"-i", "lo,", "udp"}, 2, `^pcapdaemon capture: -i "lo,": empty interface name$`},
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
			if tt.status == 1 && len(lines) != 1 || strings.HasPrefix(tt.name, "tcpdump's") && len(lines) != 1 {
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
