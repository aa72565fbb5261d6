package agent

import (
	"context"
	"io"
	"time"
)

// Request is a capture request as published on a transport. The JSON field
// names are the seed's contract (see docs/design.md); ID and Format are additions.
type Request struct {
	ID          string   `json:"id,omitempty"`
	Node        string   `json:"node,omitempty"`
	NodeRE      string   `json:"nodere,omitempty"`
	Interface   []string `json:"interface,omitempty"`
	Alias       []string `json:"alias,omitempty"`
	Tags        string   `json:"tags,omitempty"`
	BPF         string   `json:"bpf,omitempty"`
	Customer    string   `json:"customer,omitempty"`
	Snap        int64    `json:"snap,omitempty"`
	Packets     int64    `json:"packets,omitempty"`
	AlertID     int64    `json:"alertid,omitempty"`
	Timeout     int64    `json:"timeout,omitempty"`
	Duration    int64    `json:"duration,omitempty"`
	Bytes       int64    `json:"bytes,omitempty"`
	PacketDebug bool     `json:"packetdebug,omitempty"`
	Folder      string   `json:"folder,omitempty"`
	Bucket      string   `json:"bucket,omitempty"`
	ACL         string   `json:"acl,omitempty"`
	Region      string   `json:"region,omitempty"`
	Endpoint    string   `json:"endpoint,omitempty"`
	Encryption  bool     `json:"encryption,omitempty"`
	Format      string   `json:"format,omitempty"` // "pcap" (default) or "pcapng"
	// Merge writes the captures of all the request's interfaces into one
	// pcapng file (one interface description block each, frames in
	// timestamp order) instead of one file per interface. It needs format
	// pcapng, which it implies when format is absent.
	Merge bool `json:"merge,omitempty"`
	// Lookback asks for this many seconds of history before the capture's
	// own frames, from the look-back ring of each interface (see
	// LookbackConfig).
	Lookback int64 `json:"lookback,omitempty"`
}

// Status is the outcome of one interface capture.
type Status string

// The statuses of a Result.
const (
	StatusOK       Status = "ok"       // packets captured and delivered
	StatusEmpty    Status = "empty"    // no packet matched; nothing delivered
	StatusError    Status = "error"    // the capture or every delivery failed
	StatusRejected Status = "rejected" // the request was invalid or not admitted
)

// StopReason says which control ended a capture.
type StopReason string

// The stop reasons of a Result.
const (
	StopPackets   StopReason = "packets"
	StopBytes     StopReason = "bytes"
	StopDuration  StopReason = "duration"
	StopTimeout   StopReason = "timeout"
	StopCancelled StopReason = "cancelled"
	StopShutdown  StopReason = "shutdown"
	// StopRestart is reported at start for a capture that the previous
	// process was running when it ended without a shutdown (a crash, kill
	// -9, a shutdown past its grace period); see Agent.RecoverJournal.
	StopRestart StopReason = "restart"
)

// Result is the event published for one interface capture (or one rejected
// request, with Interface empty).
type Result struct {
	ID          string     `json:"id"`
	Node        string     `json:"node"`
	Interface   string     `json:"interface,omitempty"`
	Status      Status     `json:"status"`
	StopReason  StopReason `json:"stop_reason,omitempty"`
	Packets     uint64     `json:"packets"`
	Bytes       uint64     `json:"bytes"`
	KernelDrops uint64     `json:"kernel_drops"`
	Started     time.Time  `json:"started"`
	Ended       time.Time  `json:"ended"`
	Locations   []string   `json:"locations"`
	Error       string     `json:"error,omitempty"`
	// AlertID, Tags and Customer are the request's, echoed so that whoever
	// asked (an alerting system) can match the results to its alert; each
	// is left out when the request had none (alertid 0 counts as none, as
	// in the tag string).
	AlertID  int64  `json:"alertid,omitempty"`
	Tags     string `json:"tags,omitempty"`
	Customer string `json:"customer,omitempty"`
	// LookbackPackets and LookbackFrom are set for a capture with
	// "lookback": the frames in the file from before the request (from
	// the interface's look-back ring), and the time of the oldest frame
	// the ring held then (absent when it held none): later than the
	// request's time less its lookback means the history was shorter
	// than asked.
	LookbackPackets *uint64    `json:"lookback_packets,omitempty"`
	LookbackFrom    *time.Time `json:"lookback_from,omitempty"`
}

// ResultPublisher delivers result events (Redis results channel, SQS result
// queue, ...). Implementations live in package transport.
type ResultPublisher interface {
	PublishResult(ctx context.Context, r Result) error
}

// CaptureData is a finished capture buffer (pcap or pcapng bytes) held in
// memory. Sinks read it without copying it whole.
type CaptureData interface {
	// Len is the size of the file in bytes.
	Len() int64
	// NewReader returns an independent reader positioned at offset 0. It
	// also implements io.ReaderAt and io.WriterTo.
	NewReader() io.ReadSeeker
}

// Capture is one finished interface capture handed to every Sink.
type Capture struct {
	Request   Request   // the validated request (defaults filled in)
	ID        string    // request id
	Node      string    // this host's name
	Interface string    // interface captured on ("any" for the pseudo-interface)
	Alias     string    // alias through which the interface was chosen, if any
	Format    string    // "pcap" or "pcapng"
	Snaplen   int       // snap length used
	Started   time.Time // when the socket was armed
	Ended     time.Time // when the capture stopped
	Tags      string    // the seed's tag string, see docs/design.md "Tags"
	FileName  string    // <host>-<iface>-<unix seconds>-<id>.pcap[ng]
	Packets   uint64
	Data      CaptureData
}

// Sink delivers a capture somewhere. Deliver returns the location of the
// delivered file (a path, s3://bucket/key, a URL).
type Sink interface {
	Name() string
	Deliver(ctx context.Context, c *Capture) (location string, err error)
}
