package agent

import (
	"errors"
	"testing"
)

func TestSinkErrorNamesTheSinkOnce(t *testing.T) {
	for _, tc := range []struct{ name, err, want string }{
		{"s3", "s3: upload s3://b/k: denied", "s3: upload s3://b/k: denied"},
		{"s3", "upload s3://b/k: denied", "s3: upload s3://b/k: denied"},
		{"local", "local sink: disk full", "local sink: disk full"},
		{"cloudshark", "cloudsharkish: x", "cloudshark: cloudsharkish: x"},
	} {
		if got := sinkError(tc.name, errors.New(tc.err)); got != tc.want {
			t.Errorf("sinkError(%q, %q) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}
