package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/pcapdaemon/pcapdaemon/internal/retry"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
)

// fastRetry keeps the real-server tests quick.
var fastRetry = retry.Policy{Attempts: 3, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

func newTestSink(t testing.TB, gw *sinktest.VersityGW, endpoint string, mod func(*Config)) *Sink {
	t.Helper()
	return newTestSinkLog(t, gw, endpoint, mod, slog.New(slog.DiscardHandler))
}

func newTestSinkLog(t testing.TB, gw *sinktest.VersityGW, endpoint string, mod func(*Config), log *slog.Logger) *Sink {
	t.Helper()
	cfg := Config{
		Bucket: "captures", Folder: "pcaps", Region: "us-east-1", Endpoint: endpoint,
		AccessID: gw.Access, AccessKey: gw.Secret, ACL: "private",
		PartSize: MinPartSize, Retry: fastRetry,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeliverVersity(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	s := newTestSink(t, gw, gw.Endpoint, nil)

	tests := []struct {
		name string
		size int
	}{
		{"small single put", 200 << 10},
		{"multipart 20 MiB", 20 << 20},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := sinktest.Pcap(tt.size, uint64(i+1))
			c := sinktest.Capture("req-"+strings.ReplaceAll(tt.name, " ", "-"), data)
			loc, err := s.Deliver(context.Background(), c)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			key := "pcaps/" + c.FileName
			if want := "s3://captures/" + key; loc != want {
				t.Errorf("location = %q, want %q", loc, want)
			}
			obj := gw.GetObject(t, "captures", key)
			if !bytes.Equal(obj.Body, data) {
				t.Fatalf("object differs from the buffer: %d bytes vs %d", len(obj.Body), len(data))
			}
			wantMeta := map[string]string{
				"tags": c.Tags, "customer": "importantcustomer", "alertid": "655443", "node": "host1",
				"interface": "veth0", "snaplength": "65535", "filter": c.Request.BPF, "requestid": c.ID,
			}
			for k, v := range wantMeta {
				if obj.Metadata[k] != v {
					t.Errorf("metadata %s = %q, want %q (all: %v)", k, obj.Metadata[k], v, obj.Metadata)
				}
			}
			if tt.size < 1<<20 {
				if n := sinktest.TcpdumpPackets(t, obj.Body); n == 0 {
					t.Error("tcpdump read no packet from the object")
				}
			}
		})
	}
	if n := gw.Uploads(t, "captures"); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

func TestDeliverMetadataTruncatedVersity(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	s := newTestSink(t, gw, gw.Endpoint, nil)
	c := sinktest.Capture("long-filter", sinktest.Pcap(10<<10, 7))
	c.Request.BPF = strings.Repeat("host 198.18.0.1 or ", 300) + "host 198.18.0.2"
	if _, err := s.Deliver(context.Background(), c); err != nil {
		t.Fatalf("Deliver with a 5 KB filter: %v", err)
	}
	obj := gw.GetObject(t, "captures", "pcaps/"+c.FileName)
	f := obj.Metadata["filter"]
	if !strings.HasSuffix(f, truncMark) || !strings.HasPrefix(c.Request.BPF, strings.TrimSuffix(f, truncMark)) {
		t.Errorf("filter metadata not a truncated prefix: %.80q (len %d)", f, len(f))
	}
	if n := metaSize(obj.Metadata); n > MaxMetadataBytes {
		t.Errorf("stored metadata is %d bytes", n)
	}
	if obj.Metadata["requestid"] != "long-filter" {
		t.Errorf("requestid lost: %v", obj.Metadata["requestid"])
	}
}

func TestDeliverOverridesVersity(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	gw.MakeBucket(t, "allowed-bucket")
	gw.MakeBucket(t, "attacker-bucket")
	s := newTestSink(t, gw, gw.Endpoint, func(c *Config) { c.AllowBuckets = []string{"allowed-bucket"} })

	c := sinktest.Capture("refused", sinktest.Pcap(4<<10, 3))
	c.Request.Bucket = "attacker-bucket"
	_, err := s.Deliver(context.Background(), c)
	var re *RefusedError
	if !errors.As(err, &re) || re.Field != "bucket" {
		t.Fatalf("Deliver to a bucket outside allowbuckets = %v, want a RefusedError", err)
	}
	c.Request.Bucket = ""
	c.Request.Endpoint = "http://127.0.0.2:1"
	if _, err := s.Deliver(context.Background(), c); !errors.As(err, &re) || re.Field != "endpoint" {
		t.Fatalf("Deliver to an endpoint outside allowendpoints = %v, want a RefusedError", err)
	}
	for _, b := range []string{"captures", "attacker-bucket", "allowed-bucket"} {
		if keys := gw.Keys(t, b); len(keys) != 0 {
			t.Errorf("refused capture uploaded to %s: %v", b, keys)
		}
	}

	c.Request.Endpoint = ""
	c.Request.Bucket = "allowed-bucket"
	c.Request.Folder = "pcaps/override/dir"
	loc, err := s.Deliver(context.Background(), c)
	if err != nil {
		t.Fatalf("Deliver to an allowed bucket: %v", err)
	}
	if want := "s3://allowed-bucket/pcaps/override/dir/" + c.FileName; loc != want {
		t.Errorf("location %q, want %q", loc, want)
	}
	gw.GetObject(t, "allowed-bucket", "pcaps/override/dir/"+c.FileName)
}

// TestDeliverACLAndFolderVersity: an ACL in allowacls is sent with the
// upload; one outside it, and a folder outside the configured one, are
// refused by Check (the agent's admission) and by Deliver, and nothing is
// uploaded; a sub-prefix of the configured folder lands under it.
func TestDeliverACLAndFolderVersity(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	p := newFaultProxy(t, gw.Endpoint, func(*http.Request, int) int { return 0 })
	s := newTestSink(t, gw, p.srv.URL, func(c *Config) {
		c.AllowACLs = []string{"public-read"}
		c.AllowFolders = []string{"shared/drop"}
	})

	tests := []struct {
		name, acl, folder string
		wantKey, wantACL  string // "" wantKey: refused
		refused           string // the refused field
	}{
		{name: "configured", wantKey: "pcaps/", wantACL: "private"},
		{name: "allowed acl", acl: "public-read", wantKey: "pcaps/", wantACL: "public-read"},
		{name: "sub-prefix", folder: "pcaps/team-a", wantKey: "pcaps/team-a/", wantACL: "private"},
		{name: "allowlisted folder", folder: "/shared/drop/", wantKey: "shared/drop/", wantACL: "private"},
		{name: "acl not allowed", acl: "public-read-write", refused: "acl"},
		{name: "folder elsewhere", folder: "elsewhere", refused: "folder"},
		{name: "folder traversal", folder: "pcaps/../elsewhere", refused: "folder"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sinktest.Capture(fmt.Sprintf("acl-folder-%d", i), sinktest.Pcap(4<<10, uint64(20+i)))
			c.Request.ACL, c.Request.Folder = tt.acl, tt.folder
			if tt.refused != "" {
				before := gw.Keys(t, "captures")
				var re *RefusedError
				if err := s.Check(c.Request); !errors.As(err, &re) || re.Field != tt.refused {
					t.Fatalf("Check = %v, want a refusal of %s", err, tt.refused)
				}
				if _, err := s.Deliver(context.Background(), c); !errors.As(err, &re) || re.Field != tt.refused {
					t.Fatalf("Deliver = %v, want a refusal of %s", err, tt.refused)
				}
				if got := gw.Keys(t, "captures"); !slices.Equal(got, before) {
					t.Errorf("refused capture changed the bucket: %v, was %v", got, before)
				}
				if n := p.count("PUT", c.FileName); n != 0 {
					t.Errorf("%d PUTs sent for a refused capture", n)
				}
				return
			}
			if err := s.Check(c.Request); err != nil {
				t.Fatalf("Check: %v", err)
			}
			loc, err := s.Deliver(context.Background(), c)
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			key := tt.wantKey + c.FileName
			if want := "s3://captures/" + key; loc != want {
				t.Errorf("location %q, want %q", loc, want)
			}
			if obj := gw.GetObject(t, "captures", key); !bytes.Equal(obj.Body, c.Data.(sinktest.Data)) {
				t.Error("object differs from the capture")
			}
			if got := p.acl(c.FileName); got != tt.wantACL {
				t.Errorf("upload sent x-amz-acl %q, want %q", got, tt.wantACL)
			}
		})
	}
}

// faultProxy is a reverse proxy in front of versitygw that answers some
// requests itself (a 503, a 400) instead of forwarding them, or never
// (hang). It keeps the client's Host header so that SigV4 signatures stay
// valid.
type faultProxy struct {
	mu       sync.Mutex
	requests []string // "METHOD path?query" of every request
	acls     []string // the x-amz-acl header of every request
	fail     func(r *http.Request, n int) int
	srv      *httptest.Server
}

func newFaultProxy(t testing.TB, target string, fail func(r *http.Request, n int) int) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{fail: fail}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host
	}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.RequestURI())
		p.acls = append(p.acls, r.Header.Get("X-Amz-Acl"))
		n := len(p.requests)
		p.mu.Unlock()
		code := p.fail(r, n)
		if code == hang {
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done() // the client gave up
			return
		}
		if code != 0 {
			io.Copy(io.Discard, r.Body) // as S3 does: reply once the body is read
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(code)
			errCode := "ServiceUnavailable"
			if code < 500 {
				errCode = "InvalidArgument"
			}
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + errCode + `</Code><Message>injected by the test proxy</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// hang, returned by a faultProxy's fail function, leaves the request
// unanswered until the client gives up.
const hang = -1

func (p *faultProxy) count(method, substr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// acl returns the x-amz-acl header of the last PUT whose path holds substr.
func (p *faultProxy) acl(substr string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.requests) - 1; i >= 0; i-- {
		if strings.HasPrefix(p.requests[i], "PUT ") && strings.Contains(p.requests[i], substr) {
			return p.acls[i]
		}
	}
	return ""
}

func TestDeliverRetryVersity(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")

	t.Run("put fails twice then succeeds", func(t *testing.T) {
		var puts int
		p := newFaultProxy(t, gw.Endpoint, func(r *http.Request, _ int) int {
			if r.Method == http.MethodPut {
				puts++
				if puts <= 2 {
					return http.StatusServiceUnavailable
				}
			}
			return 0
		})
		var logs bytes.Buffer
		s := newTestSinkLog(t, gw, p.srv.URL, nil, slog.New(slog.NewTextHandler(&logs, nil)))
		c := sinktest.Capture("retry-put", sinktest.Pcap(64<<10, 11))
		if _, err := s.Deliver(context.Background(), c); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if n := p.count("PUT", c.FileName); n != 3 {
			t.Errorf("%d PUTs, want 3", n)
		}
		// Each retry is logged, naming the upload.
		want := "location=s3://captures/pcaps/" + c.FileName
		var warned []string
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "transient failure, retrying") && strings.Contains(line, want) {
				warned = append(warned, line)
			}
		}
		if len(warned) != 2 {
			t.Errorf("%d retry warnings naming %s, want 2:\n%s", len(warned), want, logs.String())
		}
		if !bytes.Equal(gw.GetObject(t, "captures", "pcaps/"+c.FileName).Body, c.Data.(sinktest.Data)) {
			t.Error("object differs after retries")
		}
	})

	t.Run("part fails twice then succeeds", func(t *testing.T) {
		var partFails int
		p := newFaultProxy(t, gw.Endpoint, func(r *http.Request, _ int) int {
			if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" && partFails < 2 {
				partFails++
				return http.StatusServiceUnavailable
			}
			return 0
		})
		s := newTestSink(t, gw, p.srv.URL, func(c *Config) { c.MultipartThreshold = MinPartSize })
		c := sinktest.Capture("retry-part", sinktest.Pcap(12<<20, 12))
		if _, err := s.Deliver(context.Background(), c); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if n := p.count("PUT", "partNumber=2&"); n != 3 {
			t.Errorf("part 2 sent %d times, want 3", n)
		}
		if !bytes.Equal(gw.GetObject(t, "captures", "pcaps/"+c.FileName).Body, c.Data.(sinktest.Data)) {
			t.Error("object differs after part retries")
		}
	})

	t.Run("hung attempt times out and is tried again", func(t *testing.T) {
		var puts atomic.Int32
		p := newFaultProxy(t, gw.Endpoint, func(r *http.Request, _ int) int {
			if r.Method == http.MethodPut && puts.Add(1) == 1 {
				return hang
			}
			return 0
		})
		s := newTestSink(t, gw, p.srv.URL, func(c *Config) { c.Timeout = 300 * time.Millisecond })
		c := sinktest.Capture("retry-hung", sinktest.Pcap(64<<10, 16))
		if _, err := s.Deliver(context.Background(), c); err != nil {
			t.Fatalf("Deliver after one hung attempt: %v", err)
		}
		if n := p.count("PUT", c.FileName); n != 2 {
			t.Errorf("%d PUTs, want 2 (the hung one, then one that went through)", n)
		}
		if !bytes.Equal(gw.GetObject(t, "captures", "pcaps/"+c.FileName).Body, c.Data.(sinktest.Data)) {
			t.Error("object differs after the retry")
		}
	})

	t.Run("permanent 4xx fails fast with the server's message", func(t *testing.T) {
		p := newFaultProxy(t, gw.Endpoint, func(*http.Request, int) int { return 0 })
		s := newTestSink(t, gw, p.srv.URL, func(c *Config) { c.Bucket = "no-such-bucket"; c.Retry.Attempts = 5 })
		c := sinktest.Capture("perm", sinktest.Pcap(4<<10, 13))
		start := time.Now()
		_, err := s.Deliver(context.Background(), c)
		if err == nil {
			t.Fatal("Deliver to a missing bucket succeeded")
		}
		if !strings.Contains(err.Error(), "NoSuchBucket") {
			t.Errorf("error lacks the server's code: %v", err)
		}
		if n := p.count("PUT", ""); n != 1 {
			t.Errorf("%d PUTs for a permanent failure, want 1", n)
		}
		var ma *awsretry.MaxAttemptsError
		if errors.As(err, &ma) {
			t.Errorf("error %v says the attempts ran out: a permanent failure is not retried", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("permanent failure took %v", d)
		}
	})

	t.Run("multipart aborted on permanent part failure", func(t *testing.T) {
		p := newFaultProxy(t, gw.Endpoint, func(r *http.Request, _ int) int {
			if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
				return http.StatusBadRequest
			}
			return 0
		})
		s := newTestSink(t, gw, p.srv.URL, func(c *Config) { c.MultipartThreshold = MinPartSize })
		c := sinktest.Capture("abort", sinktest.Pcap(11<<20, 14))
		if _, err := s.Deliver(context.Background(), c); err == nil || !strings.Contains(err.Error(), "injected by the test proxy") {
			t.Fatalf("Deliver = %v, want the injected 400", err)
		}
		if p.count("DELETE", "uploadId=") == 0 {
			t.Errorf("no AbortMultipartUpload sent: %v", p.requests)
		}
		if n := gw.Uploads(t, "captures"); n != 0 {
			t.Errorf("%d multipart uploads left after abort", n)
		}
		for _, k := range gw.Keys(t, "captures") {
			if strings.Contains(k, c.FileName) {
				t.Errorf("failed upload left object %s", k)
			}
		}
	})

	t.Run("server down: transient, bounded attempts", func(t *testing.T) {
		s := newTestSink(t, gw, "http://"+closedAddr(t), nil)
		_, err := s.Deliver(context.Background(), sinktest.Capture("down", sinktest.Pcap(4<<10, 15)))
		var ma *awsretry.MaxAttemptsError
		if !errors.As(err, &ma) || ma.Attempt != fastRetry.Attempts {
			t.Fatalf("Deliver to a closed port = %v, want %d transient attempts", err, fastRetry.Attempts)
		}
	})
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

// TestDeliverTLSVersity uploads over https, where the SDK streams the body
// with a trailing checksum instead of hashing it first: single and
// multipart, read back byte for byte.
func TestDeliverTLSVersity(t *testing.T) {
	gw := sinktest.StartVersityGWTLS(t)
	gw.MakeBucket(t, "captures")
	s := newTestSink(t, gw, gw.Endpoint, func(c *Config) { c.HTTPClient = gw.HTTPClient(); c.MultipartThreshold = MinPartSize })
	for i, size := range []int{100 << 10, 12 << 20} {
		c := sinktest.Capture("tls"+strconv.Itoa(i), sinktest.Pcap(size, uint64(40+i)))
		if _, err := s.Deliver(context.Background(), c); err != nil {
			t.Fatalf("Deliver %d bytes over https: %v", size, err)
		}
		if got := gw.GetObject(t, "captures", "pcaps/"+c.FileName).Body; !bytes.Equal(got, c.Data.(sinktest.Data)) {
			t.Fatalf("object of %d bytes differs after https upload", size)
		}
	}
	// Without the test CA the certificate is refused, at once: one
	// connection, no retry.
	var dials atomic.Int32
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, addr)
	}
	s = newTestSink(t, gw, gw.Endpoint, func(c *Config) { c.HTTPClient = &http.Client{Transport: tr} })
	_, err := s.Deliver(context.Background(), sinktest.Capture("untrusted", sinktest.Pcap(1<<10, 1)))
	var ma *awsretry.MaxAttemptsError
	if err == nil || !retry.BadCertificate(err) || errors.As(err, &ma) || dials.Load() != 1 {
		t.Fatalf("Deliver to an untrusted certificate = %v after %d connections, want one certificate failure", err, dials.Load())
	}
}
