package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// sqsSettings says how to reach the SQS queues.
type sqsSettings struct {
	URL, ResultsURL, Endpoint, Protocol, Region string
	AccessID, AccessKey                         string
}

// transportSettings is where "pcapdaemon request" publishes and listens,
// from the flags and, with -config, the daemon's configuration.
type transportSettings struct {
	via string // "redis", "sqs" or "http"

	redis          redis.Options
	channel        string
	resultsChannel string

	sqs sqsSettings

	httpURL, token string // the HTTP API (transport, or live status only)
	httpCA         string // PEM file the API's certificate is checked against
	httpRoots      *x509.CertPool
	hmacKey        string

	// From the daemon's [general] when known, for the default -waittime.
	maxDuration, defaultTimeout time.Duration
}

// resolveTransport merges the daemon's configuration (with -config), the
// environment and the flags (in that order of precedence, lowest first)
// and picks the transport to publish on.
func resolveTransport(rf *requestFlags, environ []string) (*transportSettings, error) {
	ts := &transportSettings{
		channel:        config.DefaultChannel,
		maxDuration:    agent.DefaultMaxDuration,
		defaultTimeout: agent.DefaultInactivity,
	}
	var fromConfig []string // transports the daemon's config turns on, in order of preference
	if rf.config != "" {
		cfg, err := loadClientConfig(rf.config, environ)
		if err != nil {
			return nil, err
		}
		o, err := fromconfig.Redis(cfg.Redis)
		if err != nil {
			return nil, err
		}
		ts.redis = o
		ts.channel, ts.resultsChannel = cfg.Redis.Channel, cfg.Redis.ResultsChannel
		q := cfg.SQS
		ts.sqs = sqsSettings{URL: q.URL, ResultsURL: q.ResultsURL, Endpoint: q.Endpoint, Protocol: q.Protocol,
			Region: q.Region, AccessID: q.AccessID, AccessKey: q.AccessKey}
		if cfg.HTTP.Listen != "" {
			ts.httpURL = listenURL(cfg.HTTP.Listen, cfg.HTTP.TLSCert != "")
			// The daemon's own certificate is trusted (self-signed or
			// not), as well as the system's roots.
			ts.httpCA = cfg.HTTP.TLSCert
		}
		ts.token, ts.hmacKey = cfg.HTTP.Token, cfg.Security.HMACKey
		ts.maxDuration = cfg.General.MaxDurationDuration()
		ts.defaultTimeout = cfg.General.DefaultTimeoutDuration()
		if cfg.Redis.Listen {
			fromConfig = append(fromConfig, "redis")
		}
		if cfg.SQS.Listen {
			fromConfig = append(fromConfig, "sqs")
		}
		if ts.httpURL != "" {
			fromConfig = append(fromConfig, "http")
		}
	} else {
		// Without a config file, the daemon's environment variables for
		// secrets still apply (config.Load reads them with the file).
		ts.redis.Password = envValue(environ, config.EnvPrefix+"REDIS_AUTH")
		ts.token = envValue(environ, config.EnvPrefix+"HTTP_TOKEN")
		ts.hmacKey = envValue(environ, config.EnvPrefix+"SECURITY_HMACKEY")
	}

	set := func(dst *string, flagName, v string) {
		if rf.set[flagName] {
			*dst = v
		}
	}
	if rf.set["redis"] {
		ts.redis.Addrs = nil
		for a := range strings.SplitSeq(rf.redis, ",") {
			if a = strings.TrimSpace(a); a != "" {
				ts.redis.Addrs = append(ts.redis.Addrs, a)
			}
		}
	}
	set(&ts.channel, "redischannel", rf.redisChannel)
	set(&ts.resultsChannel, "resultschannel", rf.resultsChannel)
	set(&ts.redis.Username, "redisuser", rf.redisUser)
	set(&ts.redis.Password, "redisauth", rf.redisAuth)
	set(&ts.sqs.URL, "sqsurl", rf.sqsURL)
	set(&ts.sqs.ResultsURL, "sqsresultsurl", rf.sqsResultsURL)
	set(&ts.sqs.Endpoint, "sqsendpoint", rf.sqsEndpoint)
	set(&ts.sqs.Protocol, "sqsprotocol", rf.sqsProtocol)
	set(&ts.sqs.Region, "sqsregion", rf.sqsRegion)
	set(&ts.httpURL, "http", strings.TrimRight(rf.httpURL, "/"))
	set(&ts.token, "token", rf.token)
	set(&ts.httpCA, "httpca", rf.httpCA)
	set(&ts.hmacKey, "hmackey", rf.hmacKey)
	if rf.set["redischannel"] && !rf.set["resultschannel"] {
		ts.resultsChannel = ""
	}
	if ts.resultsChannel == "" {
		ts.resultsChannel = ts.channel + config.ResultsSuffix
	}

	// The transport: -via, else the one named by a flag, else the
	// daemon's first listener.
	var byFlag []string
	for _, f := range []struct{ flag, via string }{{"redis", "redis"}, {"sqsurl", "sqs"}} {
		if rf.set[f.flag] {
			byFlag = append(byFlag, f.via)
		}
	}
	switch {
	case rf.via != "":
		ts.via = rf.via
	case len(byFlag) > 1:
		return nil, errors.New("both -redis and -sqsurl given: choose one with -via")
	case len(byFlag) == 1:
		ts.via = byFlag[0]
	case rf.set["http"]:
		ts.via = "http"
	case len(fromConfig) > 0:
		ts.via = fromConfig[0]
	default:
		return nil, errors.New("no transport: give -redis, -sqsurl, -http or -config")
	}
	switch ts.via {
	case "redis":
		if len(ts.redis.Addrs) == 0 {
			return nil, errors.New("-via redis: no server (-redis host:port)")
		}
		if ts.channel == "" || ts.channel == ts.resultsChannel {
			return nil, fmt.Errorf("redis channel %q and results channel %q must differ and not be empty", ts.channel, ts.resultsChannel)
		}
	case "sqs":
		if ts.sqs.URL == "" {
			return nil, errors.New("-via sqs: no queue (-sqsurl URL)")
		}
		for _, u := range []string{ts.sqs.URL, ts.sqs.ResultsURL, ts.sqs.Endpoint} {
			if err := checkHTTPURL(u); u != "" && err != nil {
				return nil, err
			}
		}
	case "http":
		if ts.httpURL == "" {
			return nil, errors.New("-via http: no API address (-http URL)")
		}
	}
	if ts.httpURL != "" {
		if err := checkHTTPURL(ts.httpURL); err != nil {
			return nil, err
		}
		if ts.httpCA != "" {
			pool, err := loadRoots(ts.httpCA)
			if err != nil {
				return nil, err
			}
			ts.httpRoots = pool
		}
	}
	return ts, nil
}

// loadRoots returns the system's roots plus the certificates of the PEM
// file (-httpca, or the daemon's [http] tlscert).
func loadRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-httpca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-httpca %s: no PEM certificate found", file)
	}
	return pool, nil
}

// loadClientConfig loads the daemon's configuration file as the daemon
// does, for its transport settings. Load looks at nothing on this host
// but the file: the checks that only make sense on the daemon's own host
// (its interfaces exist, its directories are writable) are CheckHost's,
// which this command, which may run elsewhere and as another user, does
// not call.
func loadClientConfig(path string, environ []string) (*config.Config, error) {
	return config.Loader{Args: []string{"-config", path}, Environ: environ, Output: io.Discard}.Load()
}

// listenURL turns an [http] listen address into a URL to reach it from
// this host (https when the API has a certificate).
func listenURL(listen string, https bool) string {
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return scheme + net.JoinHostPort(host, port)
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	return nil
}

// envValue returns the value of the variable name in environ, or "".
func envValue(environ []string, name string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// signMessage wraps msg in the signed envelope the daemon's [security]
// hmackey requires.
func signMessage(key, msg []byte, now time.Time) []byte { return transport.Sign(key, msg, now) }
