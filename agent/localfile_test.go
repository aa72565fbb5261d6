package agent

import (
	"errors"
	"strings"
	"testing"
)

func TestLocalFile(t *testing.T) {
	const dir = "/var/lib/pcapdaemon/"
	isLocal := func(loc string) bool { return strings.HasPrefix(loc, dir) }
	ok := func(iface string, locs ...string) Result {
		return Result{Interface: iface, Status: StatusOK, Packets: 1, Locations: locs}
	}
	f0 := dir + "h-eth0-1700000000-x.pcap"
	f1 := dir + "h-eth1-1700000000-x.pcap"
	merged := dir + "h-eth0+eth1-1700000000-x.pcapng"
	tests := []struct {
		name    string
		st      RequestState
		iface   string
		want    LocalFile
		err     error
		message string // in the error
	}{
		{name: "one file", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0"}, Results: []Result{ok("eth0", "s3://b/k", f0)}},
			want: LocalFile{Path: f0, Interface: "eth0", Format: FormatPcap}},
		{name: "merged: one file for two", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0", "eth1"},
			Results: []Result{ok("eth0", merged), ok("eth1", merged)}},
			want: LocalFile{Path: merged, Interface: "eth0", Format: FormatPcapNG}},
		{name: "two files, one named", iface: "eth1", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0", "eth1"},
			Results: []Result{ok("eth0", f0), ok("eth1", f1)}},
			want: LocalFile{Path: f1, Interface: "eth1", Format: FormatPcap}},
		{name: "two files, none named", st: RequestState{ID: "x", Phase: PhaseDone, Interfaces: []string{"eth0", "eth1"},
			Results: []Result{ok("eth0", f0), ok("eth1", f1)}},
			err: ErrBadQuery, message: "eth0, eth1: name one with ?interface="},
		{name: "another interface", iface: "eth7", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0"},
			Results: []Result{ok("eth0", f0)}},
			err: ErrNoFile, message: `no capture on interface "eth7"`},
		{name: "still running", st: RequestState{Phase: PhaseRunning, Interfaces: []string{"eth0"}, Results: []Result{}},
			err: ErrNoFile, message: "still running"},
		{name: "one running, the other done elsewhere", iface: "eth1", st: RequestState{Phase: PhaseRunning, Interfaces: []string{"eth0", "eth1"},
			Results: []Result{ok("eth0", f0)}},
			err: ErrNoFile, message: "still running"},
		{name: "empty", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0"},
			Results: []Result{{Interface: "eth0", Status: StatusEmpty, Locations: []string{}}}},
			err: ErrNoFile, message: "nothing was captured on eth0"},
		{name: "rejected", st: RequestState{Phase: PhaseDone,
			Results: []Result{{Status: StatusRejected, Error: "invalid request: snap: too big", Locations: []string{}}}},
			err: ErrNoFile, message: "rejected (invalid request: snap: too big)"},
		{name: "elsewhere only", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0"},
			Results: []Result{ok("eth0", "s3://bucket/key.pcap")}},
			err: ErrNoFile, message: "not kept in the local directory; it went to s3://bucket/key.pcap"},
		{name: "not delivered", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0"},
			Results: []Result{{Interface: "eth0", Status: StatusError, Error: "every sink failed", Locations: []string{}}}},
			err: ErrNoFile, message: "not delivered: every sink failed"},
		{name: "a path outside the directory is never given", st: RequestState{Phase: PhaseDone, Interfaces: []string{"eth0"},
			Results: []Result{ok("eth0", "/etc/shadow")}},
			err: ErrNoFile, message: "not kept in the local directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.st.LocalFile(tt.iface, isLocal)
			if tt.err == nil {
				if err != nil || got != tt.want {
					t.Errorf("LocalFile = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("LocalFile = %+v, %v; want an error matching %v saying %q", got, err, tt.err, tt.message)
			}
		})
	}
}
