package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// Client is a client of the API, for the "pcapdaemon request" command:
// submit a request, read its state.
type Client struct {
	base, token string
	client      *http.Client
}

// NewClient returns a client of the API at base ("http://host:port" or
// https://), sending token as the bearer token when it is not empty. An
// https:// API's certificate is checked against roots (nil: the system's).
func NewClient(base, token string, roots *x509.CertPool) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &Client{
		base:   strings.TrimRight(base, "/"),
		token:  token,
		client: &http.Client{Timeout: 10 * time.Second, Transport: tr},
	}
}

// Base returns the API's URL.
func (c *Client) Base() string { return c.base }

// StatusError is an error answer of the API.
type StatusError struct {
	Code int    // the HTTP status
	Msg  string // the answer's "error", else its body
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg) }

// maxAnswer bounds the answer read.
const maxAnswer = 4 << 20

func (c *Client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if method == http.MethodPost || method == http.MethodDelete {
		// The API refuses these without it (415): a web page cannot
		// send it without a CORS preflight.
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, b, err
}

// Submit posts a request message (POST /v1/captures) and returns the id the
// API answered with. An answer other than 202 is a *StatusError (wrapped),
// with the id when the API named one.
func (c *Client) Submit(ctx context.Context, body []byte) (string, error) {
	code, b, err := c.do(ctx, http.MethodPost, "/v1/captures", body)
	if err != nil {
		return "", fmt.Errorf("POST %s/v1/captures: %w", c.base, err)
	}
	var reply struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &reply)
	if code != http.StatusAccepted {
		msg := reply.Error
		if msg == "" {
			msg = strings.TrimSpace(string(b))
		}
		return reply.ID, fmt.Errorf("POST %s/v1/captures: %w", c.base, &StatusError{Code: code, Msg: msg})
	}
	return reply.ID, nil
}

// State is a request's state as GET /v1/captures/{id} answers it.
type State struct {
	Request agent.RequestState
	// Results are the request's result events as sent (Request.Results
	// decoded them).
	Results []json.RawMessage
}

// Lookup reads the state of request id (GET /v1/captures/{id}); found is
// false when the API does not know it (404). Another answer is a
// *StatusError.
func (c *Client) Lookup(ctx context.Context, id string) (st State, found bool, err error) {
	code, b, err := c.do(ctx, http.MethodGet, "/v1/captures/"+url.PathEscape(id), nil)
	if err != nil {
		return st, false, err
	}
	switch code {
	case http.StatusOK:
	case http.StatusNotFound:
		return st, false, nil
	default:
		return st, false, &StatusError{Code: code, Msg: strings.TrimSpace(string(b))}
	}
	var raw struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &st.Request); err != nil {
		return st, false, fmt.Errorf("GET /v1/captures/%s: %w", id, err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return st, false, fmt.Errorf("GET /v1/captures/%s: %w", id, err)
	}
	st.Results = raw.Results
	return st, true, nil
}
