package awsconf

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// DefaultRegion is the region used when neither the settings nor the
// default chain name one.
const DefaultRegion = "us-east-1"

// Settings are the parts of the AWS configuration pcapdaemon's own
// settings may give; empty fields leave the default chain's value.
type Settings struct {
	Region    string
	AccessID  string // with AccessKey: static credentials
	AccessKey string
}

// Load loads the AWS configuration from the SDK's default chain
// (environment, shared files, instance role) with s on top, and
// DefaultRegion when no region is found anywhere. extra are more load
// options (e.g. a retryer). Nothing is contacted.
func Load(ctx context.Context, s Settings, extra ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*awsconfig.LoadOptions) error{}, extra...)
	if s.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s.Region))
	}
	if s.AccessID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(s.AccessID, s.AccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}
