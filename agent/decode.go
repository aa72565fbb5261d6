package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMessageSize is the largest request message Decode accepts, in bytes.
const MaxMessageSize = 64 << 10

// Bounds of the list and string fields of a request.
const (
	maxListItems  = 64
	maxIfNameLen  = 15 // IFNAMSIZ-1
	maxAliasLen   = 64
	maxIDLen      = 64
	maxNodeLen    = 255
	maxNodeRELen  = 1024
	maxBPFLen     = 8192
	maxTextLen    = 1024
	maxShortLen   = 256
	maxFormatSize = 16
)

// Formats of a capture file.
const (
	FormatPcap   = "pcap"
	FormatPcapNG = "pcapng"
)

// decoded is a request that passed Decode, with the parts compiled once.
type decoded struct {
	req    Request
	nodeRE *regexp.Regexp // nil unless req.NodeRE is set
}

// Decode parses and checks a capture request message: at most
// MaxMessageSize bytes of one JSON object with the fields of Request, none of
// them unknown, repeated or of the wrong type, no negative number, strings
// and lists within their bounds, exactly one of node/nodere (a valid RE2
// regular expression), exactly one of interface/alias, a valid id and format,
// and merge only with format pcapng (a merge without a format gets pcapng).
// Limits that depend on the configuration are checked later, by the Agent.
// Every error is a *ValidationError naming the field.
func Decode(msg []byte) (Request, error) {
	d, err := decode(msg)
	return d.req, err
}

