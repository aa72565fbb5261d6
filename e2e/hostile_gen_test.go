package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
)

// The hostile-request generator: malformed, hostile and oversized capture
// requests, each with the outcome the daemon must give it.

// Expected outcomes of a hostile message.
const (
	wantInvalid    = "invalid"      // rejected by the agent, naming a field
	wantNotForNode = "not_for_node" // clearly for other hosts: ignored
	wantTooLarge   = "too_large"    // rejected by the Guard before decoding
)

// hostileCase is one message and what must happen to it.
type hostileCase struct {
	name  string
	msg   []byte
	want  string // wantInvalid, wantNotForNode, wantTooLarge or a Guard reason
	field string // for wantInvalid: the field the error names; "" the message as a whole; "*" any
	id    string // the id its rejected result carries; "" when the agent has to make one up
	// gap marks a request the agent accepts today although it is arguably
	// bad: invalid UTF-8 in a free-text field, which encoding/json turns
	// into U+FFFD, and an empty id, taken as absent. Either outcome is
	// allowed and counted (and logged).
	gap bool
}

// kv is one member of a JSON object, written raw: key and value are put in
// the message byte for byte, so that both may be invalid.
type kv struct{ k, v string }

// object writes the members as a JSON object.
func object(members []kv) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + m.k + `":` + m.v)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// quote writes s as a JSON string (strconv.Quote's \x escapes are not
// JSON).
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// hostileGen makes cases for one transport; ids are prefix + a number.
type hostileGen struct {
	rng    *rand.Rand
	prefix string
	host   string // the daemon's node name
	iface  string // an interface the daemon may capture on
	n      int
	cases  []hostileCase
}

// base is a valid request for id: one bad member makes it bad. Its limits
// are tiny so that a case accepted by mistake ends at once.
func (g *hostileGen) base(id string) []kv {
	return []kv{
		{"id", quote(id)}, {"node", `"any"`}, {"interface", `[` + quote(g.iface) + `]`},
		{"bpf", `"udp and dst port 9"`}, {"packets", "1"}, {"timeout", "1"}, {"duration", "1"},
	}
}

// with returns members with key set to raw v (replaced, or appended).
func with(members []kv, k, v string) []kv {
	out := append([]kv(nil), members...)
	for i := range out {
		if out[i].k == k {
			out[i].v = v
			return out
		}
	}
	return append(out, kv{k, v})
}

func without(members []kv, k string) []kv {
	var out []kv
	for _, m := range members {
		if m.k != k {
			out = append(out, m)
		}
	}
	return out
}

func (g *hostileGen) nextID() string {
	g.n++
	return fmt.Sprintf("%s%05d", g.prefix, g.n)
}

// add records a case built from the base request by edit.
func (g *hostileGen) add(name, want, field string, edit func([]kv) []kv) {
	id := g.nextID()
	g.cases = append(g.cases, hostileCase{name: name, msg: object(edit(g.base(id))), want: want, field: field, id: id})
}

// raw records a message built without the base request.
func (g *hostileGen) raw(name string, msg []byte, want, field string) {
	g.cases = append(g.cases, hostileCase{name: name, msg: msg, want: want, field: field})
}

// The request's fields by JSON type.
var (
	stringFields = []string{"id", "node", "nodere", "tags", "bpf", "customer", "folder", "bucket", "acl", "region", "endpoint", "format"}
	listFields   = []string{"interface", "alias"}
	intFields    = []string{"snap", "packets", "alertid", "timeout", "duration", "bytes"}
	boolFields   = []string{"packetdebug", "encryption", "merge"}
)

