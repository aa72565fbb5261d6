package httpapi

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What the page's templates are given: every value as the text or number
// it shows. html/template escapes each for where it lands (text,
// attribute, URL); the template never marks request data as safe.

// agentView is the "agent" section.
type agentView struct {
	Host, Version, Started, Uptime string
	Running, Snaplen               int
	Format                         string
}

// ifaceView is one row of the "interfaces" section.
type ifaceView struct {
	Name, Aliases, LinkType, Lookback, Error string
	DLT                                      uint32
}

// capturesView is the "captures" section: the running and the finished.
type capturesView struct {
	Running, Finished listView
}

// listView is one table of captures, or why there is none.
type listView struct {
	Absent bool   // the API lists no captures in this build
	Err    string // the list failed
	More   bool   // older ones exist than those shown
	Limit  int
	Rows   []captureRow
}

// captureRow is one interface of one capture (or a rejected request).
type captureRow struct {
	First     bool // the capture's first row: its id and request are shown
	Span      int  // rows of the capture, on its first row
	ID        string
	State     string
	Submitted string
	BPF       string
	Interface string
	// Running captures: live counters (Live false: none known yet).
	Live                          bool
	Packets, Bytes, KernelDrops   uint64
	Since, For                    string
	Status, StopReason            string
	Started, Ended, Took          string
	Locations                     []string
	Download                      bool // the file may be downloaded here
	Error                         string
	AlertID, Customer, Tags, Node string
}

// formatTime shows a time in UTC to the second; "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatSpan shows a duration in whole seconds, minutes and hours.
func formatSpan(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	if d < time.Minute {
		return d.String()
	}
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

func newAgentView(a AgentInfo, now time.Time) *agentView {
	return &agentView{
		Host: a.Host, Version: a.Version, Started: formatTime(a.Started), Uptime: formatSpan(now.Sub(a.Started)),
		Running: a.Running, Snaplen: a.Snaplen, Format: a.Format,
	}
}

func newIfaceViews(list []InterfaceInfo) []ifaceView {
	out := make([]ifaceView, 0, len(list))
	for _, in := range list {
		v := ifaceView{Name: in.Name, Aliases: strings.Join(in.Aliases, ", "), LinkType: in.LinkType, DLT: in.DLT, Error: in.Error}
		if in.Lookback > 0 {
			v.Lookback = formatSpan(time.Duration(in.Lookback * float64(time.Second)))
		}
		out = append(out, v)
	}
	return out
}

// newListView makes the rows of a list; download tells whether this build
// serves capture files.
func newListView(l listResult, limit int, now time.Time, download bool) listView {
	v := listView{Absent: l.Absent, Err: l.Err, More: l.More, Limit: limit}
	for _, c := range l.Captures {
		rows := captureRows(c, now, download)
		rows[0].First, rows[0].Span = true, len(rows)
		v.Rows = append(v.Rows, rows...)
	}
	return v
}

// captureRows makes one row per interface of c: its result when it has
// one, else its live counters, else its name alone.
func captureRows(c captureJSON, now time.Time, download bool) []captureRow {
	base := captureRow{ID: c.ID, State: c.State, Submitted: formatTime(c.Submitted), BPF: c.BPF}
	results := make(map[string]resultJSON)
	var rows []captureRow
	for _, r := range c.Results {
		results[r.Interface] = r
		row := base
		row.Interface, row.Status, row.StopReason = r.Interface, r.Status, r.StopReason
		row.Packets, row.Bytes, row.KernelDrops = r.Packets, r.Bytes, r.KernelDrops
		row.Started, row.Ended = formatTime(r.Started), formatTime(r.Ended)
		if !r.Started.IsZero() && !r.Ended.IsZero() {
			row.Took = formatSpan(r.Ended.Sub(r.Started))
		}
		row.Locations, row.Error, row.Node = r.Locations, r.Error, r.Node
		row.AlertID, row.Customer, row.Tags = alertID(r.AlertID), r.Customer, r.Tags
		row.Download = download && r.Interface != "" && hasLocalFile(r.Locations)
		rows = append(rows, row)
	}
	live := make(map[string]liveJSON)
	for _, l := range c.live() {
		live[l.Interface] = l
	}
	for _, name := range c.Interfaces {
		if _, done := results[name]; done {
			continue
		}
		row := base
		row.Interface = name
		if l, ok := live[name]; ok {
			row.Live = true
			row.Packets, row.Bytes, row.KernelDrops = l.Packets, l.Bytes, l.KernelDrops
			row.Since = formatTime(l.Since)
			if !l.Since.IsZero() {
				row.For = formatSpan(now.Sub(l.Since))
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		rows = append(rows, base)
	}
	return rows
}

// hasLocalFile reports whether a result's locations name a file of this
// host (a path, not s3:// or a URL): the one GET /v1/captures/{id}/file
// may serve.
func hasLocalFile(locations []string) bool {
	for _, l := range locations {
		if l != "" && !strings.Contains(l, "://") {
			return true
		}
	}
	return false
}

// alertID shows the echoed alert id: a number or a string; "" when absent
// or 0.
func alertID(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "0" {
		return ""
	}
	if s, err := strconv.Unquote(string(raw)); err == nil {
		return s
	}
	return string(raw)
}

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
