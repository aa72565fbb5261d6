package request

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// requestSlack is added to a request's duration and timeout for the
// default -waittime: the upload and the result's publishing take time too.
const requestSlack = 30 * time.Second

// BuildMessage returns the request message: the JSON object read from
// file (when set), with the flag fields replacing its fields, and an id
// generated when there is none. It also returns the request decoded and
// checked as an agent does (agent.Decode), so that a malformed message is
// a usage error here rather than a rejection later.
func BuildMessage(file string, stdin io.Reader, flagFields map[string]any, now time.Time) ([]byte, agent.Request, error) {
	fields := map[string]json.RawMessage{}
	if file != "" {
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, agent.MaxMessageSize+1))
		} else {
			b, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, agent.Request{}, fmt.Errorf("message file: %w", err)
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, agent.Request{}, fmt.Errorf("message file %s: not a JSON object: %w", file, err)
		}
	}
	for k, v := range flagFields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, agent.Request{}, fmt.Errorf("field %s: %w", k, err)
		}
		fields[k] = b
	}
	if id, ok := fields["id"]; !ok || string(id) == `""` || string(id) == "null" {
		fields["id"], _ = json.Marshal(newRequestID(now))
	}
	msg, err := json.Marshal(fields)
	if err != nil {
		return nil, agent.Request{}, fmt.Errorf("encoding the message: %w", err)
	}
	req, err := agent.Decode(msg)
	if err != nil {
		return nil, agent.Request{}, err
	}
	return msg, req, nil
}

// newRequestID makes a request id from the time and 48 random bits, in the
// form the agent uses for the requests that come without one.
func newRequestID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// defaultWaitTime is how long -wait waits by default: span, the longest
// the captures may run (the request's duration, else the agents'
// maximum), plus requestSlack for arming, delivery and publishing the
// results. The inactivity timeout adds nothing: it only ends a capture
// sooner.
func defaultWaitTime(span time.Duration) time.Duration {
	return span + requestSlack
}

// captureSpan is the longest req's captures may run on an agent whose
// maximum duration is maxDuration.
func captureSpan(req agent.Request, maxDuration time.Duration) time.Duration {
	if req.Duration > 0 {
		return time.Duration(req.Duration) * time.Second
	}
	return maxDuration
}