// wrongTypes puts a value of every wrong JSON type in every field.
func (g *hostileGen) wrongTypes() {
	notString := []string{"1", "-1", "1.5", "true", "false", "{}", "[]", `["x"]`, `{"a":"b"}`, "[[[[]]]]", "1e400"}
	notList := []string{`"x"`, "1", "true", "{}", "[1]", "[true]", "[[]]", "[{}]", "[null]", `[["x"]]`, "-7"}
	notInt := []string{`"5"`, "1.5", "-1", "1e3", "true", "{}", "[]", "[1]", "9223372036854775808", "-9223372036854775809",
		"1e400", "18446744073709551616", "-0", "0.0", `"NaN"`}
	notBool := []string{`"true"`, "1", "0", "{}", "[]", `"yes"`, "[true]"}
	for _, set := range []struct {
		fields []string
		values []string
	}{{stringFields, notString}, {listFields, notList}, {intFields, notInt}, {boolFields, notBool}} {
		for _, f := range set.fields {
			for _, v := range set.values {
				c := hostileCase{name: "wrong type " + f + "=" + v, want: wantInvalid, field: f}
				id := g.nextID()
				m := g.base(id)
				if f == "alias" {
					m = without(m, "interface")
				}
				c.msg = object(with(m, f, v))
				if f != "id" {
					c.id = id
				}
				g.cases = append(g.cases, c)
			}
		}
	}
}

// extremes are numbers out of range or above the configured maximums
// (maxpackets 50000, maxsnaplength 262144, maxtimeout/maxduration 60,
// maxbytes 100 MB), and limits on the count of list items.
func (g *hostileGen) extremes() {
	for _, f := range []string{"snap", "packets", "timeout", "duration", "bytes"} {
		for _, v := range []string{"9223372036854775807", "9223372036854775806", "4294967296", "2147483648"} {
			g.add("extreme "+f+"="+v, wantInvalid, f, func(m []kv) []kv { return with(m, f, v) })
		}
	}
	for f, v := range map[string]string{"packets": "50001", "snap": "262145", "timeout": "61", "duration": "61", "bytes": "100000001"} {
		g.add("above max "+f, wantInvalid, f, func(m []kv) []kv { return with(m, f, v) })
	}
	many := strings.TrimSuffix(strings.Repeat(quote(g.iface)+",", 65), ",")
	g.add("65 interfaces", wantInvalid, "interface", func(m []kv) []kv { return with(m, "interface", "["+many+"]") })
	g.add("65 aliases", wantInvalid, "alias", func(m []kv) []kv {
		return with(without(m, "interface"), "alias", "["+strings.Repeat(`"a",`, 64)+`"a"]`)
	})
}

// hugeStrings puts 20 kB in every string field (each has a smaller
// limit), and builds messages over the 64 KiB message limit.
func (g *hostileGen) hugeStrings() {
	big := strings.Repeat("A", 20000)
	for _, f := range stringFields {
		c := hostileCase{name: "huge " + f, want: wantInvalid, field: f}
		if f == "node" {
			// A node name that is not this host's says the request is for
			// another host: it is ignored, however long.
			c.want, c.field = wantNotForNode, ""
		}
		id := g.nextID()
		c.msg = object(with(g.base(id), f, quote(big)))
		if f != "id" {
			c.id = id
		}
		g.cases = append(g.cases, c)
	}
	for i, n := range []int{64<<10 + 1, 100 << 10, 1 << 20} {
		id := g.nextID()
		g.cases = append(g.cases, hostileCase{name: fmt.Sprintf("oversized %d", i), want: wantTooLarge,
			msg: object(with(g.base(id), "tags", quote(strings.Repeat("x", n))))})
	}
}

// nesting builds deeply nested JSON, within and beyond encoding/json's
// depth limit of 10000.
func (g *hostileGen) nesting() {
	for _, depth := range []int{100, 5000, 10001, 30000} {
		arr := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		g.add(fmt.Sprintf("nested array in tags, depth %d", depth), wantInvalid, "tags", func(m []kv) []kv { return with(m, "tags", arr) })
		obj := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		g.add(fmt.Sprintf("nested object in an unknown field, depth %d", depth), wantInvalid, "zz", func(m []kv) []kv { return with(m, "zz", obj) })
		g.raw(fmt.Sprintf("nested top-level array, depth %d", depth), []byte(arr), wantInvalid, "")
	}
}

