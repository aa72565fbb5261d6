package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// KeyError is one invalid setting: the key (as "section.key", the
// environment variable's name, or "interface[i].name"), the offending value
// when there is one, and why it is wrong.
type KeyError struct {
	Key    string
	Value  any
	Reason string
}

func (e *KeyError) Error() string {
	if e.Value == nil {
		return e.Key + ": " + e.Reason
	}
	if IsSecretKey(e.Key) {
		// The value of a secret never reaches a log or a terminal, even
		// when it is wrong: the key and the reason say enough.
		return fmt.Sprintf("%s = (secret, not shown): %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("%s = %s: %s", e.Key, quoteValue(e.Value), e.Reason)
}

// secretKeys are the keys whose values are credentials.
var secretKeys = [...]string{
	"cloudshark.token", "redis.auth", "s3.accessid", "s3.accesskey",
	"sqs.accessid", "sqs.accesskey", "http.token", "security.hmackey",
}

// IsSecretKey reports whether key ("section.key", or its environment
// variable PCAPDAEMON_SECTION_KEY) holds a credential whose value must never
// be printed.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	if rest, ok := strings.CutPrefix(k, strings.ToLower(EnvPrefix)); ok {
		if sec, name, ok := strings.Cut(rest, "_"); ok {
			k = sec + "." + name
		}
	}
	return slices.Contains(secretKeys[:], k)
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// MaxSnapLength is the largest snap length accepted (tcpdump's default).
const MaxSnapLength = 262144

// cannedACLs are the S3 canned ACLs a [s3] acl may name.
func cannedACLs() []string {
	return []string{"private", "public-read", "public-read-write", "authenticated-read",
		"aws-exec-read", "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"}
}

// Validate checks the values of c and returns every problem found, joined,
// each a *KeyError naming the key. It looks at nothing outside c: whether
// directories, files and interfaces exist on this host is CheckHost's
// question.
func (c *Config) Validate() error {
	var v validator
	c.validate(&v)
	return v.err(c.File)
}

func (c *Config) validate(v *validator) {
	c.validateGeneral(v)
	c.validateSources(v)
	c.validateSinks(v)
	c.validateSyslog(v)
	c.validateInterfaces(v)
	c.validateLookbackMemory(v)
	c.validateSecurity(v)
	c.validateObservability(v)
}

// validator collects KeyErrors.
type validator struct{ errs []error }

// err joins the problems found, or returns nil.
func (v *validator) err(file string) error {
	if len(v.errs) == 0 {
		return nil
	}
	if file == "" {
		file = "defaults"
	}
	return problemsError(file, v.errs)
}

func (v *validator) add(key string, val any, format string, args ...any) {
	v.errs = append(v.errs, &KeyError{Key: key, Value: val, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(key string, n int64) {
	if n <= 0 {
		v.add(key, n, "must be greater than 0")
	}
}

func (v *validator) port(key string, p int, zeroOK bool) {
	if (p == 0 && !zeroOK) || p < 0 || p > 65535 {
		v.add(key, p, "must be a port number, 1 to 65535")
	}
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.add(key, val, "must be one of %s", strings.Join(allowed, ", "))
	}
}

func (c *Config) validateGeneral(v *validator) {
	g := c.General
	v.positive("general.maxpackets", g.MaxPackets)
	v.positive("general.maxbytes", g.MaxBytes)
	v.positive("general.defaulttimeout", g.DefaultTimeout)
	v.positive("general.maxtimeout", g.MaxTimeout)
	v.positive("general.maxduration", g.MaxDuration)
	v.positive("general.maxconcurrent", int64(g.MaxConcurrent))
	v.positive("general.maxmemory", g.MaxMemory)
	v.positive("general.shutdowngrace", g.ShutdownGrace)
	v.positive("general.maxmessage", int64(g.MaxMessage))
	if g.RingSize < 1<<20 || g.RingSize > 1<<30 {
		v.add("general.ringsize", g.RingSize, "must be 1 MiB (1048576) to 1 GiB (1073741824) bytes")
	}
	if g.BlockTimeout < 1 || g.BlockTimeout > 1000 {
		v.add("general.blocktimeout", g.BlockTimeout, "must be 1 to 1000 milliseconds")
	}
	switch {
	case g.MaxSnapLength <= 0 || g.MaxSnapLength > MaxSnapLength:
		v.add("general.maxsnaplength", g.MaxSnapLength, "must be 1 to %d", MaxSnapLength)
	case g.SnapLength <= 0 || g.SnapLength > g.MaxSnapLength:
		v.add("general.snaplength", g.SnapLength, "must be 1 to general.maxsnaplength (%d)", g.MaxSnapLength)
	}
	if g.DefaultTimeout > g.MaxTimeout && g.MaxTimeout > 0 {
		v.add("general.defaulttimeout", g.DefaultTimeout, "must not exceed general.maxtimeout (%d)", g.MaxTimeout)
	}
	v.oneOf("general.format", g.Format, "pcap", "pcapng")
	if g.WriteLocal && g.LocalDir == "" {
		v.add("general.localdir", g.LocalDir, "must name a directory when general.writelocal is true")
	}
	v.positive("general.spoolmaxbytes", g.SpoolMaxBytes)
	v.positive("general.maxlookback", g.MaxLookback)
	c.validateRetention(v)
}

// validateRetention checks the bounds of the local directory.
func (c *Config) validateRetention(v *validator) {
	g := c.General
	if g.LocalMaxFiles < 0 {
		v.add("general.localmaxfiles", g.LocalMaxFiles, "must be 0 (no bound) or more")
	}
	if g.LocalMaxAge < 0 {
		v.add("general.localmaxage", g.LocalMaxAge, "must be 0 (no bound) or a number of seconds")
	}
	switch {
	case g.LocalMaxBytes < 0:
		v.add("general.localmaxbytes", g.LocalMaxBytes, "must be 0 (no bound) or more")
	case g.LocalMaxBytes > 0 && g.LocalMaxBytes < g.MaxBytes:
		v.add("general.localmaxbytes", g.LocalMaxBytes,
			"must be 0 (no bound) or at least general.maxbytes (%d): one capture may take that much, and would leave no room for any other", g.MaxBytes)
	}
}

func (c *Config) validateSources(v *validator) {
	r, q, h := c.Redis, c.SQS, c.HTTP
	if !r.Listen && !q.Listen && h.Listen == "" {
		v.add("redis.listen", nil, "no request source is enabled: set [redis] listen = true, [sqs] listen = true, or [http] listen")
	}
	if len(r.Addrs) == 0 {
		v.port("redis.port", r.Port, false)
	}
	for i, a := range r.Addrs {
		if err := checkHostPort(a, false); err != nil {
			v.add(fmt.Sprintf("redis.addrs[%d]", i), a, "%v", err)
		}
	}
	v.oneOf("redis.mode", r.Mode, "", "single", "cluster", "sentinel")
	if r.Mode == "sentinel" && r.Master == "" {
		v.add("redis.master", nil, "must name the sentinel master set when redis.mode is \"sentinel\"")
	}
	if r.Mode != "sentinel" && r.Master != "" {
		v.add("redis.master", r.Master, "is only used with redis.mode = \"sentinel\"")
	}
	if r.Listen {
		if r.Channel == "" {
			v.add("redis.channel", r.Channel, "must not be empty")
		}
		if r.ResultsChannel == r.Channel {
			v.add("redis.resultschannel", r.ResultsChannel, "must differ from redis.channel, or results would be read back as requests")
		}
		if len(r.Addrs) == 0 && r.Host == "" {
			v.add("redis.host", r.Host, "must not be empty")
		}
	}

	v.oneOf("sqs.protocol", q.Protocol, "json", "query")
	if q.WaitSeconds < 0 || q.WaitSeconds > 20 {
		v.add("sqs.waitseconds", q.WaitSeconds, "must be 0 to 20")
	}
	if q.ChunkSize < 1 || q.ChunkSize > 10 {
		v.add("sqs.chunksize", q.ChunkSize, "must be 1 to 10")
	}
	if (q.AccessID == "") != (q.AccessKey == "") {
		v.add("sqs.accesskey", nil, "sqs.accessid and sqs.accesskey must be set together")
	}
	if q.Listen {
		if q.URL == "" {
			v.add("sqs.url", q.URL, "must name the queue when sqs.listen is true")
		} else if err := checkURL(q.URL); err != nil {
			v.add("sqs.url", q.URL, "%v", err)
		}
	}
	if q.ResultsURL != "" {
		if err := checkURL(q.ResultsURL); err != nil {
			v.add("sqs.resultsurl", q.ResultsURL, "%v", err)
		}
	}
	if q.Endpoint != "" {
		if err := checkURL(q.Endpoint); err != nil {
			v.add("sqs.endpoint", q.Endpoint, "%v", err)
		}
	}

	if h.Listen != "" {
		if err := checkHostPort(h.Listen, true); err != nil {
			v.add("http.listen", h.Listen, "%v (\"\" turns the HTTP API off)", err)
		} else if h.Token == "" && !IsLoopbackListen(h.Listen) {
			v.add("http.token", nil, "must be set when http.listen (%s) is not a loopback address: anyone who reaches it could start captures", h.Listen)
		}
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		v.add("http.tlskey", nil, "http.tlscert and http.tlskey must be set together")
	}
	if h.MaxConns < 1 || h.MaxConns > 65536 {
		v.add("http.maxconns", h.MaxConns, "must be 1 to 65536")
	}
}

// IsLoopbackListen reports whether a host:port listen address binds only
// loopback: 127.0.0.0/8, ::1 or "localhost". An empty host (all addresses)
// is not loopback.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateSinks(v *validator) {
	cs, s3 := c.Cloudshark, c.S3
	if !c.General.WriteLocal && !cs.Upload && !s3.Upload {
		v.add("general.writelocal", false, "no sink is enabled: set [general] writelocal, [cloudshark] upload or [s3] upload to true")
	}
	v.oneOf("cloudshark.scheme", cs.Scheme, "http", "https")
	v.port("cloudshark.port", cs.Port, true)
	if cs.Upload {
		if cs.Host == "" {
			v.add("cloudshark.host", cs.Host, "must not be empty when cloudshark.upload is true")
		}
		if cs.Token == "" {
			v.add("cloudshark.token", nil, "must be set when cloudshark.upload is true")
		}
		v.positive("cloudshark.timeout", cs.Timeout)
	}
	if (s3.AccessID == "") != (s3.AccessKey == "") {
		v.add("s3.accesskey", nil, "s3.accessid and s3.accesskey must be set together")
	}
	if s3.ACL != "" {
		v.oneOf("s3.acl", s3.ACL, cannedACLs()...)
	}
	for i, a := range s3.AllowACLs {
		v.oneOf(fmt.Sprintf("s3.allowacls[%d]", i), a, cannedACLs()...)
	}
	for i, f := range s3.AllowFolders {
		if err := CheckFolder(f); err != nil {
			v.add(fmt.Sprintf("s3.allowfolders[%d]", i), f, "%v", err)
		}
	}
	if err := CheckFolder(s3.Folder); err != nil {
		v.add("s3.folder", s3.Folder, "%v", err)
	}
	if s3.Upload {
		if s3.Bucket == "" {
			v.add("s3.bucket", s3.Bucket, "must not be empty when s3.upload is true")
		}
		if s3.Region == "" {
			v.add("s3.region", s3.Region, "must not be empty when s3.upload is true")
		}
	}
}

func (c *Config) validateSyslog(v *validator) {
	s := c.Syslog
	// LOG_LOCAL7|LOG_DEBUG is the largest priority <sys/syslog.h> defines.
	if s.Priority < 0 || s.Priority > 23<<3|7 {
		v.add("syslog.priority", s.Priority, "must be facility|severity, 0 to 191 (0 turns syslog off)")
	}
	if (s.Network == "") != (s.Address == "") {
		v.add("syslog.address", s.Address, "syslog.network and syslog.address must be set together")
	}
	if s.Network != "" {
		v.oneOf("syslog.network", s.Network, "udp", "tcp", "unix", "unixgram")
	}
	if s.Enabled() && s.Tag == "" {
		v.add("syslog.tag", s.Tag, "must not be empty")
	}
}

func (c *Config) validateInterfaces(v *validator) {
	seen := make(map[string]int)
	for i, in := range c.Interfaces {
		key := fmt.Sprintf("interface[%d]", i)
		switch {
		case in.Name == "":
			v.add(key+".name", in.Name, "must name an interface")
		case seen[in.Name] > 0:
			v.add(key+".name", in.Name, "is already configured in interface[%d]; put all its aliases in one table", seen[in.Name]-1)
		}
		if in.Name != "" && seen[in.Name] == 0 {
			seen[in.Name] = i + 1
		}
		if len(in.Alias) == 0 && in.Lookback == 0 {
			v.add(key+".alias", nil, "must list at least one alias unless lookback is set (an [[interface]] gives aliases, a look-back ring, or both)")
		}
		c.validateLookback(v, key, in)
		mine := make(map[string]bool)
		for j, a := range in.Alias {
			ak := fmt.Sprintf("%s.alias[%d]", key, j)
			switch {
			case strings.TrimSpace(a) == "":
				v.add(ak, a, "must not be empty")
			case mine[a]:
				v.add(ak, a, "is listed twice")
			}
			mine[a] = true
		}
	}
}

func (c *Config) validateSecurity(v *validator) {
	s := c.Security
	v.positive("security.maxskew", s.MaxSkew)
	if s.HMACKey != "" && len(s.HMACKey) < 16 {
		v.add("security.hmackey", nil, "must be at least 16 bytes long (it has %d)", len(s.HMACKey))
	}
}

// validateObservability checks [metrics] and [log].
func (c *Config) validateObservability(v *validator) {
	if l := c.Metrics.Listen; l != "" {
		if err := checkHostPort(l, true); err != nil {
			v.add("metrics.listen", l, "%v (\"\" serves the metrics on the HTTP API's listener)", err)
		} else if l == c.HTTP.Listen {
			v.add("metrics.listen", l, "must differ from http.listen (\"\" serves the metrics on the HTTP API's listener)")
		}
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
}

// CheckFolder checks an S3 folder (a key prefix): "/"-separated segments
// with no empty, "." or ".." segment and no backslash (surrounding slashes
// are dropped). "" is the bucket's root. The S3 sink applies the same rules
// to a request's folder.
func CheckFolder(f string) error {
	if strings.ContainsRune(f, '\\') {
		return errors.New("must not contain a backslash")
	}
	f = strings.Trim(f, "/")
	if f == "" {
		return nil
	}
	for seg := range strings.SplitSeq(f, "/") {
		switch seg {
		case "":
			return errors.New("must not contain an empty segment (\"a//b\")")
		case ".", "..":
			return errors.New("must not contain a \".\" or \"..\" segment")
		}
	}
	return nil
}

// checkHostPort checks a host:port address; port 0 (any free port) only
// when zeroOK.
func checkHostPort(addr string, zeroOK bool) error {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port: %w", err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return fmt.Errorf("port %q must be a number, 1 to 65535", p)
	}
	return nil
}

// checkURL checks an http or https URL with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be a URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http:// or https:// URL with a host")
	}
	return nil
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
