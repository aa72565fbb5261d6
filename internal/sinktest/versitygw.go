package sinktest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// VersityGW is a versitygw S3 server (posix backend) started for one test.
type VersityGW struct {
	Endpoint string // http://127.0.0.1:PORT
	Access   string
	Secret   string
	Dir      string // the posix backend's root: one directory per bucket
	Process  *testenv.Process
	Addr     string
	binary   string
	cert     *testenv.Cert
}

// StartVersityGW starts versitygw on a free loopback port with its posix
// backend in a temporary directory that supports extended attributes, and
// stops it at cleanup.
func StartVersityGW(t testing.TB) *VersityGW {
	t.Helper()
	return startVersityGW(t, nil)
}

// StartVersityGWTLS is StartVersityGW serving https with a certificate for
// 127.0.0.1 made for the test; Client trusts it, and so does HTTPClient.
func StartVersityGWTLS(t testing.TB) *VersityGW {
	t.Helper()
	return startVersityGW(t, testenv.NewCert(t))
}

func startVersityGW(t testing.TB, cert *testenv.Cert) *VersityGW {
	t.Helper()
	bin := testenv.FindBinary(t, "github.com/versity/versitygw/cmd/versitygw", "versitygw")
	dir := xattrDir(t)
	g := &VersityGW{Access: "pcapdaemontest", Secret: "pcapdaemontestsecret", Dir: dir, binary: bin, cert: cert}
	g.Addr = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	g.Endpoint = "http://" + g.Addr
	if cert != nil {
		g.Endpoint = "https://" + g.Addr
	}
	g.Restart(t)
	return g
}

// Stop kills the server; Restart starts it again on the same port and data.
func (g *VersityGW) Stop() { g.Process.Stop() }

// Restart starts a stopped server again with the same data, on the same port.
func (g *VersityGW) Restart(t testing.TB) {
	t.Helper()
	args := []string{"--access", g.Access, "--secret", g.Secret, "--port", g.Addr}
	if g.cert != nil {
		args = append(args, "--cert", g.cert.CertFile, "--key", g.cert.KeyFile)
	}
	args = append(args, "posix", g.Dir)
	g.Process = testenv.StartProcess(t, exec.Command(g.binary, args...), g.Addr)
}

// HTTPClient returns an HTTP client that trusts the server's certificate
// (a plain client for http).
func (g *VersityGW) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if g.cert != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: g.cert.Pool}
	}
	return &http.Client{Transport: tr}
}

// Client returns an S3 client for the server (path-style, us-east-1, no
// retries), to create buckets and read objects back.
func (g *VersityGW) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(g.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(g.Access, g.Secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   g.HTTPClient(),
	})
}

// MakeBucket creates a bucket.
func (g *VersityGW) MakeBucket(t testing.TB, name string) {
	t.Helper()
	if _, err := g.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Object is an object read back from the server.
type Object struct {
	Body     []byte
	Metadata map[string]string
	ACL      string
}

// GetObject reads an object back, body and metadata.
func (g *VersityGW) GetObject(t testing.TB, bucket, key string) Object {
	t.Helper()
	out, err := g.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return Object{Body: body, Metadata: out.Metadata}
}

// Keys lists a bucket's object keys.
func (g *VersityGW) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	keys, err := g.ListKeys(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// ListKeys lists a bucket's object keys, for a test that polls a server it
// may have stopped.
func (g *VersityGW) ListKeys(ctx context.Context, bucket string) ([]string, error) {
	out, err := g.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, fmt.Errorf("list s3://%s: %w", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}

// Download writes an object into a file in a temporary directory (named
// after the key's last element, for tools that read files) and returns its
// path and the object's metadata.
func (g *VersityGW) Download(t testing.TB, bucket, key string) (string, map[string]string) {
	t.Helper()
	obj := g.GetObject(t, bucket, key)
	f := filepath.Join(t.TempDir(), filepath.Base(key))
	if err := os.WriteFile(f, obj.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, obj.Metadata
}

// Uploads lists a bucket's unfinished multipart uploads.
func (g *VersityGW) Uploads(t testing.TB, bucket string) int {
	t.Helper()
	out, err := g.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list uploads s3://%s: %v", bucket, err)
	}
	return len(out.Uploads)
}

// xattrDir returns a temporary directory where user extended attributes can
// be set (versitygw's posix backend keeps metadata in them), trying
// t.TempDir() first, then /var/tmp.
func xattrDir(t testing.TB) string {
	t.Helper()
	try := func(d string) bool {
		f := filepath.Join(d, ".xattr-probe")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			return false
		}
		defer os.Remove(f)
		return syscall.Setxattr(f, "user.pcapdaemon", []byte("1"), 0) == nil
	}
	if d := t.TempDir(); try(d) {
		return d
	}
	d, err := os.MkdirTemp("/var/tmp", "pcapdaemon-s3-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if !try(d) {
		t.Fatalf("no directory with user xattr support (tried %s and %s)", t.TempDir(), d)
	}
	return d
}
