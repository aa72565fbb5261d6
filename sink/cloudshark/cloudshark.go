package cloudshark

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/readerat"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

// Config is the CloudShark sink's configuration, mapped by internal/fromconfig from the
// [cloudshark] section and the -cs* flags.
type Config struct {
	Host     string        // default "localhost"
	Scheme   string        // "https" (default) or "http"
	Port     int           // 0: the scheme's default port
	Token    string        // API token, required
	Timeout  time.Duration // one upload attempt; default 60s
	Insecure bool          // skip TLS certificate verification (logged)

	// Retry paces the upload's tries; the zero Policy means retry.Default().
	Retry retry.Policy

	// RootCAs replaces the system roots (tests, private CAs); nil keeps them.
	RootCAs *x509.CertPool
}

// DefaultTimeout bounds one upload attempt when Config.Timeout is 0.
const DefaultTimeout = 60 * time.Second

// maxReply bounds the reply body read.
const maxReply = 1 << 20

// Sink uploads captures to CloudShark. It implements agent.Sink and is safe
// for concurrent use.
type Sink struct {
	cfg    Config
	base   string // scheme://host[:port]
	upload string // base + /api/v1/<token>/upload
	client *http.Client
	log    *slog.Logger
}

// New checks cfg and returns a Sink. Nothing is contacted yet.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("sink", "cloudshark")
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "https"
	}
	if cfg.Scheme != "http" && cfg.Scheme != "https" {
		return nil, fmt.Errorf("cloudshark: scheme %q: want http or https", cfg.Scheme)
	}
	if cfg.Token == "" {
		return nil, errors.New("cloudshark: token is required")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("cloudshark: port %d out of range", cfg.Port)
	}
	if strings.ContainsAny(cfg.Host, "/?#@ ") {
		return nil, fmt.Errorf("cloudshark: host %q: want a host name or address", cfg.Host)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retry == (retry.Policy{}) {
		cfg.Retry = retry.Default()
	}
	host := cfg.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]" // IPv6 literal
	}
	if cfg.Port != 0 {
		host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(cfg.Port))
	}
	base := cfg.Scheme + "://" + host
	if _, err := url.Parse(base); err != nil {
		return nil, fmt.Errorf("cloudshark: host %q: %w", cfg.Host, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, InsecureSkipVerify: cfg.Insecure, MinVersion: tls.VersionTLS12}
	if cfg.Insecure && cfg.Scheme == "https" {
		log.Warn("TLS certificate verification is OFF (insecure = true): uploads can be intercepted", "host", cfg.Host)
	}
	return &Sink{
		cfg:    cfg,
		base:   base,
		upload: base + "/api/v1/" + url.PathEscape(cfg.Token) + "/upload",
		client: &http.Client{Transport: tr},
		log:    log,
	}, nil
}

// Name returns "cloudshark".
func (s *Sink) Name() string { return "cloudshark" }

// APIError is a non-2xx reply from CloudShark.
type APIError struct {
	StatusCode int
	Exceptions []string // CloudShark's error texts
	Body       string   // the reply when it was not CloudShark's JSON
}

func (e *APIError) Error() string {
	msg := strings.Join(e.Exceptions, "; ")
	if msg == "" {
		msg = e.Body
	}
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, msg)
}

// Deliver uploads c and returns the capture's CloudShark URL.
func (s *Sink) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	if c == nil || c.Data == nil {
		return "", retry.Permanent(errors.New("cloudshark: capture without data"))
	}
	b, err := newBody(c)
	if err != nil {
		return "", retry.Permanent(fmt.Errorf("cloudshark: %w", err))
	}
	var id string
	err = retry.Do(ctx, s.cfg.Retry, retry.Log(s.log, "op", "cloudshark upload "+c.FileName), func(ctx context.Context) error {
		var err error
		id, err = s.post(ctx, b)
		if err != nil && !transient(err) {
			err = retry.Permanent(err)
		}
		// Redacted here, not only at the end: every retried failure is
		// logged, and the http package names the URL, which carries the
		// token.
		return s.redact(err)
	})
	if err != nil {
		return "", fmt.Errorf("cloudshark: upload %s to %s: %w", c.FileName, s.base, s.redact(err))
	}
	loc := s.base + "/captures/" + url.PathEscape(id)
	s.log.Info("uploaded", "location", loc, "bytes", c.Data.Len(), "id", c.ID)
	return loc, nil
}

