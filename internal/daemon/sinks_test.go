package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/sink/s3"
)

// TestBuildSinksS3AllowLists: the [s3] allow-list keys of the config file
// reach the S3 sink, whose Check is the agent's admission of a request's
// overrides.
func TestBuildSinksS3AllowLists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	const toml = `[s3]
upload = true
bucket = "captures"
folder = "pcaps"
region = "us-east-1"
endpoint = "http://127.0.0.1:1"
accessid = "id"
accesskey = "key"
acl = "private"
allowacls = ["public-read"]
allowfolders = ["shared/drop"]
`
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"-config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	sinks, _, err := buildSinks(context.Background(), cfg, log, metrics.New("test", log))
	if err != nil {
		t.Fatal(err)
	}
	var check agent.RequestChecker
	for _, s := range sinks {
		if s.Name() == "s3" {
			check, _ = s.(agent.RequestChecker)
		}
	}
	if check == nil {
		t.Fatalf("no S3 sink with a Check among %v", sinkNames(sinks))
	}
	for _, tt := range []struct {
		name    string
		req     agent.Request
		refused string // the refused field, "" when accepted
	}{
		{"acl in allowacls", agent.Request{ACL: "public-read"}, ""},
		{"acl not in allowacls", agent.Request{ACL: "public-read-write"}, "acl"},
		{"folder in allowfolders", agent.Request{Folder: "shared/drop"}, ""},
		{"folder under the configured one", agent.Request{Folder: "pcaps/team-a"}, ""},
		{"folder elsewhere", agent.Request{Folder: "elsewhere"}, "folder"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := check.Check(tt.req)
			var re *s3.RefusedError
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("Check = %v, want it accepted", err)
			case tt.refused != "" && (!errors.As(err, &re) || re.Field != tt.refused):
				t.Errorf("Check = %v, want %s refused", err, tt.refused)
			}
		})
	}
}