func decode(msg []byte) (decoded, error) {
	var d decoded
	if len(msg) > MaxMessageSize {
		return d, invalid("", "message is %d bytes, the limit is %d", len(msg), MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return d, invalid("", "not JSON: %v", jsonErr(err))
	}
	if tok != json.Delim('{') {
		return d, invalid("", "must be a JSON object, found %s", tokenKind(tok))
	}
	var seen [fieldCount]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return d, invalid("", "not JSON: %v", jsonErr(err))
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return d, invalid(printable(key), "not JSON: %v", jsonErr(err))
		}
		f, ok := fieldIndex(key)
		if !ok {
			return d, invalid(printable(key), "unknown field")
		}
		if seen[f] {
			return d, invalid(key, "given more than once")
		}
		seen[f] = true
		if err := setField(&d.req, f, key, raw); err != nil {
			return d, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return d, invalid("", "not JSON: %v", jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return d, invalid("", "trailing data after the JSON object")
	}
	if err := checkRules(&d); err != nil {
		return d, err
	}
	return d, nil
}

// checkRules applies the rules between fields and those that need no
// configuration.
func checkRules(d *decoded) error {
	r := &d.req
	switch {
	case r.Node != "" && r.NodeRE != "":
		return invalid("node", "node and nodere are exclusive: give one of them")
	case r.Node == "" && r.NodeRE == "":
		return invalid("node", "one of node or nodere is required")
	case r.NodeRE != "":
		re, err := regexp.Compile(r.NodeRE)
		if err != nil {
			return invalid("nodere", "%v", err)
		}
		d.nodeRE = re
	}
	switch {
	case len(r.Interface) > 0 && len(r.Alias) > 0:
		return invalid("interface", "interface and alias are exclusive: give one of them")
	case len(r.Interface) == 0 && len(r.Alias) == 0:
		return invalid("interface", "one of interface or alias is required")
	}
	if r.ID != "" && !ValidID(r.ID) {
		if onlyDots(r.ID) {
			// "." and ".." are path segments: GET /v1/captures/.. could
			// never reach the request.
			return invalid("id", "%q is made only of dots: an id needs a letter, a digit, '_' or '-'", r.ID)
		}
		return invalid("id", "%.80q does not match [A-Za-z0-9._-]{1,64}", r.ID)
	}
	switch r.Format {
	case "", FormatPcap, FormatPcapNG:
	default:
		return invalid("format", "must be %q or %q, found %q", FormatPcap, FormatPcapNG, r.Format)
	}
	if r.Merge {
		// One file for several interfaces needs an interface id per frame,
		// which only pcapng has.
		switch r.Format {
		case "":
			r.Format = FormatPcapNG
		case FormatPcap:
			return invalid("merge", "a merged capture is written as pcapng: give \"format\": %q or leave format out, found %q", FormatPcapNG, r.Format)
		}
	}
	return nil
}

// ValidID reports whether id is a valid request id: 1 to 64 characters of
// [A-Za-z0-9._-], not all of them dots.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen || onlyDots(id) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// onlyDots reports whether id is made of dots alone (".", "..", ...): such
// an id names no request in a URL path, and a file name ending in "-.."
// invites mistakes.
func onlyDots(id string) bool {
	return id != "" && strings.Trim(id, ".") == ""
}

// The fields of a request, by index.
const (
	fID = iota
	fNode
	fNodeRE
	fInterface
	fAlias
	fTags
	fBPF
	fCustomer
	fSnap
	fPackets
	fAlertID
	fTimeout
	fDuration
	fBytes
	fPacketDebug
	fFolder
	fBucket
	fACL
	fRegion
	fEndpoint
	fEncryption
	fFormat
	fMerge
	fLookback
	fieldCount
)

var fieldNames = [fieldCount]string{
	"id", "node", "nodere", "interface", "alias", "tags", "bpf", "customer",
	"snap", "packets", "alertid", "timeout", "duration", "bytes", "packetdebug",
	"folder", "bucket", "acl", "region", "endpoint", "encryption", "format",
	"merge", "lookback",
}

// fieldIndex finds a field by its exact (case-sensitive) JSON name.
func fieldIndex(name string) (int, bool) {
	for i, n := range fieldNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

func setField(r *Request, f int, name string, raw json.RawMessage) error {
	if string(raw) == "null" {
		return nil // null is the same as leaving the field out
	}
	var err error
	switch f {
	case fID:
		r.ID, err = decodeString(name, raw, maxIDLen, false)
		if err == nil && r.ID == "" {
			// An empty id is not "absent": a caller that sent one expects
			// results under it, so it is refused, not replaced.
			err = invalid(name, `"" does not match [A-Za-z0-9._-]{1,64} (leave the field out to have one generated)`)
		}
	case fNode:
		r.Node, err = decodeString(name, raw, maxNodeLen, false)
	case fNodeRE:
		r.NodeRE, err = decodeString(name, raw, maxNodeRELen, false)
	case fInterface:
		r.Interface, err = decodeList(name, raw, checkIfName)
	case fAlias:
		r.Alias, err = decodeList(name, raw, checkAlias)
	case fTags:
		r.Tags, err = decodeString(name, raw, maxTextLen, false)
	case fBPF:
		r.BPF, err = decodeString(name, raw, maxBPFLen, true)
	case fCustomer:
		r.Customer, err = decodeString(name, raw, maxShortLen, false)
	case fSnap:
		r.Snap, err = decodeInt(name, raw)
	case fPackets:
		r.Packets, err = decodeInt(name, raw)
	case fAlertID:
		r.AlertID, err = decodeInt(name, raw)
	case fTimeout:
		r.Timeout, err = decodeInt(name, raw)
	case fDuration:
		r.Duration, err = decodeInt(name, raw)
	case fBytes:
		r.Bytes, err = decodeInt(name, raw)
	case fPacketDebug:
		r.PacketDebug, err = decodeBool(name, raw)
	case fFolder:
		r.Folder, err = decodeString(name, raw, maxTextLen, false)
	case fBucket:
		r.Bucket, err = decodeString(name, raw, maxShortLen, false)
	case fACL:
		r.ACL, err = decodeString(name, raw, maxShortLen, false)
	case fRegion:
		r.Region, err = decodeString(name, raw, maxShortLen, false)
	case fEndpoint:
		r.Endpoint, err = decodeString(name, raw, maxTextLen, false)
	case fEncryption:
		r.Encryption, err = decodeBool(name, raw)
	case fFormat:
		r.Format, err = decodeString(name, raw, maxFormatSize, false)
	case fMerge:
		r.Merge, err = decodeBool(name, raw)
	case fLookback:
		r.Lookback, err = decodeInt(name, raw)
	}
	return err
}

func decodeString(name string, raw json.RawMessage, maxLen int, allowSpace bool) (string, error) {
	if raw[0] != '"' {
		return "", invalid(name, "must be a string, found %s", rawKind(raw))
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD: check the raw bytes
	// first, so that a bad value is refused, never silently changed.
	if !utf8.Valid(raw) {
		return "", invalid(name, "not valid UTF-8")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid(name, "%v", jsonErr(err))
	}
	if len(s) > maxLen {
		return "", invalid(name, "is %d bytes long, the limit is %d", len(s), maxLen)
	}
	if err := checkText(s, allowSpace); err != nil {
		return "", invalid(name, "%v", err)
	}
	return s, nil
}

// checkText rejects invalid UTF-8 and control characters (which would end
// up in logs, HTTP headers and file names); allowSpace lets tab, CR and LF
// through (a filter may be written over several lines).
func checkText(s string, allowSpace bool) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for i, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			if allowSpace && (c == '\t' || c == '\n' || c == '\r') {
				continue
			}
			return fmt.Errorf("control character %U at byte %d", c, i)
		}
	}
	return nil
}

