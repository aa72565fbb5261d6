package s3

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

func metaSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

func TestMetadata(t *testing.T) {
	c := &agent.Capture{
		Request:   agent.Request{BPF: "udp port 53", Customer: "acme", AlertID: 42},
		ID:        "req-1",
		Node:      "host1",
		Interface: "eth0",
		Alias:     "public",
		Snaplen:   1500,
		Started:   time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Tags:      "customer:acme,alertid:42,x,alias:public,node:host1,interface:eth0,snaplength:1500",
	}
	want := map[string]string{
		"requestid": "req-1", "node": "host1", "interface": "eth0", "alias": "public", "snaplength": "1500",
		"started": "2024-05-01T12:00:00Z", "alertid": "42", "customer": "acme", "tags": c.Tags, "filter": "udp port 53",
	}
	if got := metadata(c); !maps.Equal(got, want) {
		t.Errorf("metadata:\n got %v\nwant %v", got, want)
	}
}

func TestMetadataTruncation(t *testing.T) {
	long := strings.Repeat("host 198.18.0.1 or ", 400) // ~7.6 KB
	tests := []struct {
		name        string
		bpf, tags   string
		wantFilter  func(string) bool
		wantTagsCut bool
	}{
		{"fits", "tcp", "a,b", func(f string) bool { return f == "tcp" }, false},
		{"long filter cut", long, "a,b", func(f string) bool {
			return strings.HasSuffix(f, truncMark) && strings.HasPrefix(long, strings.TrimSuffix(f, truncMark))
		}, false},
		{"long tags too: filter dropped, tags cut", long, strings.Repeat("t", 5000), func(f string) bool { return f == "" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &agent.Capture{ID: "id", Node: "n", Interface: "eth0", Request: agent.Request{BPF: tt.bpf}, Tags: tt.tags}
			m := metadata(c)
			if n := metaSize(m); n > MaxMetadataBytes {
				t.Fatalf("metadata is %d bytes, over %d", n, MaxMetadataBytes)
			}
			if !tt.wantFilter(m["filter"]) {
				t.Errorf("filter = %.60q... (len %d)", m["filter"], len(m["filter"]))
			}
			if cut := strings.HasSuffix(m["tags"], truncMark); cut != tt.wantTagsCut {
				t.Errorf("tags cut = %v, want %v", cut, tt.wantTagsCut)
			}
			if m["requestid"] != "id" || m["node"] != "n" {
				t.Errorf("identifying keys lost: %v", m)
			}
			if tt.wantFilter(long) && metaSize(m) != MaxMetadataBytes && len(tt.bpf) > 3000 {
				t.Errorf("truncation wasted space: %d bytes", metaSize(m))
			}
		})
	}
}

func TestHeaderSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"  trimmed  ", "trimmed"},
		{"tab\there", "tab?here"},
		{"caf\u00e9", "caf??"},
		{"new\nline\r", "new?line"},
	}
	for _, tt := range tests {
		if got := headerSafe(tt.in); got != tt.want {
			t.Errorf("headerSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMetadata(f *testing.F) {
	f.Add("udp", "a,b", "cust", "eth0")
	f.Add(strings.Repeat("x", 3000), strings.Repeat("y", 3000), "\u00e9\x00", " ")
	f.Fuzz(func(t *testing.T, bpf, tags, customer, iface string) {
		c := &agent.Capture{ID: "id", Interface: iface, Request: agent.Request{BPF: bpf, Customer: customer}, Tags: tags}
		m := metadata(c)
		if n := metaSize(m); n > MaxMetadataBytes {
			t.Fatalf("metadata is %d bytes", n)
		}
		for k, v := range m {
			if v == "" || strings.TrimSpace(v) != v {
				t.Fatalf("%s = %q: empty or padded", k, v)
			}
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					t.Fatalf("%s = %q: byte %#x", k, v, v[i])
				}
			}
		}
	})
}
