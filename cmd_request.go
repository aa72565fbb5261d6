package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

const requestUsage = `usage: pcapdaemon request [transport flags] [-wait [-waittime D] [-count N]] [message fields | -f FILE]

Publishes a capture request on Redis, an SQS queue or a daemon's HTTP API
and, with -wait, prints each result event (JSON, one per line) on stdout as
it arrives, with a live status line per capture on stderr.

Transport (one of -redis, -sqsurl, -http; or -config, the daemon's TOML file,
whose [redis], [sqs], [http] and [security] sections are used; flags given
override it):
  -config FILE        read transport settings from the daemon's config file
  -via NAME           redis, sqs or http: which one to publish on when several are set
  -redis ADDRS        Redis server host:port (comma list: cluster seeds)
  -redischannel NAME  request channel (default "capture")
  -resultschannel N   results channel (default "<channel>.results")
  -redisuser NAME     Redis ACL user
  -redisauth PASS     Redis password (or $PCAPDAEMON_REDIS_AUTH)
  -sqsurl URL         SQS queue URL
  -sqsresultsurl URL  SQS queue the agents publish results on (needed by -wait)
  -sqsendpoint URL    SQS-compatible server
  -sqsprotocol P      json (default) or query
  -sqsregion R        signing region (default: from the queue URL, else us-east-1)
  -http URL           daemon HTTP API, e.g. http://127.0.0.1:8657; with -redis or
                      -sqsurl it is only read for the live status
  -token TOKEN        HTTP API bearer token (or $PCAPDAEMON_HTTP_TOKEN)
  -httpca FILE        PEM certificate(s) an https:// API's certificate is checked
                      against, beside the system's (with -config: [http] tlscert)
  -hmackey KEY        sign the request (or $PCAPDAEMON_SECURITY_HMACKEY, [security] hmackey)

Waiting:
  -wait               wait for the result events and print them
  -waittime D         give up after D (default: duration + timeout + 30s)
  -count N            stop after N result events

Message (the request's JSON fields; -f FILE reads a JSON object, "-" for
stdin, and the fields given as flags replace the file's):
  -id -node -nodere -interface -alias -tags -bpf -customer -snap -packets
  -alertid -timeout -duration -bytes -packetdebug -folder -bucket -acl
  -region -endpoint -encryption -format -merge
  -interface and -alias may be repeated or given a comma-separated list.
  Without -id, an id is generated so that the results can be matched.

Exit status: 0 when every result is ok or empty, 1 when one is error or
rejected, or a result is missing, 2 for a bad command line or message.
`

// requestSlack is added to a request's duration and timeout for the
// default -waittime: the upload and the result's publishing take time too.
const requestSlack = 30 * time.Second

// fieldKind is the JSON type of a request field set from a flag.
type fieldKind int

const (
	kindString fieldKind = iota + 1
	kindInt
	kindBool
	kindList
)

// requestFields are the capture request's fields that have a flag of the
// same name, with their JSON types (agent.Request).
var requestFields = []struct {
	name  string
	kind  fieldKind
	usage string
}{
	{"id", kindString, "request `id` ([A-Za-z0-9._-], 1-64; generated when absent)"},
	{"node", kindString, "`node` name to capture on (\"any\" matches all)"},
	{"nodere", kindString, "`regexp` of node names to capture on"},
	{"interface", kindList, "`interfaces` to capture on (repeat or comma list)"},
	{"alias", kindList, "interface `aliases` to capture on (repeat or comma list)"},
	{"tags", kindString, "comma-separated `tags`"},
	{"bpf", kindString, "capture `filter` (pcap-filter syntax)"},
	{"customer", kindString, "`customer` metadata"},
	{"snap", kindInt, "snap `length`"},
	{"packets", kindInt, "stop after `N` packets"},
	{"alertid", kindInt, "alert `id` metadata"},
	{"timeout", kindInt, "stop after `seconds` without a packet"},
	{"duration", kindInt, "stop after `seconds`"},
	{"bytes", kindInt, "stop after `N` bytes"},
	{"packetdebug", kindBool, "log every packet captured"},
	{"folder", kindString, "S3 `folder` override"},
	{"bucket", kindString, "S3 `bucket` override"},
	{"acl", kindString, "S3 canned `acl` override"},
	{"region", kindString, "S3 `region` override"},
	{"endpoint", kindString, "S3 `endpoint` override"},
	{"encryption", kindBool, "S3 server-side encryption"},
	{"format", kindString, "file `format`: pcap or pcapng"},
	{"merge", kindBool, "one pcapng file for all the interfaces, frames in time order"},
}