// badUTF8 puts invalid UTF-8 in keys and values.
func (g *hostileGen) badUTF8() {
	bad := []string{"\xff", "\xc3\x28", "\xe2\x82", "\xf0\x28\x8c\x28", "\xed\xa0\x80", "a\xffb"}
	for _, b := range bad {
		g.add("invalid UTF-8 key", wantInvalid, "*", func(m []kv) []kv { return with(m, "no"+b+"de", `"any"`) })
		g.add("invalid UTF-8 interface", wantInvalid, "interface", func(m []kv) []kv { return with(m, "interface", `["lo`+b+`"]`) })
		g.add("invalid UTF-8 filter", wantInvalid, "bpf", func(m []kv) []kv { return with(m, "bpf", `"udp`+b+`"`) })
		g.add("invalid UTF-8 alias", wantInvalid, "alias", func(m []kv) []kv { return with(without(m, "interface"), "alias", `["x`+b+`"]`) })
		g.add("invalid UTF-8 format", wantInvalid, "format", func(m []kv) []kv { return with(m, "format", `"pcap`+b+`"`) })
		g.cases = append(g.cases, hostileCase{name: "invalid UTF-8 id", want: wantInvalid, field: "id",
			msg: object(with(g.base(""), "id", `"id`+b+`"`))})
		for _, f := range []string{"customer", "tags", "folder"} {
			id := g.nextID()
			g.cases = append(g.cases, hostileCase{name: "invalid UTF-8 " + f, want: wantInvalid, field: f, id: id,
				msg: object(with(g.base(id), f, `"x`+b+`"`))})
		}
	}
	g.raw("invalid UTF-8 message", []byte("\xff\xfe{\"node\":\"any\"}"), wantInvalid, "")
}

// regexes are nodere values RE2 refuses, and ones that look catastrophic
// to a backtracking engine but run in linear time here (they do not match
// the node, so the request is for other hosts).
func (g *hostileGen) regexes() {
	for _, re := range []string{`(a)\1`, `(?P<n>a)(?P=n)`, `(?<!a)b`, `(?=a)`, `[`, `a{1001}`, `(a{1000}){1000}`,
		`\p{NotAScript}`, `x**`, `(?z)`, `\8`, `a{2,1}`, strings.Repeat("(", 2000) + "a" + strings.Repeat(")", 2000)} {
		g.add("bad regex "+trim(re), wantInvalid, "nodere", func(m []kv) []kv { return with(without(m, "node"), "nodere", quote(re)) })
	}
	g.add("regex too long", wantInvalid, "nodere", func(m []kv) []kv {
		return with(without(m, "node"), "nodere", quote(strings.Repeat("a", 1025)))
	})
	for _, re := range []string{`^(a+)+$`, `^(a|aa)*$`, `(.*a){20}`, `^(([a-z])+.)+[A-Z]([a-z])+$`, `^(\w+\s?)*$X`,
		strings.Repeat(`(a|b)*`, 150) + "c$", `^(x+x+)+y$`} {
		if regexp.MustCompile(re).MatchString(g.host) {
			continue // it would be for this node, and valid
		}
		g.add("catastrophic-looking regex "+trim(re), wantNotForNode, "", func(m []kv) []kv {
			return with(without(m, "node"), "nodere", quote(re))
		})
	}
}

// filters are invalid, too long or too deep filter expressions.
func (g *hostileGen) filters() {
	for _, f := range []string{
		"tcp and and", "port 99999", "vlan 5000", "net 1.2.3.4/33",
		"ip proto 256", "len >", "src or dst", "(udp", "udp)", "ether[0:3] = 1", "tcp[tcpflags] & tcp-fin != 0 and",
		"portrange 70000-70001", "ether host 01:02:03:04:05", "not", "udp and dst port 9\x00",
		strings.Repeat("udp and ", 1000) + "and",
		strings.Repeat("(", 4000) + "udp" + strings.Repeat(")", 4000),
		strings.Repeat("not ", 2000) + "udp",
		strings.Repeat("u", 8193),
	} {
		g.add("bad filter "+trim(f), wantInvalid, "bpf", func(m []kv) []kv { return with(m, "bpf", quote(f)) })
	}
}

// interfaces are names the host does not have or Linux does not allow.
func (g *hostileGen) interfaces() {
	for _, n := range []string{"nosuch0", "eth99", strings.Repeat("a", 15), strings.Repeat("a", 16), "lo:1", "../x",
		"", " ", "x\x00", ".", "..", "a b", "\u00e9th0"} {
		g.add("interface "+quote(n), wantInvalid, "interface", func(m []kv) []kv { return with(m, "interface", "["+quote(n)+"]") })
	}
	g.add("unknown alias", wantInvalid, "alias", func(m []kv) []kv { return with(without(m, "interface"), "alias", `["nosuchalias"]`) })
}

