package config

import (
	"time"
)

// Config is the daemon's whole configuration. The koanf tags are the TOML
// keys; sections and keys of the seed keep their names.
type Config struct {
	General    General     `koanf:"general"`
	Cloudshark Cloudshark  `koanf:"cloudshark"`
	Redis      Redis       `koanf:"redis"`
	Syslog     Syslog      `koanf:"syslog"`
	Interfaces []Interface `koanf:"interface"`
	S3         S3          `koanf:"s3"`
	SQS        SQS         `koanf:"sqs"`
	HTTP       HTTP        `koanf:"http"`
	Security   Security    `koanf:"security"`
	Metrics    Metrics     `koanf:"metrics"`
	Log        Log         `koanf:"log"`

	// File is the path of the TOML file loaded ("" when none).
	File string `koanf:"-"`

	localDirDefault bool // general.localdir was not configured
}

// General holds the capture limits and local-file settings ([general]).
// Times are whole seconds, as in the seed.
type General struct {
	MaxPackets     int64  `koanf:"maxpackets"`
	WriteLocal     bool   `koanf:"writelocal"`
	LocalDir       string `koanf:"localdir"`
	SnapLength     int    `koanf:"snaplength"`
	MaxSnapLength  int    `koanf:"maxsnaplength"`
	DefaultTimeout int64  `koanf:"defaulttimeout"`
	MaxTimeout     int64  `koanf:"maxtimeout"`
	MaxDuration    int64  `koanf:"maxduration"`
	MaxBytes       int64  `koanf:"maxbytes"`
	PacketDebug    bool   `koanf:"packetdebug"`

	// Hostname overrides this node's name for request matching ("" = the
	// kernel's host name).
	Hostname string `koanf:"hostname"`
	// Promiscuous puts capture interfaces in promiscuous mode.
	Promiscuous bool `koanf:"promiscuous"`
	// MaxConcurrent caps the interface captures running at once.
	MaxConcurrent int `koanf:"maxconcurrent"`
	// MaxMemory is the memory budget, in bytes, of rings and buffers.
	MaxMemory int64 `koanf:"maxmemory"`
	// ShutdownGrace is how long, in seconds, running captures may take to
	// deliver after SIGTERM.
	ShutdownGrace int64 `koanf:"shutdowngrace"`
	// SpoolDir is where captures whose every delivery failed are kept
	// ("" = not kept).
	SpoolDir string `koanf:"spooldir"`
	// Format is the default capture file format: "pcap" or "pcapng".
	Format string `koanf:"format"`
	// RingSize is the receive ring of one capture handle, in bytes (rounded
	// down to whole 1 MiB blocks); it is charged to MaxMemory.
	RingSize int64 `koanf:"ringsize"`
	// BlockTimeout, in milliseconds, bounds how long a part-filled ring block
	// waits before the kernel hands it over: the delivery latency on a quiet
	// link.
	BlockTimeout int64 `koanf:"blocktimeout"`
	// MaxMessage is the largest request message accepted, in bytes, on
	// every transport.
	MaxMessage int `koanf:"maxmessage"`
	// FilterNames lets request filters name hosts, networks and ports by
	// name (a DNS or /etc lookup at compile time). false refuses such
	// filters, so that no requester can make the agent query DNS.
	FilterNames bool `koanf:"filternames"`
	// SpoolMaxBytes caps the spool directory; beyond it the oldest spooled
	// captures are dropped (logged and counted).
	SpoolMaxBytes int64 `koanf:"spoolmaxbytes"`
	// LocalMaxFiles, LocalMaxBytes and LocalMaxAge (seconds) bound the
	// capture files kept in LocalDir (0 = no bound): after each delivery
	// and hourly, the oldest files beyond them are removed.
	LocalMaxFiles int   `koanf:"localmaxfiles"`
	LocalMaxBytes int64 `koanf:"localmaxbytes"`
	LocalMaxAge   int64 `koanf:"localmaxage"`
	// MaxLookback is the most seconds of history a request's "lookback"
	// may ask of the look-back rings.
	MaxLookback int64 `koanf:"maxlookback"`
}

// Cloudshark is the Cloudshark upload sink ([cloudshark]).
type Cloudshark struct {
	Host   string `koanf:"host"`
	Scheme string `koanf:"scheme"`
	Port   int    `koanf:"port"` // 0 = the scheme's port
	Token  string `koanf:"token"`
	Upload bool   `koanf:"upload"`
	// Timeout bounds one upload, in seconds.
	Timeout int64 `koanf:"timeout"`
	// Insecure skips TLS certificate verification (test servers only).
	Insecure bool `koanf:"insecure"`
}

