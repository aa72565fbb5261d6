package s3

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// target is where one capture goes, after the request's overrides were
// checked against the allow-lists.
type target struct {
	bucket   string
	endpoint string // canonical URL; awsEndpoint means AWS's own resolution
	region   string
	pathAWS  bool // path-style addressing with AWS's own resolution
	folder   string
	acl      string
	sse      string // "" (none), "AES256" or "aws:kms"
	kmsKeyID string
}

// resolve applies req's overrides to the configuration, refusing those the
// allow-lists do not permit (see the package comment).
func (s *Sink) resolve(req agent.Request) (target, error) {
	c := &s.cfg
	t := target{bucket: c.Bucket, endpoint: c.Endpoint, region: s.region, folder: c.Folder, acl: c.ACL, pathAWS: c.PathStyle}

	if req.Bucket != "" && req.Bucket != c.Bucket {
		if !slices.Contains(c.AllowBuckets, req.Bucket) {
			return target{}, &RefusedError{Field: "bucket", Value: req.Bucket, Key: "allowbuckets",
				Reason: fmt.Sprintf("not the configured bucket (%q)", c.Bucket)}
		}
		t.bucket = req.Bucket
	}

	if req.Endpoint != "" {
		ep, err := normalizeEndpoint(req.Endpoint)
		if err != nil {
			return target{}, &RefusedError{Field: "endpoint", Value: req.Endpoint, Reason: err.Error()}
		}
		if ep != c.Endpoint && !slices.Contains(c.AllowEndpoints, ep) {
			return target{}, &RefusedError{Field: "endpoint", Value: req.Endpoint, Key: "allowendpoints",
				Reason: fmt.Sprintf("not the configured endpoint (%q)", c.Endpoint)}
		}
		t.endpoint = ep
	}

	if req.Region != "" && req.Region != s.region {
		if !regionRE.MatchString(req.Region) || len(req.Region) > 32 {
			return target{}, &RefusedError{Field: "region", Value: req.Region, Reason: "not a region name"}
		}
		if t.endpoint == awsEndpoint && !slices.Contains(c.AllowRegions, req.Region) {
			return target{}, &RefusedError{Field: "region", Value: req.Region,
				Reason: "with AWS endpoint resolution a region selects the destination host; not in allowregions"}
		}
		t.region = req.Region
	}

	// The ACL decides who may read the capture: any but the configured one
	// needs the operator's consent (allowacls), even one that looks narrow.
	if req.ACL != "" && req.ACL != c.ACL {
		if err := checkACL(req.ACL); err != nil {
			return target{}, &RefusedError{Field: "acl", Value: req.ACL, Reason: err.Error()}
		}
		if !slices.Contains(c.AllowACLs, req.ACL) {
			configured := "the bucket's default"
			if c.ACL != "" {
				configured = strconv.Quote(c.ACL)
			}
			return target{}, &RefusedError{Field: "acl", Value: req.ACL, Key: "allowacls",
				Reason: "not the configured acl (" + configured + ")"}
		}
		t.acl = req.ACL
	}

	if req.Folder != "" {
		f, err := c.checkRequestFolder(req.Folder)
		if err != nil {
			return target{}, err
		}
		t.folder = f
	}

	if c.Encryption || req.Encryption {
		t.sse = c.sseMode()
		if t.sse == "aws:kms" {
			t.kmsKeyID = c.KMSKeyID
		}
	}
	return t, nil
}

// key is the object key of a capture file under the target's folder.
func (t target) key(fileName string) string {
	if t.folder == "" {
		return fileName
	}
	return t.folder + "/" + fileName
}

// location is the s3:// URL of an object.
func (t target) location(key string) string {
	return fmt.Sprintf("s3://%s/%s", t.bucket, key)
}
