package s3

import (
	"errors"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

func testSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	region := cfg.Region
	if region == "" {
		region = defaultRegion
	}
	return &Sink{cfg: cfg, region: region}
}

func TestResolve(t *testing.T) {
	base := Config{
		Bucket: "captures", Folder: "/pcaps/", ACL: "private", Region: "eu-west-1",
		AllowBuckets:   []string{"other-bucket"},
		AllowEndpoints: []string{"minio.example:9000", "http://198.18.0.9:7070/"},
		AllowRegions:   []string{"eu-central-1"},
		AllowACLs:      []string{"public-read"},
	}
	custom := base
	custom.Endpoint = "http://127.0.0.1:7070"
	kms := base
	kms.KMSKeyID = "arn:aws:kms:eu-west-1:1:key/abc"

	tests := []struct {
		name      string
		cfg       Config
		req       agent.Request
		want      target
		wantField string // refused field, "" when accepted
	}{
		{name: "no overrides", cfg: base,
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps", acl: "private"}},
		{name: "same values are no overrides", cfg: base,
			req:  agent.Request{Bucket: "captures", Endpoint: "s3.amazonaws.com", Region: "eu-west-1", ACL: "private"},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps", acl: "private"}},
		{name: "allowed bucket", cfg: base, req: agent.Request{Bucket: "other-bucket"},
			want: target{bucket: "other-bucket", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps", acl: "private"}},
		{name: "bucket refused", cfg: base, req: agent.Request{Bucket: "attacker-bucket"}, wantField: "bucket"},
		{name: "allowed endpoint host", cfg: base, req: agent.Request{Endpoint: "MINIO.example:9000"},
			want: target{bucket: "captures", endpoint: "https://minio.example:9000", region: "eu-west-1", folder: "pcaps", acl: "private"}},
		{name: "allowed endpoint url", cfg: base, req: agent.Request{Endpoint: "http://198.18.0.9:7070"},
			want: target{bucket: "captures", endpoint: "http://198.18.0.9:7070", region: "eu-west-1", folder: "pcaps", acl: "private"}},
		{name: "endpoint refused", cfg: base, req: agent.Request{Endpoint: "evil.example"}, wantField: "endpoint"},
		{name: "endpoint scheme refused", cfg: base, req: agent.Request{Endpoint: "ftp://minio.example:9000"}, wantField: "endpoint"},
		{name: "endpoint same host other scheme refused", cfg: base, req: agent.Request{Endpoint: "http://minio.example:9000"}, wantField: "endpoint"},
		{name: "allowed region on AWS", cfg: base, req: agent.Request{Region: "eu-central-1"},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-central-1", folder: "pcaps", acl: "private"}},
		{name: "region refused on AWS", cfg: base, req: agent.Request{Region: "cn-north-1"}, wantField: "region"},
		{name: "region free on explicit endpoint", cfg: custom, req: agent.Request{Region: "us-west-2"},
			want: target{bucket: "captures", endpoint: "http://127.0.0.1:7070", region: "us-west-2", folder: "pcaps", acl: "private"}},
		{name: "malformed region refused", cfg: custom, req: agent.Request{Region: "us-west-2.evil.example"}, wantField: "region"},
		{name: "folder and private acl", cfg: base, req: agent.Request{Folder: "alerts/2024/", ACL: "bucket-owner-full-control"},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "alerts/2024", acl: "bucket-owner-full-control"}},
		{name: "allowed widening acl", cfg: base, req: agent.Request{ACL: "public-read"},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps", acl: "public-read"}},
		{name: "widening acl refused", cfg: base, req: agent.Request{ACL: "public-read-write"}, wantField: "acl"},
		{name: "unknown acl refused", cfg: base, req: agent.Request{ACL: "everyone"}, wantField: "acl"},
		{name: "folder control char refused", cfg: base, req: agent.Request{Folder: "a\nb"}, wantField: "folder"},
		{name: "request turns encryption on", cfg: base, req: agent.Request{Encryption: true},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps", acl: "private", sse: "AES256"}},
		{name: "kms", cfg: kms, req: agent.Request{Encryption: true},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps", acl: "private", sse: "aws:kms", kmsKeyID: kms.KMSKeyID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSink(t, tt.cfg)
			got, err := s.resolve(tt.req)
			if tt.wantField != "" {
				var re *RefusedError
				if !errors.As(err, &re) || re.Field != tt.wantField || !errors.Is(err, ErrRefused) {
					t.Fatalf("resolve = %+v, %v; want a RefusedError for %s", got, err, tt.wantField)
				}
				if s.Check(tt.req) == nil {
					t.Error("Check accepted what resolve refused")
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if got != tt.want {
				t.Errorf("target:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok", Config{Bucket: "b-1"}, ""},
		{"no bucket", Config{}, "bucket is required"},
		{"bad bucket", Config{Bucket: "B_"}, "not a valid bucket"},
		{"half credentials", Config{Bucket: "bbb", AccessID: "x"}, "set together"},
		{"bad acl", Config{Bucket: "bbb", ACL: "open"}, "not a canned ACL"},
		{"bad endpoint", Config{Bucket: "bbb", Endpoint: "gopher://x"}, "scheme"},
		{"bad region", Config{Bucket: "bbb", Region: "US East"}, "region"},
		{"bad sse", Config{Bucket: "bbb", SSE: "rot13"}, "sse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.cfg.PartSize != DefaultPartSize || tt.cfg.MultipartThreshold != DefaultMultipartThreshold || tt.cfg.Endpoint != awsEndpoint {
					t.Errorf("defaults not filled: %+v", tt.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNormalizeEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", awsEndpoint},
		{"s3.amazonaws.com", awsEndpoint},
		{"https://s3.amazonaws.com/", awsEndpoint},
		{"s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com"},
		{"http://127.0.0.1:7070", "http://127.0.0.1:7070"},
		{"HTTP://Minio.Local:9000/s3/", "http://minio.local:9000/s3"},
		{"host:9000", "https://host:9000"},
	}
	for _, tt := range tests {
		got, err := normalizeEndpoint(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("normalizeEndpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://u:p@host", "http://host/?a=b", "http://host/#f", "http://[::1"} {
		if got, err := normalizeEndpoint(bad); err == nil {
			t.Errorf("normalizeEndpoint(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzNormalizeEndpoint(f *testing.F) {
	for _, s := range []string{"", "s3.amazonaws.com", "http://127.0.0.1:7070", "https://h/p/", "ftp://x", "http://[::1]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := normalizeEndpoint(s)
		if err != nil {
			if got != "" {
				t.Fatalf("error %v with result %q", err, got)
			}
			return
		}
		if !strings.HasPrefix(got, "http://") && !strings.HasPrefix(got, "https://") {
			t.Fatalf("normalizeEndpoint(%q) = %q: no scheme", s, got)
		}
		// Normalising is idempotent: allow-list entries compare equal.
		again, err := normalizeEndpoint(got)
		if err != nil || again != got {
			t.Fatalf("normalizeEndpoint(%q) = %q, then %q, %v", s, got, again, err)
		}
	})
}