// Redis is the Redis pub/sub request source and result channel ([redis]).
type Redis struct {
	Listen  bool   `koanf:"listen"`
	Host    string `koanf:"host"`
	Port    int    `koanf:"port"`
	Channel string `koanf:"channel"`
	// Auth is the password (AUTH); Username selects an ACL user.
	Auth     string `koanf:"auth"`
	Username string `koanf:"username"`
	// TLS connects with TLS; TLSCA names a PEM file of extra roots and
	// TLSServerName overrides the name checked in the server certificate.
	TLS           bool   `koanf:"tls"`
	TLSCA         string `koanf:"tlsca"`
	TLSServerName string `koanf:"tlsservername"`
	// Addrs lists host:port seeds for a cluster or sentinel deployment;
	// when set it replaces Host and Port.
	Addrs []string `koanf:"addrs"`
	// Mode is "" (detect single server or cluster), "single", "cluster" or
	// "sentinel".
	Mode string `koanf:"mode"`
	// Master is the sentinel master set name (Mode "sentinel").
	Master string `koanf:"master"`
	// ResultsChannel receives result events; default "<channel>.results".
	ResultsChannel string `koanf:"resultschannel"`
}

// Syslog sends the log to syslog as well as stderr ([syslog]).
type Syslog struct {
	// Priority is facility|severity as in <sys/syslog.h>; 0 leaves syslog
	// off. The facility is used for every record; each record's severity
	// follows its level.
	Priority int    `koanf:"priority"`
	Tag      string `koanf:"tag"`
	// Network and Address name a remote syslog ("udp", "host:514"); empty
	// means the local syslog socket.
	Network string `koanf:"network"`
	Address string `koanf:"address"`
}

// Enabled reports whether logging to syslog is configured.
func (s Syslog) Enabled() bool { return s.Priority > 0 }

// Interface gives one host interface aliases, a look-back ring, or both
// ([[interface]]).
type Interface struct {
	Name  string   `koanf:"name"`
	Alias []string `koanf:"alias"`
	// Lookback, when not 0, keeps an always-open ring on the interface
	// that holds its most recent Lookback bytes of traffic, for requests
	// with "lookback"; the ring's memory (about 1.6 times that) is charged
	// to general.maxmemory.
	Lookback int64 `koanf:"lookback"`
	// LookbackSnap is the most bytes kept of each frame in the ring (0:
	// general.snaplength).
	LookbackSnap int `koanf:"lookbacksnap"`
	// LookbackFilter is a pcap-filter expression: the ring holds only
	// what it keeps ("": every frame).
	LookbackFilter string `koanf:"lookbackfilter"`
}

// S3 is the S3 upload sink ([s3]). Credentials fall back to the AWS default
// chain when AccessID is empty.
type S3 struct {
	AccessID   string `koanf:"accessid"`
	AccessKey  string `koanf:"accesskey"`
	Endpoint   string `koanf:"endpoint"`
	Bucket     string `koanf:"bucket"`
	Folder     string `koanf:"folder"`
	Upload     bool   `koanf:"upload"`
	Region     string `koanf:"region"`
	ACL        string `koanf:"acl"`
	Encryption bool   `koanf:"encryption"`
	// KMSKeyID selects SSE-KMS with this key.
	KMSKeyID string `koanf:"kmskeyid"`
	// AllowBuckets and AllowEndpoints list what a request may name in its
	// "bucket" and "endpoint" fields (empty = only the configured ones).
	AllowBuckets   []string `koanf:"allowbuckets"`
	AllowEndpoints []string `koanf:"allowendpoints"`
	// AllowACLs lists the canned ACLs a request's "acl" field may set
	// besides the configured acl (empty = only the configured one). The
	// seed's example request asks for "public-read": an agent refuses it
	// unless that ACL is the configured acl or listed here, so that no
	// requester can publish captures the operator meant to keep private.
	AllowACLs []string `koanf:"allowacls"`
	// AllowFolders lists folders a request's "folder" field may name
	// outright; any other folder must be a sub-prefix of the configured
	// folder.
	AllowFolders []string `koanf:"allowfolders"`
	// PathStyle addresses buckets as endpoint/bucket (S3-compatible servers).
	PathStyle bool `koanf:"pathstyle"`
}

// SQS is the SQS long-poll request source ([sqs]).
type SQS struct {
	Listen      bool   `koanf:"listen"`
	Region      string `koanf:"region"`
	AccessID    string `koanf:"accessid"`
	AccessKey   string `koanf:"accesskey"`
	URL         string `koanf:"url"`
	WaitSeconds int    `koanf:"waitseconds"`
	ChunkSize   int    `koanf:"chunksize"`
	// Endpoint overrides the service endpoint (test servers).
	Endpoint string `koanf:"endpoint"`
	// Protocol is the wire protocol: "json" (default) or "query".
	Protocol string `koanf:"protocol"`
	// ResultsURL is a queue that receives result events ("" = none).
	ResultsURL string `koanf:"resultsurl"`
	// Shared says the queue is read by several agents: a message for
	// another node is released, not deleted.
	Shared bool `koanf:"shared"`
}

// HTTP is the HTTP API ([http]).
type HTTP struct {
	// Listen is host:port; "" turns the API off.
	Listen string `koanf:"listen"`
	// Token, when set, is required as "Authorization: Bearer <token>".
	// A listener on a non-loopback address requires it.
	Token string `koanf:"token"`
	// TLSCert and TLSKey name PEM files; when both are set the API speaks
	// HTTPS.
	TLSCert string `koanf:"tlscert"`
	TLSKey  string `koanf:"tlskey"`
	// MaxConns caps the connections open at once; at the cap the oldest
	// one not running a request is closed to make room.
	MaxConns int `koanf:"maxconns"`
}

