package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	info := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{}
		for i := 0; i+1 < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	const rev = "b4530fb0123456789abcdef0123456789abcdef0"
	tests := []struct {
		name    string
		version string
		bi      *debug.BuildInfo
		want    string
	}{
		{"stamped", "v1.2.3-4-gabcdef0-dirty", info("vcs.revision", rev), "v1.2.3-4-gabcdef0-dirty"},
		{"dev, clean tree", "dev", info("vcs.revision", rev, "vcs.modified", "false"), "dev+b4530fb01234"},
		{"dev, modified tree", "dev", info("vcs.revision", rev, "vcs.modified", "true"), "dev+b4530fb01234-dirty"},
		{"dev, no vcs", "dev", info("-trimpath", "true"), "dev"},
		{"dev, no build info", "dev", nil, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionString(tt.version, tt.bi); got != tt.want {
				t.Errorf("versionString(%q) = %q, want %q", tt.version, got, tt.want)
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runVersion(nil, &out, &errb); code != 0 {
		t.Fatalf("status %d, stderr %q", code, errb.String())
	}
	want := " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if s := out.String(); !strings.HasPrefix(s, "pcapdaemon dev") || !strings.HasSuffix(s, want) {
		t.Errorf("output %q, want pcapdaemon dev...%q", s, want)
	}
	out.Reset()
	errb.Reset()
	if code := runVersion([]string{"extra"}, &out, &errb); code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), `"extra"`) {
		t.Errorf("with an argument: status %d, stdout %q, stderr %q; want 2, nothing, the argument named", code, out.String(), errb.String())
	}
}
