package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
)

const requestUsage = `usage: pcapdaemon request [transport flags] [-wait [-waittime D] [-count N]] [message fields | -f FILE]

Publishes a capture request on Redis, an SQS queue, an SNS topic or a
daemon's HTTP API and, with -wait, prints each result event (JSON, one per
line) on stdout as it arrives, with a live status line per capture on
stderr. On Redis, -wait reads the agents' presence records first: it says
which agents take the request and on which interfaces, waits for exactly
their results, and reports an agent that goes away as missing. Ctrl-C
while waiting cancels the request and waits for its final results; a
second Ctrl-C leaves at once.
` + transportUsage + `
Waiting:
  -wait               wait for the result events and print them
  -waittime D         give up after D (default: the request's duration, else the
                      agents' maximum, plus 30s for delivery)
  -count N            stop after N result events (SNS: the only way to know)

Message (the request's JSON fields; -f FILE reads a JSON object, "-" for
stdin, and the fields given as flags replace the file's):
  -id -node -nodere -interface -alias -tags -bpf -customer -snap -packets
  -alertid -timeout -duration -bytes -packetdebug -folder -bucket -acl
  -region -endpoint -encryption -format -merge -lookback
  -interface and -alias may be repeated or given a comma-separated list.
  Without -id, an id is generated so that the results can be matched.

Exit status: 0 when every result is ok or empty, 1 when one is error or
rejected, or a result is missing, 2 for a bad command line or message.
`

// transportUsage describes the transport flags of "request" and "cancel".
const transportUsage = `
Transport (one of -redis, -sqsurl, -snstopic, -http; or -config, the
daemon's TOML file, whose [redis], [sqs], [http] and [security] sections
are used; flags given override it):
  -config FILE        read transport settings from the daemon's config file
  -via NAME           redis, sqs, sns or http: which one to use when several are set
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
  -snstopic ARN       SNS topic every agent's own queue subscribes to (a fleet on
                      SQS); -wait reads the results from -sqsresultsurl
  -snsendpoint URL    SNS-compatible server (default: -sqsendpoint)
  -http URL           daemon HTTP API, e.g. http://127.0.0.1:8657; with -redis or
                      -sqsurl it is only read for the live status
  -token TOKEN        HTTP API bearer token (or $PCAPDAEMON_HTTP_TOKEN)
  -httpca FILE        PEM certificate(s) an https:// API's certificate is checked
                      against, beside the system's (with -config: [http] tlscert)
  -hmackey KEY        sign the message (or $PCAPDAEMON_SECURITY_HMACKEY, [security] hmackey)
`

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
	{"lookback", kindInt, "first the last `seconds` of the interfaces' look-back rings"},
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

// parseRequestFlags parses args. The error is a usage error (flag.ErrHelp
// for -h).
func parseRequestFlags(args []string) (*request.Options, error) {
	o := &request.Options{Fields: map[string]any{}, Transport: request.TransportFlags{Given: map[string]string{}}}
	fs := flag.NewFlagSet("pcapdaemon request", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // -h prints requestUsage
	given := addTransportFlags(fs, &o.Transport)
	fs.StringVar(&o.File, "f", "", "read the message from JSON `file` (- for stdin)")
	fs.BoolVar(&o.Wait, "wait", false, "wait for and print the results")
	fs.DurationVar(&o.WaitTime, "waittime", 0, "give up waiting after `duration`")
	fs.IntVar(&o.Count, "count", 0, "stop after `N` results")
	for _, f := range requestFields {
		fs.Var(&fieldFlag{name: f.name, kind: f.kind, fields: o.Fields}, f.name, f.usage)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (message fields are flags: -bpf 'udp port 53')", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := given(); err != nil {
		return nil, err
	}
	switch {
	case o.WaitTime < 0:
		return nil, fmt.Errorf("-waittime %v: must not be negative", o.WaitTime)
	case o.Count < 0:
		return nil, fmt.Errorf("-count %d: must not be negative", o.Count)
	case (set["waittime"] || set["count"]) && !o.Wait:
		return nil, errors.New("-waittime and -count need -wait")
	}
	return o, nil
}

// addTransportFlags defines -config, -via and the transport flags on fs
// for t; the function returned, called after fs.Parse, records the flags
// given in t.Given and checks -via and -sqsprotocol.
func addTransportFlags(fs *flag.FlagSet, t *request.TransportFlags) func() error {
	fs.StringVar(&t.Config, "config", "", "daemon config `file`")
	fs.StringVar(&t.Via, "via", "", "transport: redis, sqs, sns or http")
	values := map[string]*string{}
	for _, name := range request.TransportFlagNames() {
		values[name] = fs.String(name, "", "")
	}
	return func() error {
		fs.Visit(func(f *flag.Flag) {
			if v, ok := values[f.Name]; ok {
				t.Given[f.Name] = *v
			}
		})
		switch t.Via {
		case "", "redis", "sqs", "sns", "http":
		default:
			return fmt.Errorf("-via %q: want redis, sqs, sns or http", t.Via)
		}
		switch p := t.Given["sqsprotocol"]; p {
		case "", "json", "query":
		default:
			return fmt.Errorf("-sqsprotocol %q: want json or query", p)
		}
		return nil
	}
}

// runRequest implements "pcapdaemon request" (internal/cli/request). It
// returns the exit status: 0 when every result is ok or empty (or, without
// -wait, the request was published), 1 for an error or rejected result, a
// missing result or a failure to publish, 2 for a bad command line or
// message.
func runRequest(args []string, stdout, stderr io.Writer) int {
	ctx, first, stop := request.NotifyInterrupts(context.Background())
	defer stop()
	cmd := &request.Command{
		Stdin: os.Stdin, Stdout: stdout, Stderr: stderr,
		Environ: os.Environ(), Now: time.Now, TTY: request.IsTerminal(stderr), Interrupted: first,
	}
	return requestMain(ctx, args, cmd)
}

// requestMain parses args and runs cmd.
func requestMain(ctx context.Context, args []string, cmd *request.Command) int {
	o, err := parseRequestFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(cmd.Stdout, requestUsage)
		return 0
	}
	if err != nil {
		return cmd.UsageError(err)
	}
	return cmd.Run(ctx, *o)
}