// Security holds request signing ([security]).
type Security struct {
	// HMACKey, when set, requires every request to be a signed envelope.
	HMACKey string `koanf:"hmackey"`
	// MaxSkew is the accepted clock difference, in seconds.
	MaxSkew int64 `koanf:"maxskew"`
}

// Metrics says where /metrics, /healthz and /readyz are served ([metrics]).
type Metrics struct {
	// Listen is host:port of a listener of their own, which serves those
	// three and nothing else, without the token and without the HTTP API's
	// Host check (Prometheus scrapes a node by its address). "" serves them
	// on the HTTP API's listener.
	Listen string `koanf:"listen"`
}

// Log is the daemon's own log ([log]).
type Log struct {
	// Level is the least severe level logged: "debug", "info", "warn" or
	// "error". SIGHUP applies a new one.
	Level string `koanf:"level"`
	// Format is the stderr format: "text" (key=value) or "json" (one
	// object a line). Syslog always gets key=value text.
	Format string `koanf:"format"`
}

// The defaults that Load starts from. Keys are "section.key".
const (
	DefaultHTTPListen = "127.0.0.1:8657"
	DefaultLocalDir   = "./captures"
	DefaultChannel    = "capture"
	ResultsSuffix     = ".results"
)

// defaults returns the first layer: every key's default value. writelocal
// and redis.resultschannel are left out: they are derived (see derive).
func defaults() map[string]any {
	return map[string]any{
		"general.maxpackets":     50000,
		"general.localdir":       DefaultLocalDir,
		"general.snaplength":     500,
		"general.maxsnaplength":  262144,
		"general.defaulttimeout": 10,
		"general.maxtimeout":     3600,
		"general.maxduration":    3600,
		"general.maxbytes":       100_000_000,
		"general.packetdebug":    false,
		"general.promiscuous":    true,
		"general.maxconcurrent":  16,
		"general.maxmemory":      1 << 30,
		"general.shutdowngrace":  30,
		"general.format":         "pcap",
		"general.maxmessage":     64 << 10,
		"general.ringsize":       8 << 20,
		"general.blocktimeout":   10,
		"general.filternames":    true,
		"general.spoolmaxbytes":  1 << 30,
		"general.localmaxfiles":  0,
		"general.localmaxbytes":  0,
		"general.localmaxage":    0,
		"general.maxlookback":    300,

		"cloudshark.host":    "localhost",
		"cloudshark.scheme":  "https",
		"cloudshark.timeout": 60,

		"redis.host":    "127.0.0.1",
		"redis.port":    6379,
		"redis.channel": DefaultChannel,

		"syslog.tag": "pcapdaemon",

		"s3.region": "us-east-1",
		"s3.acl":    "private",

		"sqs.region":      "us-east-1",
		"sqs.waitseconds": 20,
		"sqs.chunksize":   10,
		"sqs.protocol":    "json",

		"http.listen":   DefaultHTTPListen,
		"http.maxconns": 256,

		"security.maxskew": 30,

		"log.level":  "info",
		"log.format": "text",
	}
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// DefaultTimeoutDuration is general.defaulttimeout as a duration.
func (g General) DefaultTimeoutDuration() time.Duration { return seconds(g.DefaultTimeout) }

// MaxTimeoutDuration is general.maxtimeout as a duration.
func (g General) MaxTimeoutDuration() time.Duration { return seconds(g.MaxTimeout) }

// MaxDurationDuration is general.maxduration as a duration.
func (g General) MaxDurationDuration() time.Duration { return seconds(g.MaxDuration) }

// MaxLookbackDuration is general.maxlookback as a duration.
func (g General) MaxLookbackDuration() time.Duration { return seconds(g.MaxLookback) }

// LocalMaxAgeDuration is general.localmaxage as a duration.
func (g General) LocalMaxAgeDuration() time.Duration { return seconds(g.LocalMaxAge) }

// ShutdownGraceDuration is general.shutdowngrace as a duration.
func (g General) ShutdownGraceDuration() time.Duration { return seconds(g.ShutdownGrace) }

// TimeoutDuration is cloudshark.timeout as a duration.
func (c Cloudshark) TimeoutDuration() time.Duration { return seconds(c.Timeout) }

// MaxSkewDuration is security.maxskew as a duration.
func (s Security) MaxSkewDuration() time.Duration { return seconds(s.MaxSkew) }

// Addresses returns the Redis servers to contact: Addrs when set, else
// Host:Port.
func (r Redis) Addresses() []string {
	if len(r.Addrs) > 0 {
		return append([]string(nil), r.Addrs...)
	}
	return []string{joinHostPort(r.Host, r.Port)}
}

// Aliases maps every alias to the interfaces that carry it, in file order.
func (c *Config) Aliases() map[string][]string {
	m := make(map[string][]string)
	for _, in := range c.Interfaces {
		for _, a := range in.Alias {
			m[a] = append(m[a], in.Name)
		}
	}
	return m
}
