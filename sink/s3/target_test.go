package s3

import (
	"errors"
	"strconv"
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
		{name: "folder under the configured one", cfg: base, req: agent.Request{Folder: "pcaps/alerts/2024/"},
			want: target{bucket: "captures", endpoint: awsEndpoint, region: "eu-west-1", folder: "pcaps/alerts/2024", acl: "private"}},
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

// checkRefused checks that err is the *RefusedError for field and value, and
// that its message names them and the allow-list key (when one applies).
func checkRefused(t *testing.T, err error, field, value, key string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want a RefusedError for %s", err, field)
	}
	if re.Field != field || re.Value != value || re.Key != key {
		t.Errorf("refused field %q value %q key %q, want %q %q %q", re.Field, re.Value, re.Key, field, value, key)
	}
	msg := err.Error()
	for _, want := range []string{field, strconv.Quote(value)} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %s", msg, want)
		}
	}
	if key != "" && !strings.Contains(msg, "add it to [s3] "+key) {
		t.Errorf("message %q does not name the key [s3] %s", msg, key)
	}
}

// TestResolveACL: a request's acl must be the configured one or listed in
// allowacls, whatever it grants.
func TestResolveACL(t *testing.T) {
	cfg := Config{Bucket: "captures", ACL: "private", AllowACLs: []string{"public-read", "bucket-owner-full-control"}}
	bucketDefault := Config{Bucket: "captures", AllowACLs: []string{"public-read"}}
	tests := []struct {
		name    string
		cfg     Config
		acl     string
		want    string // the object's ACL when accepted
		key     string // the key named by the refusal ("" with want set: accepted)
		refused bool
	}{
		{name: "none asked", cfg: cfg, acl: "", want: "private"},
		{name: "the configured one", cfg: cfg, acl: "private", want: "private"},
		{name: "allowed widening", cfg: cfg, acl: "public-read", want: "public-read"},
		{name: "allowed narrowing", cfg: cfg, acl: "bucket-owner-full-control", want: "bucket-owner-full-control"},
		{name: "widening not listed", cfg: cfg, acl: "public-read-write", refused: true, key: "allowacls"},
		{name: "authenticated-read not listed", cfg: cfg, acl: "authenticated-read", refused: true, key: "allowacls"},
		{name: "harmless looking but not listed", cfg: cfg, acl: "bucket-owner-read", refused: true, key: "allowacls"},
		{name: "private over the bucket default", cfg: bucketDefault, acl: "private", refused: true, key: "allowacls"},
		{name: "listed over the bucket default", cfg: bucketDefault, acl: "public-read", want: "public-read"},
		{name: "not a canned ACL", cfg: cfg, acl: "everyone", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSink(t, tt.cfg)
			req := agent.Request{ACL: tt.acl}
			got, err := s.resolve(req)
			if tt.refused {
				checkRefused(t, err, "acl", tt.acl, tt.key)
				if s.Check(req) == nil {
					t.Error("Check accepted what resolve refused")
				}
				return
			}
			if err != nil || got.acl != tt.want {
				t.Fatalf("resolve = acl %q, %v; want %q", got.acl, err, tt.want)
			}
		})
	}
}

// TestResolveFolder: a request's folder is the whole key prefix; it must be
// the configured folder or under it, or be listed in allowfolders, and is
// never a path trick.
func TestResolveFolder(t *testing.T) {
	cfg := Config{Bucket: "captures", Folder: "pcaps", AllowFolders: []string{"shared/drop", "/team-x/"}}
	root := Config{Bucket: "captures"}
	tests := []struct {
		name   string
		cfg    Config
		folder string
		want   string // the key prefix when accepted
		key    string // the key named by the refusal
		bad    bool   // refused
	}{
		{name: "the configured one", cfg: cfg, folder: "pcaps", want: "pcaps"},
		{name: "surrounding slashes", cfg: cfg, folder: "/pcaps/", want: "pcaps"},
		{name: "sub-prefix", cfg: cfg, folder: "pcaps/team-a", want: "pcaps/team-a"},
		{name: "deeper sub-prefix", cfg: cfg, folder: "pcaps/team-a/2024/", want: "pcaps/team-a/2024"},
		{name: "allowlisted", cfg: cfg, folder: "shared/drop", want: "shared/drop"},
		{name: "allowlisted with slashes in the config", cfg: cfg, folder: "team-x", want: "team-x"},
		{name: "elsewhere", cfg: cfg, folder: "other", bad: true, key: "allowfolders"},
		{name: "relative is not under", cfg: cfg, folder: "team-a", bad: true, key: "allowfolders"},
		{name: "same prefix, other folder", cfg: cfg, folder: "pcaps-evil", bad: true, key: "allowfolders"},
		{name: "under an allowlisted one", cfg: cfg, folder: "shared/drop/sub", bad: true, key: "allowfolders"},
		{name: "bucket root", cfg: cfg, folder: "/", bad: true, key: "allowfolders"},
		{name: "traversal out", cfg: cfg, folder: "pcaps/../etc", bad: true},
		{name: "traversal alone", cfg: cfg, folder: "..", bad: true},
		{name: "dot segment", cfg: cfg, folder: "pcaps/./a", bad: true},
		{name: "empty segment", cfg: cfg, folder: "pcaps//a", bad: true},
		{name: "backslash", cfg: cfg, folder: `pcaps\a`, bad: true},
		{name: "backslash traversal", cfg: cfg, folder: `pcaps\..\x`, bad: true},
		{name: "control character", cfg: cfg, folder: "pcaps/a\nb", bad: true},
		{name: "too long", cfg: cfg, folder: "pcaps/" + strings.Repeat("a", 600), bad: true},
		{name: "anything under the root", cfg: root, folder: "any/where", want: "any/where"},
		{name: "traversal under the root", cfg: root, folder: "a/../../b", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSink(t, tt.cfg)
			req := agent.Request{Folder: tt.folder}
			got, err := s.resolve(req)
			if tt.bad {
				checkRefused(t, err, "folder", tt.folder, tt.key)
				if s.Check(req) == nil {
					t.Error("Check accepted what resolve refused")
				}
				return
			}
			if err != nil || got.folder != tt.want {
				t.Fatalf("resolve = folder %q, %v; want %q", got.folder, err, tt.want)
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
		{"traversal in folder", Config{Bucket: "bbb", Folder: "a/../b"}, `segment`},
		{"backslash in allowfolders", Config{Bucket: "bbb", AllowFolders: []string{`a\b`}}, "allowfolders"},
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