// fieldFlag is a flag.Value that stores a message field in fields when set.
type fieldFlag struct {
	name   string
	kind   fieldKind
	fields map[string]any
}

func (f *fieldFlag) String() string { return "" }

func (f *fieldFlag) Set(s string) error {
	switch f.kind {
	case kindString:
		f.fields[f.name] = s
	case kindInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("want a whole number >= 0, got %q", s)
		}
		f.fields[f.name] = n
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		f.fields[f.name] = b
	case kindList:
		l, _ := f.fields[f.name].([]string)
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				l = append(l, p)
			}
		}
		f.fields[f.name] = l
	}
	return nil
}

// IsBoolFlag lets "-packetdebug" stand for "-packetdebug=true".
func (f *fieldFlag) IsBoolFlag() bool { return f.kind == kindBool }

// requestFlags is the parsed command line of "pcapdaemon request".
type requestFlags struct {
	config string
	via    string

	redis, redisChannel, resultsChannel, redisUser, redisAuth  string
	sqsURL, sqsResultsURL, sqsEndpoint, sqsProtocol, sqsRegion string
	httpURL, token, httpCA                                     string
	hmacKey                                                    string

	file     string
	wait     bool
	waitTime time.Duration
	count    int

	fields map[string]any // message fields given as flags
	set    map[string]bool
}

// parseRequestFlags parses args. The error is a usage error (flag.ErrHelp
// for -h).
func parseRequestFlags(args []string) (*requestFlags, error) {
	rf := &requestFlags{fields: map[string]any{}, set: map[string]bool{}}
	fs := flag.NewFlagSet("pcapdaemon request", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&rf.config, "config", "", "daemon config `file`")
	fs.StringVar(&rf.via, "via", "", "transport to publish on: redis, sqs or http")
	fs.StringVar(&rf.redis, "redis", "", "Redis `host:port`")
	fs.StringVar(&rf.redisChannel, "redischannel", "", "Redis request `channel`")
	fs.StringVar(&rf.resultsChannel, "resultschannel", "", "Redis results `channel`")
	fs.StringVar(&rf.redisUser, "redisuser", "", "Redis ACL `user`")
	fs.StringVar(&rf.redisAuth, "redisauth", "", "Redis `password`")
	fs.StringVar(&rf.sqsURL, "sqsurl", "", "SQS queue `URL`")
	fs.StringVar(&rf.sqsResultsURL, "sqsresultsurl", "", "SQS results queue `URL`")
	fs.StringVar(&rf.sqsEndpoint, "sqsendpoint", "", "SQS endpoint `URL`")
	fs.StringVar(&rf.sqsProtocol, "sqsprotocol", "", "SQS protocol: json or query")
	fs.StringVar(&rf.sqsRegion, "sqsregion", "", "SQS `region`")
	fs.StringVar(&rf.httpURL, "http", "", "daemon HTTP API `URL`")
	fs.StringVar(&rf.token, "token", "", "HTTP API bearer `token`")
	fs.StringVar(&rf.httpCA, "httpca", "", "PEM `file` of the certificates the HTTP API's is checked against")
	fs.StringVar(&rf.hmacKey, "hmackey", "", "request signing `key`")
	fs.StringVar(&rf.file, "f", "", "read the message from JSON `file` (- for stdin)")
	fs.BoolVar(&rf.wait, "wait", false, "wait for and print the results")
	fs.DurationVar(&rf.waitTime, "waittime", 0, "give up waiting after `duration`")
	fs.IntVar(&rf.count, "count", 0, "stop after `N` results")
	for _, f := range requestFields {
		fs.Var(&fieldFlag{name: f.name, kind: f.kind, fields: rf.fields}, f.name, f.usage)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (message fields are flags: -bpf 'udp port 53')", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { rf.set[f.Name] = true })
	switch {
	case rf.waitTime < 0:
		return nil, fmt.Errorf("-waittime %v: must not be negative", rf.waitTime)
	case rf.count < 0:
		return nil, fmt.Errorf("-count %d: must not be negative", rf.count)
	case (rf.set["waittime"] || rf.set["count"]) && !rf.wait:
		return nil, errors.New("-waittime and -count need -wait")
	}
	switch rf.via {
	case "", "redis", "sqs", "http":
	default:
		return nil, fmt.Errorf("-via %q: want redis, sqs or http", rf.via)
	}
	switch rf.sqsProtocol {
	case "", "json", "query":
	default:
		return nil, fmt.Errorf("-sqsprotocol %q: want json or query", rf.sqsProtocol)
	}
	return rf, nil
}

// buildMessage returns the request message: the JSON object read from
// file (when set), with the flag fields replacing its fields, and an id
// generated when there is none. It also returns the request decoded and
// checked as an agent does (agent.Decode), so that a malformed message is
// a usage error here rather than a rejection later.
func buildMessage(file string, stdin io.Reader, flagFields map[string]any, now time.Time) ([]byte, agent.Request, error) {
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

// defaultWaitTime is how long -wait waits by default: the request's
// duration (or the daemon's maximum, which is its default) plus its
// inactivity timeout (or the default one) plus requestSlack.
func defaultWaitTime(req agent.Request, maxDuration, defaultTimeout time.Duration) time.Duration {
	d := time.Duration(req.Duration) * time.Second
	if d <= 0 {
		d = maxDuration
	}
	t := time.Duration(req.Timeout) * time.Second
	if t <= 0 {
		t = defaultTimeout
	}
	return d + t + requestSlack
}

// runRequest implements "pcapdaemon request". It returns the exit status:
// 0 when every result is ok or empty (or, without -wait, the request was
// published), 1 for an error or rejected result, a missing result or a
// failure to publish, 2 for a bad command line or message.
func runRequest(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := requestCmd{
		stdin: os.Stdin, stdout: stdout, stderr: stderr,
		environ: os.Environ(), now: time.Now, tty: isTerminal(stderr),
	}
	return cmd.run(ctx, args)
}

// requestCmd is one run of "pcapdaemon request", with its I/O and
// environment injected for tests.
type requestCmd struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	now            func() time.Time
	tty            bool          // stderr is a terminal: redraw the status lines
	pollEvery      time.Duration // HTTP API polling (default 500ms)
}

func (c *requestCmd) usageError(err error) int {
	fmt.Fprintf(c.stderr, "pcapdaemon request: %v\n", err)
	fmt.Fprintln(c.stderr, "Run 'pcapdaemon request -h' for the flags.")
	return 2
}

func (c *requestCmd) fail(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "pcapdaemon request: "+format+"\n", args...)
	return 1
}