// post makes one upload attempt and returns CloudShark's capture id.
func (s *Sink) post(ctx context.Context, b *body) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.upload, b.reader())
	if err != nil {
		return "", retry.Permanent(err)
	}
	req.ContentLength = b.size()
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(b.reader()), nil }
	req.Header.Set("Content-Type", b.contentType)
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", apiError(resp.StatusCode, reply)
	}
	var ok struct {
		Filename string `json:"filename"`
		ID       string `json:"id"`
	}
	if err := json.Unmarshal(reply, &ok); err != nil {
		return "", retry.Permanent(fmt.Errorf("HTTP %d with a reply that is not CloudShark's JSON: %w", resp.StatusCode, err))
	}
	if ok.ID == "" {
		return "", retry.Permanent(fmt.Errorf("HTTP %d without a capture id: %.200s", resp.StatusCode, reply))
	}
	return ok.ID, nil
}

// apiError decodes CloudShark's error reply.
func apiError(code int, reply []byte) *APIError {
	e := &APIError{StatusCode: code}
	var v struct {
		Status     int      `json:"status"`
		Exceptions []string `json:"exceptions"`
	}
	if json.Unmarshal(reply, &v) == nil && len(v.Exceptions) > 0 {
		e.Exceptions = v.Exceptions
	} else {
		e.Body = strings.TrimSpace(string(bytes.ToValidUTF8(reply[:min(len(reply), 512)], nil)))
	}
	return e
}

// transient classifies one attempt's failure.
func transient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return retry.TransientStatus(ae.StatusCode)
	}
	return retry.TransientNetwork(err)
}

// Redacted stands for the API token in the upload URL wherever the URL
// appears in an error or a log line.
const Redacted = "REDACTED"

// redact removes the API token, as written in the URL and as configured,
// from err: the http package puts the request URL in its errors, and
// errors end up in log lines, result events and spool entries. The result
// still unwraps to err, so errors.Is/As and the retry classification see
// the original chain.
func (s *Sink) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, tok := range []string{url.PathEscape(s.cfg.Token), s.cfg.Token} {
		msg = strings.ReplaceAll(msg, tok, Redacted)
	}
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

// redacted is an error whose message hides a secret but still unwraps to
// the original chain for errors.Is/As.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// body is a multipart/form-data request body whose framing is computed once
// and whose file part is read from the capture buffer on every attempt.
type body struct {
	head, tail  []byte
	data        io.ReaderAt
	n           int64
	contentType string
}

func newBody(c *agent.Capture) (*body, error) {
	name := c.FileName
	if name == "" {
		return nil, fmt.Errorf("capture %q has no file name", c.ID)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if c.Tags != "" {
		if err := mw.WriteField("additional_tags", c.Tags); err != nil {
			return nil, err
		}
	}
	if err := mw.WriteField("filename", name); err != nil {
		return nil, err
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", "application/octet-stream")
	if _, err := mw.CreatePart(h); err != nil {
		return nil, err
	}
	head := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return &body{
		head:        head,
		tail:        bytes.Clone(buf.Bytes()),
		data:        readerat.New(c.Data.NewReader()),
		n:           c.Data.Len(),
		contentType: mw.FormDataContentType(),
	}, nil
}

func (b *body) size() int64 { return int64(len(b.head)) + b.n + int64(len(b.tail)) }

func (b *body) reader() io.Reader {
	return io.MultiReader(bytes.NewReader(b.head), io.NewSectionReader(b.data, 0, b.n), bytes.NewReader(b.tail))
}
