package cloudshark

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/retry"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
)

const token = "0123456789abcdef0123456789abcdef"

var fastRetry = retry.Policy{Attempts: 3, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}

func hostPort(t testing.TB, raw string) (scheme, host string, port int) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(u.Port())
	return u.Scheme, u.Hostname(), p
}

func newTestSink(t testing.TB, srvURL string, mod func(*Config), log *slog.Logger) *Sink {
	t.Helper()
	scheme, host, port := hostPort(t, srvURL)
	cfg := Config{Host: host, Scheme: scheme, Port: port, Token: token, Timeout: 10 * time.Second, Retry: fastRetry}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeliver(t *testing.T) {
	tests := []struct {
		name      string
		faults    []int
		token     string
		wantErr   string // substring; "" for success
		wantTries int
		wantPerm  bool
	}{
		{name: "success", wantTries: 1},
		{name: "503 twice then success", faults: []int{503, 503}, wantTries: 3},
		{name: "429 then success", faults: []int{429}, wantTries: 2},
		{name: "5xx every time", faults: []int{502, 502, 502, 502}, wantTries: 3, wantErr: "HTTP 502: injected failure"},
		{name: "bad token fails fast", token: "ffffffffffffffffffffffffffffffff", wantTries: 1, wantErr: "HTTP 403: API token is not valid", wantPerm: true},
		{name: "400 fails fast", faults: []int{400}, wantTries: 1, wantErr: "HTTP 400: injected failure", wantPerm: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sinktest.NewCloudshark(token)
			f.Faults = tt.faults
			srv := f.Start(t, false)
			s := newTestSink(t, srv.URL, func(c *Config) {
				if tt.token != "" {
					c.Token = tt.token
				}
			}, nil)
			data := sinktest.Pcap(50<<10, uint64(i))
			c := sinktest.Capture("cs-"+strconv.Itoa(i), data)
			loc, err := s.Deliver(context.Background(), c)
			if n := f.Requests(); n != tt.wantTries {
				t.Errorf("%d requests, want %d", n, tt.wantTries)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Deliver = %q, %v; want an error containing %q", loc, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), s.cfg.Token) {
					t.Errorf("error leaks the token: %v", err)
				}
				var re *retry.Error
				if !errors.As(err, &re) || re.Permanent != tt.wantPerm {
					t.Errorf("error %v: want retry.Error with Permanent=%v", err, tt.wantPerm)
				}
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Errorf("error %v does not wrap an *APIError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			id, ok := strings.CutPrefix(loc, srv.URL+"/captures/")
			if !ok {
				t.Fatalf("location %q is not %s/captures/<id>", loc, srv.URL)
			}
			up, ok := f.Upload(id)
			if !ok {
				t.Fatalf("no upload with id %q", id)
			}
			if !bytes.Equal(up.Data, data) {
				t.Errorf("uploaded %d bytes differ from the %d-byte buffer", len(up.Data), len(data))
			}
			if up.Filename != c.FileName || up.Tags != c.Tags {
				t.Errorf("filename %q tags %q, want %q %q", up.Filename, up.Tags, c.FileName, c.Tags)
			}
			if n := sinktest.TcpdumpPackets(t, up.Data); n == 0 {
				t.Fatalf("tcpdump -r reads no packet of %s in the upload", sinktest.PcapFlow)
			}
		})
	}
}

func TestDeliverTLS(t *testing.T) {
	f := sinktest.NewCloudshark(token)
	srv := f.Start(t, true)
	c := sinktest.Capture("tls", sinktest.Pcap(8<<10, 1))

	// Unknown CA: permanent, no retry.
	s := newTestSink(t, srv.URL, nil, nil)
	_, err := s.Deliver(context.Background(), c)
	var re *retry.Error
	if err == nil || !errors.As(err, &re) || !re.Permanent || re.Attempts != 1 {
		t.Fatalf("Deliver with an unverifiable certificate = %v, want one permanent failure", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error leaks the token: %v", err)
	}

	// Trusted CA: verified upload.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s = newTestSink(t, srv.URL, func(c *Config) { c.RootCAs = pool }, nil)
	if _, err := s.Deliver(context.Background(), c); err != nil {
		t.Fatalf("Deliver with a trusted CA: %v", err)
	}

	// insecure = true: works, and says so.
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	s = newTestSink(t, srv.URL, func(c *Config) { c.Insecure = true }, log)
	if !strings.Contains(logBuf.String(), "verification is OFF") {
		t.Errorf("insecure = true logged no warning: %q", logBuf.String())
	}
	if _, err := s.Deliver(context.Background(), c); err != nil {
		t.Fatalf("Deliver with insecure: %v", err)
	}
	if n := f.Uploads(); n != 2 {
		t.Errorf("%d uploads, want 2", n)
	}
}

func TestDeliverConnectionRefused(t *testing.T) {
	f := sinktest.NewCloudshark(token)
	srv := f.Start(t, false)
	u := srv.URL
	srv.Close()
	s := newTestSink(t, u, nil, nil)
	_, err := s.Deliver(context.Background(), sinktest.Capture("down", sinktest.Pcap(1<<10, 1)))
	var re *retry.Error
	if !errors.As(err, &re) || re.Permanent || re.Attempts != fastRetry.Attempts {
		t.Fatalf("Deliver to a closed port = %v, want %d transient attempts", err, fastRetry.Attempts)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no token", Config{Host: "h"}},
		{"bad scheme", Config{Host: "h", Token: "t", Scheme: "ftp"}},
		{"bad port", Config{Host: "h", Token: "t", Port: 70000}},
		{"host with path", Config{Host: "h/x", Token: "t"}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg, nil); err == nil {
			t.Errorf("%s: New accepted %+v", tt.name, tt.cfg)
		}
	}
	s, err := New(Config{Token: "t", Host: "www.cloudshark.org", Port: 443}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://www.cloudshark.org:443/api/v1/t/upload"; s.upload != want {
		t.Errorf("upload URL %q, want %q", s.upload, want)
	}
	s, _ = New(Config{Token: "t", Host: "::1", Port: 8443}, nil)
	if want := "https://[::1]:8443"; s.base != want {
		t.Errorf("base %q, want %q", s.base, want)
	}
}

func TestAPIErrorDecoding(t *testing.T) {
	tests := []struct {
		code  int
		reply string
		want  string
	}{
		{404, `{"status":404,"exceptions":["Capture not found"]}`, "HTTP 404: Capture not found"},
		{400, `{"status":400,"exceptions":["a","b"]}`, "HTTP 400: a; b"},
		{502, `<html>bad gateway</html>`, "HTTP 502: <html>bad gateway</html>"},
		{500, ``, "HTTP 500: Internal Server Error"},
	}
	for _, tt := range tests {
		if got := apiError(tt.code, []byte(tt.reply)).Error(); got != tt.want {
			t.Errorf("apiError(%d, %q) = %q, want %q", tt.code, tt.reply, got, tt.want)
		}
	}
}

func FuzzAPIError(f *testing.F) {
	f.Add(400, []byte(`{"status":400,"exceptions":["x"]}`))
	f.Add(500, []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, code int, reply []byte) {
		e := apiError(code, reply)
		if e.StatusCode != code || e.Error() == "" {
			t.Fatalf("apiError(%d, %q) = %+v", code, reply, e)
		}
	})
}

// BenchmarkDeliver measures streaming a capture to a local fake CloudShark.
func BenchmarkDeliver(b *testing.B) {
	f := sinktest.NewCloudshark(token)
	f.Discard = true // measure the client, not the fake's buffering
	srv := f.Start(b, false)
	s := newTestSink(b, srv.URL, nil, nil)
	c := sinktest.Capture("bench", sinktest.Pcap(64<<20, 2))
	b.SetBytes(c.Data.Len())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Deliver(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		f.Reset()
	}
}

// TestTokenNeverShown makes the fake CloudShark drop connections (network
// errors name the upload URL, which carries the token) and fail with
// statuses, so that retries log warnings; neither the log, nor the error,
// nor the location may contain the token, and the URL is shown with
// "REDACTED" in its place.
func TestTokenNeverShown(t *testing.T) {
	drop := sinktest.FaultClose
	tests := []struct {
		name    string
		faults  []int
		wantErr bool
	}{
		{"dropped then uploaded", []int{drop, drop}, false},
		{"dropped, 503, uploaded", []int{drop, 503}, false},
		{"dropped every time", []int{drop, drop, drop}, true},
		{"dropped, then a permanent 400", []int{drop, 400}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sinktest.NewCloudshark(token)
			f.Faults = tt.faults
			srv := f.Start(t, false)
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := newTestSink(t, srv.URL, nil, log)
			loc, err := s.Deliver(context.Background(), sinktest.Capture("tok-"+strconv.Itoa(i), sinktest.Pcap(4<<10, uint64(i))))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Deliver = %q, %v; want error: %v", loc, err, tt.wantErr)
			}
			shown := logs.String() + "\n" + loc
			if err != nil {
				shown += "\n" + err.Error()
			}
			if strings.Contains(shown, token) {
				t.Errorf("the token is shown:\n%s", shown)
			}
			if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "/api/v1/REDACTED/upload") {
				t.Errorf("no retry warning naming the redacted URL:\n%s", logs.String())
			}
			var ue *url.Error
			var ae *APIError
			if err != nil && !errors.As(err, &ue) && !errors.As(err, &ae) {
				t.Errorf("error %v lost its chain (neither a *url.Error nor an *APIError)", err)
			}
		})
	}
}

// TestRedact covers a token that the URL escapes: both spellings go.
func TestRedact(t *testing.T) {
	s, err := New(Config{Token: "a b/c", Host: "h"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := errors.New(`Post "https://h/api/v1/a%20b%2Fc/upload": EOF (token a b/c)`)
	got := s.redact(base)
	if want := `Post "https://h/api/v1/REDACTED/upload": EOF (token REDACTED)`; got.Error() != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
	if !errors.Is(got, base) {
		t.Error("the redacted error does not unwrap to the original")
	}
	if s.redact(nil) != nil {
		t.Error("redact(nil) != nil")
	}
}
