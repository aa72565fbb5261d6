package s3

import (
	"strconv"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// MaxMetadataBytes is S3's limit on user metadata: the sum of the lengths of
// every key and value (without the x-amz-meta- prefix).
const MaxMetadataBytes = 2048

// truncMark ends a value cut to fit MaxMetadataBytes.
const truncMark = "..."

// metadata returns the object's user metadata for capture c, within
// MaxMetadataBytes: when the values do not fit, the filter text is cut
// first, then the tag string, then the customer.
func metadata(c *agent.Capture) map[string]string {
	type kv struct{ k, v string }
	// Fixed, short fields first; the ones that may be cut last, in the
	// order they are cut.
	fields := []kv{
		{"requestid", c.ID},
		{"node", c.Node},
		{"interface", c.Interface},
		{"alias", c.Alias},
		{"snaplength", strconv.Itoa(c.Snaplen)},
		{"started", formatTime(c.Started)},
		{"alertid", formatAlertID(c.Request.AlertID)},
		{"customer", c.Request.Customer},
		{"tags", c.Tags},
		{"filter", c.Request.BPF},
	}
	total := 0
	for i := range fields {
		fields[i].v = headerSafe(fields[i].v)
		if fields[i].v != "" {
			total += len(fields[i].k) + len(fields[i].v)
		}
	}
	// Cut from the end: filter, tags, customer.
	for i := len(fields) - 1; i >= 0 && total > MaxMetadataBytes; i-- {
		f := &fields[i]
		if f.v == "" {
			continue
		}
		over := total - MaxMetadataBytes
		if over >= len(f.v) || len(f.v)-over <= len(truncMark) {
			total -= len(f.k) + len(f.v) // drop the value entirely
			f.v = ""
			continue
		}
		keep := len(f.v) - over - len(truncMark)
		total -= len(f.v) - keep - len(truncMark)
		f.v = f.v[:keep] + truncMark
	}
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		if f.v != "" {
			m[f.k] = f.v
		}
	}
	return m
}

// headerSafe makes v a valid HTTP header value that S3 stores unchanged:
// printable ASCII, no leading or trailing spaces. Other bytes become '?'.
func headerSafe(v string) string {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if b[j] < 0x20 || b[j] > 0x7e {
					b[j] = '?'
				}
			}
			return strings.TrimSpace(string(b))
		}
	}
	return v
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func formatAlertID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
