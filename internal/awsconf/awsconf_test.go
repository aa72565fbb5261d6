package awsconf

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

func TestLoad(t *testing.T) {
	// An empty environment: no shared files, no region, no credentials.
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	for _, tc := range []struct {
		name       string
		env        map[string]string
		s          Settings
		wantRegion string
		wantKey    string // "" when no static credentials are expected
	}{
		{"nothing given", nil, Settings{}, DefaultRegion, ""},
		{"region from settings", nil, Settings{Region: "eu-west-1"}, "eu-west-1", ""},
		{"region from the environment", map[string]string{"AWS_REGION": "ap-south-1"}, Settings{}, "ap-south-1", ""},
		{"settings win over the environment", map[string]string{"AWS_REGION": "ap-south-1"}, Settings{Region: "eu-west-1"}, "eu-west-1", ""},
		{"static credentials", nil, Settings{AccessID: "AKID", AccessKey: "secret"}, DefaultRegion, "AKID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(context.Background(), tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tc.wantRegion {
				t.Errorf("region %q, want %q", cfg.Region, tc.wantRegion)
			}
			if tc.wantKey == "" {
				return
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != tc.wantKey || creds.SecretAccessKey != tc.s.AccessKey {
				t.Errorf("credentials %+v, %v; want %s/%s", creds, err, tc.wantKey, tc.s.AccessKey)
			}
		})
	}
}

func TestLoadExtraOptions(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := Load(context.Background(), Settings{Region: "eu-west-1"},
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Retryer().(aws.NopRetryer); !ok {
		t.Errorf("retryer %T, want aws.NopRetryer", cfg.Retryer())
	}
}