func decodeList(name string, raw json.RawMessage, check func(string) error) ([]string, error) {
	if raw[0] != '[' {
		return nil, invalid(name, "must be an array of strings, found %s", rawKind(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid(name, "%v", jsonErr(err))
	}
	if len(items) > maxListItems {
		return nil, invalid(name, "has %d items, the limit is %d", len(items), maxListItems)
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		field := fmt.Sprintf("%s[%d]", name, i)
		if it[0] != '"' {
			return nil, invalid(field, "must be a string, found %s", rawKind(it))
		}
		if !utf8.Valid(it) {
			return nil, invalid(field, "not valid UTF-8")
		}
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			return nil, invalid(field, "%v", jsonErr(err))
		}
		if err := check(s); err != nil {
			return nil, invalid(field, "%v", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// checkIfName accepts what Linux accepts as an interface name (see
// dev_valid_name in net/core/dev.c): 1 to 15 bytes, not "." or "..", no
// slash, colon or white space.
func checkIfName(s string) error {
	if s == "" {
		return errors.New("empty interface name")
	}
	if len(s) > maxIfNameLen {
		return fmt.Errorf("interface name %.40q is longer than %d bytes", s, maxIfNameLen)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("invalid interface name %q", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == ':' || c <= ' ' || c == 0x7f {
			return fmt.Errorf("invalid character %q in interface name %q", c, s)
		}
	}
	return nil
}

func checkAlias(s string) error {
	if s == "" {
		return errors.New("empty alias")
	}
	if len(s) > maxAliasLen {
		return fmt.Errorf("alias %.80q is longer than %d bytes", s, maxAliasLen)
	}
	return checkText(s, false)
}

func decodeInt(name string, raw json.RawMessage) (int64, error) {
	c := raw[0]
	if c != '-' && (c < '0' || c > '9') {
		return 0, invalid(name, "must be a number, found %s", rawKind(raw))
	}
	s := string(raw)
	if strings.ContainsAny(s, ".eE") {
		return 0, invalid(name, "must be an integer, found %.40s", s)
	}
	if s[0] == '-' {
		return 0, invalid(name, "must not be negative, found %.40s", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, invalid(name, "%.40s is out of range", s)
	}
	return n, nil
}

func decodeBool(name string, raw json.RawMessage) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(name, "must be true or false, found %s", rawKind(raw))
}

// rawKind names the JSON type of a value, for error messages.
func rawKind(raw json.RawMessage) string {
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	default:
		return "a number"
	}
}

func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// jsonErr shortens the JSON package's errors for a result event.
func jsonErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of input")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("offset %d: %s", se.Offset, se.Error())
	}
	return err
}

// printable quotes an untrusted field name for an error message.
func printable(s string) string {
	q := strconv.QuoteToASCII(s)
	if len(q) > 66 {
		q = q[:62] + `..."`
	}
	return q
}
