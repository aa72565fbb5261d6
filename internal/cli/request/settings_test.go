package request

import (
	"slices"
	"testing"
)

// TestTransportFlagNames: the table's flags are the command line's
// transport flags of the usage text, each once (the root declares them
// from this list, so a renamed row would rename a flag).
func TestTransportFlagNames(t *testing.T) {
	want := []string{"redis", "redischannel", "resultschannel", "redisuser", "redisauth",
		"sqsurl", "sqsresultsurl", "sqsendpoint", "sqsprotocol", "sqsregion", "snstopic", "snsendpoint", "http", "token", "httpca", "hmackey"}
	if got := TransportFlagNames(); !slices.Equal(got, want) {
		t.Errorf("TransportFlagNames() = %q, want %q", got, want)
	}
}
