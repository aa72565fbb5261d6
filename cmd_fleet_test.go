package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestNodesFlags(t *testing.T) {
	o, err := parseNodesFlags([]string{"-redis", "10.0.0.1:6379", "-channel", "caps", "-redisuser", "u", "-json"})
	if err != nil {
		t.Fatal(err)
	}
	g := o.Transport.Given
	if !o.JSON || g["redis"] != "10.0.0.1:6379" || g["redischannel"] != "caps" || g["redisuser"] != "u" || len(g) != 3 {
		t.Errorf("options %+v", o)
	}
	if _, err := parseNodesFlags([]string{"extra"}); err == nil {
		t.Error("a positional argument was taken")
	}
}

// TestCancelAndNodesUsage: a bad command line is exit status 2 with the
// reason; -h prints the usage.
func TestCancelAndNodesUsage(t *testing.T) {
	tests := []struct {
		run  func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want string
	}{
		{runCancelBuf, []string{"-redis", "127.0.0.1:1"}, "want one request id"},
		{runCancelBuf, []string{"-redis", "127.0.0.1:1", "a", "b"}, "want one request id"},
		{runCancelBuf, []string{"-redis", "127.0.0.1:1", "bad/id"}, "request id"},
		{runCancelBuf, []string{"-via", "pigeon", "x"}, "-via"},
		{runCancelBuf, []string{"x"}, "no transport"},
		{runNodesBuf, []string{"-nosuch"}, "-nosuch"},
		{runNodesBuf, nil, "no server"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := tt.run(tt.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errb.String(), tt.want)
		}
	}
	for _, run := range []func([]string, *bytes.Buffer, *bytes.Buffer) int{runCancelBuf, runNodesBuf} {
		var out, errb bytes.Buffer
		if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "usage: pcapdaemon ") {
			t.Errorf("-h: exit %d, stdout %q", code, out.String())
		}
	}
}

func runCancelBuf(args []string, out, errb *bytes.Buffer) int { return runCancel(args, out, errb) }
func runNodesBuf(args []string, out, errb *bytes.Buffer) int  { return runNodes(args, out, errb) }