func (c *requestCmd) run(ctx context.Context, args []string) int {
	rf, err := parseRequestFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, requestUsage)
		return 0
	}
	if err != nil {
		return c.usageError(err)
	}
	ts, err := resolveTransport(rf, c.environ)
	if err != nil {
		return c.usageError(err)
	}
	msg, req, err := buildMessage(rf.file, c.stdin, rf.fields, c.now())
	if err != nil {
		return c.usageError(err)
	}
	if rf.wait && ts.via == "sqs" && ts.sqs.ResultsURL == "" && ts.httpURL == "" {
		return c.usageError(errors.New("-wait over SQS needs the results queue (-sqsresultsurl or [sqs] resultsurl) or the HTTP API (-http)"))
	}
	body := msg
	if ts.hmacKey != "" {
		body = signMessage([]byte(ts.hmacKey), msg, c.now())
	}

	tr, err := ts.open(ctx, c.pollEvery)
	if err != nil {
		return c.fail("%v", err)
	}
	defer tr.close()

	if !rf.wait {
		info, err := tr.publish(ctx, body)
		if err != nil {
			return c.fail("%v", err)
		}
		fmt.Fprintln(c.stdout, req.ID)
		if info.note != "" {
			fmt.Fprintf(c.stderr, "pcapdaemon request: %s\n", info.note)
		}
		return 0
	}

	waitTime := rf.waitTime
	if waitTime == 0 {
		waitTime = defaultWaitTime(req, ts.maxDuration, ts.defaultTimeout)
	}
	w := newWaiter(req, waitTime, rf.count, c.now(), c.stdout, c.stderr, c.tty)
	w.now = c.now
	return c.waitFor(ctx, tr, ts, w, req, body)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
