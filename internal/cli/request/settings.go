package request

import (
	"crypto/x509"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// SQSSettings says how to reach the SQS queues.
type SQSSettings struct {
	URL, ResultsURL, Endpoint, Protocol, Region string
	AccessID, AccessKey                         string
}

// SNSSettings says where to publish on SNS (-snstopic): a topic that every
// agent's own queue subscribes to. The region and credentials are SQS's.
type SNSSettings struct {
	TopicARN string
	Endpoint string // default: SQS's endpoint (a compatible server serves both)
}

// Settings is where "pcapdaemon request" publishes and listens: the
// daemon's configuration (with -config), the environment and the flags,
// merged by Resolve.
type Settings struct {
	Via string // "redis", "sqs", "sns" or "http"

	Redis          redis.Options
	Channel        string
	ResultsChannel string

	SQS SQSSettings
	SNS SNSSettings

	HTTPURL, Token string         // the HTTP API (transport, or live status only)
	HTTPCA         string         // PEM file the API's certificate is checked against
	HTTPRoots      *x509.CertPool // the system's roots and HTTPCA's; nil without HTTPCA
	HMACKey        string

	// From the daemon's [general] when known, for the default -waittime.
	MaxDuration, DefaultTimeout time.Duration

	redisAddrs string // Redis.Addrs as a comma list, while merging
}

// TransportFlags are the transport part of the command line: -config,
// -via, and the flags of TransportFlagNames that were given.
type TransportFlags struct {
	Config string // the daemon's configuration file ("" none)
	Via    string // "", "redis", "sqs", "sns" or "http"
	// Given holds the value of each flag of TransportFlagNames given on
	// the command line, by name.
	Given map[string]string
}

// A setting is one transport setting and where its value comes from,
// lowest precedence first: the daemon's configuration (with -config: its
// file, then its PCAPDAEMON_* environment, through the config package's
// layers), or without one the environment variable of a secret (the one
// the daemon would read), then the flag.
type setting struct {
	flag string                      // the flag that sets it ("" none)
	env  string                      // without -config, config.EnvPrefix+env sets it ("" none)
	conf func(*config.Config) string // its value in the daemon's configuration
	dst  func(*Settings) *string     // where it goes
}

// settingsTable is every transport setting.
func settingsTable() []setting {
	return []setting{
		{flag: "redis", conf: func(c *config.Config) string { return strings.Join(c.Redis.Addresses(), ",") },
			dst: func(s *Settings) *string { return &s.redisAddrs }},
		{flag: "redischannel", conf: func(c *config.Config) string { return c.Redis.Channel },
			dst: func(s *Settings) *string { return &s.Channel }},
		{flag: "resultschannel", conf: func(c *config.Config) string { return c.Redis.ResultsChannel },
			dst: func(s *Settings) *string { return &s.ResultsChannel }},
		{flag: "redisuser", conf: func(c *config.Config) string { return c.Redis.Username },
			dst: func(s *Settings) *string { return &s.Redis.Username }},
		{flag: "redisauth", env: "REDIS_AUTH", conf: func(c *config.Config) string { return c.Redis.Auth },
			dst: func(s *Settings) *string { return &s.Redis.Password }},
		{flag: "sqsurl", conf: func(c *config.Config) string { return c.SQS.URL },
			dst: func(s *Settings) *string { return &s.SQS.URL }},
		{flag: "sqsresultsurl", conf: func(c *config.Config) string { return c.SQS.ResultsURL },
			dst: func(s *Settings) *string { return &s.SQS.ResultsURL }},
		{flag: "sqsendpoint", conf: func(c *config.Config) string { return c.SQS.Endpoint },
			dst: func(s *Settings) *string { return &s.SQS.Endpoint }},
		{flag: "sqsprotocol", conf: func(c *config.Config) string { return c.SQS.Protocol },
			dst: func(s *Settings) *string { return &s.SQS.Protocol }},
		{flag: "sqsregion", conf: func(c *config.Config) string { return c.SQS.Region },
			dst: func(s *Settings) *string { return &s.SQS.Region }},
		// SNS has no section of its own: the agents read their queues.
		{flag: "snstopic", conf: func(*config.Config) string { return "" },
			dst: func(s *Settings) *string { return &s.SNS.TopicARN }},
		{flag: "snsendpoint", conf: func(*config.Config) string { return "" },
			dst: func(s *Settings) *string { return &s.SNS.Endpoint }},
		{conf: func(c *config.Config) string { return c.SQS.AccessID },
			dst: func(s *Settings) *string { return &s.SQS.AccessID }},
		{conf: func(c *config.Config) string { return c.SQS.AccessKey },
			dst: func(s *Settings) *string { return &s.SQS.AccessKey }},
		{flag: "http", conf: apiURL,
			dst: func(s *Settings) *string { return &s.HTTPURL }},
		{flag: "token", env: "HTTP_TOKEN", conf: func(c *config.Config) string { return c.HTTP.Token },
			dst: func(s *Settings) *string { return &s.Token }},
		// The daemon's own certificate is trusted (self-signed or not), as
		// well as the system's roots.
		{flag: "httpca", conf: func(c *config.Config) string { return ifListening(c, c.HTTP.TLSCert) },
			dst: func(s *Settings) *string { return &s.HTTPCA }},
		{flag: "hmackey", env: "SECURITY_HMACKEY", conf: func(c *config.Config) string { return c.Security.HMACKey },
			dst: func(s *Settings) *string { return &s.HMACKey }},
	}
}

// TransportFlagNames are the names of the flags that set a transport
// setting (TransportFlags.Given), besides -config and -via.
func TransportFlagNames() []string {
	var names []string
	for _, s := range settingsTable() {
		if s.flag != "" {
			names = append(names, s.flag)
		}
	}
	return names
}

// Resolve merges the daemon's configuration (with -config), the
// environment and the flags, in that order of precedence, lowest first,
// and picks the transport to publish on. Its errors are the command
// line's: a configuration that does not load, a transport missing or
// incomplete.
func Resolve(f TransportFlags, environ []string) (*Settings, error) {
	s := &Settings{Channel: config.DefaultChannel, MaxDuration: agent.DefaultMaxDuration, DefaultTimeout: agent.DefaultInactivity}
	var cfg *config.Config
	if f.Config != "" {
		var err error
		if cfg, err = loadClientConfig(f.Config, environ); err != nil {
			return nil, err
		}
		if s.Redis, err = fromconfig.Redis(cfg.Redis); err != nil {
			return nil, err
		}
		s.MaxDuration = cfg.General.MaxDurationDuration()
		s.DefaultTimeout = cfg.General.DefaultTimeoutDuration()
	}
	for _, row := range settingsTable() {
		dst := row.dst(s)
		switch {
		case cfg != nil:
			*dst = row.conf(cfg)
		case row.env != "":
			*dst = envValue(environ, config.EnvPrefix+row.env)
		}
		if v, ok := f.Given[row.flag]; ok && row.flag != "" {
			*dst = v
		}
	}
	s.derive(f)
	if err := s.pickVia(f, configured(cfg)); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, s.loadRoots()
}

// derive fills what follows from the merged settings.
func (s *Settings) derive(f TransportFlags) {
	s.Redis.Addrs = nil
	for a := range strings.SplitSeq(s.redisAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.Redis.Addrs = append(s.Redis.Addrs, a)
		}
	}
	// A channel given as a flag has its own results channel, unless that
	// is given too.
	_, channel := f.Given["redischannel"]
	if _, results := f.Given["resultschannel"]; channel && !results {
		s.ResultsChannel = ""
	}
	if s.ResultsChannel == "" {
		s.ResultsChannel = s.Channel + config.ResultsSuffix
	}
	s.HTTPURL = strings.TrimRight(s.HTTPURL, "/")
	if s.SNS.Endpoint == "" {
		s.SNS.Endpoint = s.SQS.Endpoint
	}
}