// ids are request ids with characters or lengths outside [A-Za-z0-9._-]{1,64},
// or made only of dots.
func (g *hostileGen) ids() {
	for _, id := range []string{"../etc/passwd", "a b", "\u00fc", strings.Repeat("x", 65), "", "a/b", "a\x00b",
		"<script>", "id;rm -rf /", "\u202e", "%2e%2e", "a\nb", ".", "..", "..."} {
		g.cases = append(g.cases, hostileCase{name: "bad id " + quote(id), want: wantInvalid, field: "id",
			msg: object(with(g.base(""), "id", quote(id)))})
	}
}

// structure breaks the rules between fields and the JSON object itself.
func (g *hostileGen) structure() {
	g.add("unknown field", wantInvalid, "evil", func(m []kv) []kv { return with(m, "evil", "1") })
	g.add("field in wrong case", wantInvalid, "Node", func(m []kv) []kv { return with(m, "Node", `"any"`) })
	g.add("__proto__", wantInvalid, "__proto__", func(m []kv) []kv { return with(m, "__proto__", `{"admin":true}`) })
	g.add("empty key", wantInvalid, "*", func(m []kv) []kv { return with(m, "", "1") })
	g.add("node twice", wantInvalid, "node", func(m []kv) []kv { return append(m, kv{"node", `"any"`}) })
	g.add("node and nodere", wantInvalid, "node", func(m []kv) []kv { return with(m, "nodere", `".*"`) })
	g.add("no node", wantInvalid, "node", func(m []kv) []kv { return without(m, "node") })
	g.add("interface and alias", wantInvalid, "interface", func(m []kv) []kv { return with(m, "alias", `["x"]`) })
	g.add("no interface", wantInvalid, "interface", func(m []kv) []kv { return without(m, "interface") })
	g.add("bad format", wantInvalid, "format", func(m []kv) []kv { return with(m, "format", `"pcapx"`) })
	g.add("for another node", wantNotForNode, "", func(m []kv) []kv { return with(m, "node", `"some-other-host"`) })
	g.add("for other nodes by regex", wantNotForNode, "", func(m []kv) []kv {
		return with(without(m, "node"), "nodere", `"^web-[0-9]+$"`)
	})
	for _, s := range []string{`{}`, `[]`, `null`, `"x"`, `1`, `true`, `{"node":"any"`, `{"node":"any"}{}`, `{"node":"any"} x`,
		"", " ", "{", "}", `{"a"}`, `{"a":}`, `{,}`, `{"node":"any",}`, "\x00", "{\"node\":\"any\"\x00}"} {
		g.raw("malformed "+quote(s), []byte(s), wantInvalid, "*")
	}
}

// random adds n messages of random bytes and n of random JSON-looking text.
func (g *hostileGen) random(n int) {
	for i := range n {
		b := make([]byte, 1+g.rng.IntN(2048))
		for j := range b {
			b[j] = byte(g.rng.UintN(256))
		}
		g.raw(fmt.Sprintf("random bytes %d", i), b, wantInvalid, "*")
	}
	const alphabet = `{}[]":,0123456789.-+eE truefalsnul\ ab`
	for i := range n {
		b := make([]byte, 1+g.rng.IntN(512))
		for j := range b {
			b[j] = alphabet[g.rng.IntN(len(alphabet))]
		}
		b[0] = '{'
		g.raw(fmt.Sprintf("random JSON-like %d", i), b, wantInvalid, "*")
	}
}

// all generates every category.
func (g *hostileGen) all(randomN int) []hostileCase {
	g.wrongTypes()
	g.extremes()
	g.hugeStrings()
	g.nesting()
	g.badUTF8()
	g.regexes()
	g.filters()
	g.interfaces()
	g.ids()
	g.structure()
	g.random(randomN)
	// Whatever came out larger than the 64 KiB message limit is refused by
	// the Guard before anyone reads it.
	for i := range g.cases {
		if len(g.cases[i].msg) > 64<<10 {
			g.cases[i].want, g.cases[i].field, g.cases[i].id, g.cases[i].gap = wantTooLarge, "", "", false
		}
	}
	return g.cases
}

func trim(s string) string {
	if len(s) > 40 {
		return quote(s[:37] + "...")
	}
	return quote(s)
}
