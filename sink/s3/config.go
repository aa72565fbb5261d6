package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/awsconf"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

// Config is the S3 sink's configuration, mapped by internal/fromconfig from [s3].
type Config struct {
	Bucket   string // required
	Folder   string // key prefix, may be empty
	ACL      string // canned ACL, empty for the bucket's default
	Region   string // empty: the AWS default chain's region, else us-east-1
	Endpoint string // empty or "s3.amazonaws.com": AWS; a host means https://host; or a full URL

	// PathStyle forces path-style addressing (https://host/bucket/key) on
	// AWS too; an explicit endpoint always uses it.
	PathStyle bool

	// Encryption turns on server-side encryption: SSE-KMS when KMSKeyID is
	// set or SSE is "aws:kms", else AES256.
	Encryption bool
	SSE        string // "", "AES256" or "aws:kms"
	KMSKeyID   string

	// AccessID and AccessKey are static credentials; when both are empty the
	// AWS default chain is used (env, shared files, IMDS, IRSA web identity).
	AccessID  string
	AccessKey string

	// AllowBuckets, AllowEndpoints, AllowRegions, AllowACLs and
	// AllowFolders list what a request may set besides the configured
	// values (see the package comment).
	AllowBuckets   []string
	AllowEndpoints []string
	AllowRegions   []string
	AllowACLs      []string
	AllowFolders   []string

	// MultipartThreshold is the size above which a capture is uploaded in
	// parts (default 16 MiB); PartSize is the part size (default 16 MiB,
	// minimum 5 MiB, grown when a file would need more than 10000 parts);
	// Concurrency is the number of parts in flight (default 4).
	MultipartThreshold int64
	PartSize           int64
	Concurrency        int

	// Timeout bounds each attempt of an HTTP call (one PutObject, one
	// part); 0 means 5m.
	Timeout time.Duration

	// Retry paces the SDK's retries of each call (see newRetryer): its
	// Attempts, Initial and Max are used; the zero Policy means
	// retry.Default().
	Retry retry.Policy

	// HTTPClient replaces the SDK's HTTP client (tests, proxies); nil keeps it.
	HTTPClient *http.Client
}

// Defaults of Config.
const (
	DefaultMultipartThreshold = 16 << 20
	DefaultPartSize           = 16 << 20
	MinPartSize               = 5 << 20
	MaxParts                  = 10000
	DefaultConcurrency        = 4
	DefaultTimeout            = 5 * time.Minute
	defaultRegion             = awsconf.DefaultRegion
	awsEndpoint               = "https://s3.amazonaws.com" // AWS's own endpoint resolution
)

// ErrRefused is wrapped by every *RefusedError.
var ErrRefused = errors.New("s3 override refused")

// RefusedError says which per-request override was refused and why.
type RefusedError struct {
	Field  string // "bucket", "endpoint", "region", "acl", "folder"
	Value  string
	Reason string
	// Key, when set, is the [s3] allow-list key ("allowacls") that would
	// let the value through; the message tells the operator to add it there.
	Key string
}

func (e *RefusedError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("%v: %s %q: %s; to allow it, add it to [s3] %s", ErrRefused, e.Field, e.Value, e.Reason, e.Key)
	}
	return fmt.Sprintf("%v: %s %q: %s", ErrRefused, e.Field, e.Value, e.Reason)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// Unretryable tells a spool that retrying later cannot help.
func (e *RefusedError) Unretryable() bool { return true }

var (
	regionRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

var cannedACLs = []string{
	"private", "public-read", "public-read-write", "authenticated-read",
	"aws-exec-read", "bucket-owner-read", "bucket-owner-full-control",
}

// normalizeEndpoint returns the canonical URL of an endpoint setting:
// "" and the legacy global host both mean awsEndpoint; a bare host (with
// optional port) means https://host; a URL keeps its scheme, host and path.
func normalizeEndpoint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return awsEndpoint, nil
	}
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("endpoint %q: want a host or scheme://host[:port][/path]", raw)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// checkACL validates a canned ACL name.
func checkACL(acl string) error {
	if acl != "" && !slices.Contains(cannedACLs, acl) {
		return fmt.Errorf("acl %q: not a canned ACL (%s)", acl, strings.Join(cannedACLs, ", "))
	}
	return nil
}

// sseMode returns the server-side encryption mode for an enabled encryption.
func (c *Config) sseMode() string {
	if c.SSE != "" {
		return c.SSE
	}
	if c.KMSKeyID != "" {
		return "aws:kms"
	}
	return "AES256"
}

// validate checks a Config and fills its defaults.
func (c *Config) validate() error {
	if c.Bucket == "" {
		return errors.New("s3: bucket is required")
	}
	if !bucketRE.MatchString(c.Bucket) {
		return fmt.Errorf("s3: bucket %q: not a valid bucket name", c.Bucket)
	}
	if (c.AccessID == "") != (c.AccessKey == "") {
		return errors.New("s3: accessid and accesskey must be set together (or both left empty for the AWS default chain)")
	}
	if err := checkACL(c.ACL); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	for _, a := range c.AllowACLs {
		if err := checkACL(a); err != nil {
			return fmt.Errorf("s3: allowacls: %w", err)
		}
	}
	f, err := cleanFolder(c.Folder)
	if err != nil {
		return fmt.Errorf("s3: folder %q: %w", c.Folder, err)
	}
	c.Folder = f
	// Normalised in copies: the caller's slices stay as configured.
	c.AllowFolders, c.AllowEndpoints = slices.Clone(c.AllowFolders), slices.Clone(c.AllowEndpoints)
	for i, a := range c.AllowFolders {
		if c.AllowFolders[i], err = cleanFolder(a); err != nil {
			return fmt.Errorf("s3: allowfolders: folder %q: %w", a, err)
		}
	}
	if c.Endpoint, err = normalizeEndpoint(c.Endpoint); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	for i, e := range c.AllowEndpoints {
		if c.AllowEndpoints[i], err = normalizeEndpoint(e); err != nil {
			return fmt.Errorf("s3: allowendpoints: %w", err)
		}
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return fmt.Errorf("s3: region %q: not a region name", c.Region)
	}
	switch c.SSE {
	case "", "AES256", "aws:kms":
	default:
		return fmt.Errorf("s3: sse %q: want AES256 or aws:kms", c.SSE)
	}
	if c.MultipartThreshold <= 0 {
		c.MultipartThreshold = DefaultMultipartThreshold
	}
	if c.PartSize <= 0 {
		c.PartSize = DefaultPartSize
	}
	c.PartSize = max(c.PartSize, MinPartSize)
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retry == (retry.Policy{}) {
		c.Retry = retry.Default()
	}
	c.Retry = c.Retry.WithDefaults()
	return nil
}
