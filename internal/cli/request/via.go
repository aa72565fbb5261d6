package request

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// loadClientConfig loads the daemon's configuration file as the daemon
// does, for its transport settings: defaults, the file, the environment.
// Load looks at nothing on this host but the file: the checks that only
// make sense on the daemon's own host (its interfaces exist, its
// directories are writable) are CheckHost's, which this command, which
// may run elsewhere and as another user, does not call.
func loadClientConfig(path string, environ []string) (*config.Config, error) {
	return config.Loader{Args: []string{"-config", path}, Environ: environ, Output: io.Discard}.Load()
}

// configured returns the transports the daemon's configuration turns on,
// in order of preference (none without one).
func configured(cfg *config.Config) []string {
	var on []string
	if cfg == nil {
		return nil
	}
	if cfg.Redis.Listen {
		on = append(on, "redis")
	}
	if cfg.SQS.Listen {
		on = append(on, "sqs")
	}
	if apiURL(cfg) != "" {
		on = append(on, "http")
	}
	return on
}

// pickVia chooses the transport: -via, else the one named by a flag, else
// the daemon's first listener (fromConfig).
func (s *Settings) pickVia(f TransportFlags, fromConfig []string) error {
	var byFlag, flags []string
	for _, t := range []struct{ flag, via string }{{"redis", "redis"}, {"sqsurl", "sqs"}, {"snstopic", "sns"}} {
		if _, ok := f.Given[t.flag]; ok {
			byFlag = append(byFlag, t.via)
			flags = append(flags, "-"+t.flag)
		}
	}
	_, httpFlag := f.Given["http"]
	switch {
	case f.Via != "":
		s.Via = f.Via
	case len(byFlag) > 1:
		return fmt.Errorf("%s given: choose one with -via", strings.Join(flags, " and "))
	case len(byFlag) == 1:
		s.Via = byFlag[0]
	case httpFlag:
		s.Via = "http"
	case len(fromConfig) > 0:
		s.Via = fromConfig[0]
	default:
		return errors.New("no transport: give -redis, -sqsurl, -snstopic, -http or -config")
	}
	return nil
}

// check reports what the chosen transport lacks, and a URL that is not
// one.
func (s *Settings) check() error {
	switch s.Via {
	case "redis":
		if len(s.Redis.Addrs) == 0 {
			return errors.New("-via redis: no server (-redis host:port)")
		}
		if s.Channel == "" || s.Channel == s.ResultsChannel {
			return fmt.Errorf("redis channel %q and results channel %q must differ and not be empty", s.Channel, s.ResultsChannel)
		}
	case "sqs":
		if s.SQS.URL == "" {
			return errors.New("-via sqs: no queue (-sqsurl URL)")
		}
		for _, u := range []string{s.SQS.URL, s.SQS.ResultsURL, s.SQS.Endpoint} {
			if err := checkHTTPURL(u); u != "" && err != nil {
				return err
			}
		}
	case "sns":
		if s.SNS.TopicARN == "" {
			return errors.New("-via sns: no topic (-snstopic ARN)")
		}
		for _, u := range []string{s.SQS.ResultsURL, s.SNS.Endpoint} {
			if err := checkHTTPURL(u); u != "" && err != nil {
				return err
			}
		}
	case "http":
		if s.HTTPURL == "" {
			return errors.New("-via http: no API address (-http URL)")
		}
	}
	if s.HTTPURL != "" {
		return checkHTTPURL(s.HTTPURL)
	}
	return nil
}

// loadRoots sets HTTPRoots when the HTTP API is used and HTTPCA is set: the
// system's roots plus the certificates of the PEM file (-httpca, or the
// daemon's [http] tlscert).
func (s *Settings) loadRoots() error {
	if s.HTTPURL == "" || s.HTTPCA == "" {
		return nil
	}
	pem, err := os.ReadFile(s.HTTPCA)
	if err != nil {
		return fmt.Errorf("-httpca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("-httpca %s: no PEM certificate found", s.HTTPCA)
	}
	s.HTTPRoots = pool
	return nil
}

// apiURL is the URL to reach the daemon's HTTP API from this host ("" when
// it has none): [http] listen, https when the API has a certificate.
func apiURL(c *config.Config) string {
	if c.HTTP.Listen == "" {
		return ""
	}
	return listenURL(c.HTTP.Listen, c.HTTP.TLSCert != "")
}

// ifListening returns v when the daemon's HTTP API is on, else "".
func ifListening(c *config.Config, v string) string {
	if c.HTTP.Listen == "" {
		return ""
	}
	return v
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
