package agent

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// seedMessage is the seed README's example message, verbatim.
const seedMessage = `{
        "node": "node name",
        "nodere": "node regex",
        "interface": ["bond1","bond2"],
        "alias": ["local","public"],
        "tags": "blah,tagme,stuff",
        "bpf": "dst ip 10.0.0.1",
        "customer": "importantcustomer",
        "snap": 1500,
        "packets": 50,
        "alertid": 655443,
        "timeout": 15,
        "duration": 60,
        "bytes": 1000,
        "packetdebug":false,
		"folder": "myfolder",
		"bucket": "mybucket",
		"acl": "public-read",
		"region": "us-east-1",
		"endpoint": "s3.amazonaws.com",
		"encryption": false
    }`

func TestDecodeValid(t *testing.T) {
	// The seed's example breaks the seed's own rules (node and nodere,
	// interface and alias); with one of each it decodes into every field.
	msg := strings.Replace(seedMessage, `"nodere": "node regex",`, "", 1)
	msg = strings.Replace(msg, `"alias": ["local","public"],`, `"id": "abc-1.2_3", "format": "pcapng",`, 1)
	got, err := Decode([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := Request{
		ID: "abc-1.2_3", Node: "node name", Interface: []string{"bond1", "bond2"},
		Tags: "blah,tagme,stuff", BPF: "dst ip 10.0.0.1", Customer: "importantcustomer",
		Snap: 1500, Packets: 50, AlertID: 655443, Timeout: 15, Duration: 60, Bytes: 1000,
		Folder: "myfolder", Bucket: "mybucket", ACL: "public-read", Region: "us-east-1",
		Endpoint: "s3.amazonaws.com", Format: "pcapng",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode = %+v\nwant     %+v", got, want)
	}
	for _, m := range []string{
		`{"node":"any","interface":["eth0"]}`,
		`{"nodere":"^web[0-9]+$","alias":["main"],"id":null,"bpf":"tcp\n and port 80"}`,
		`{"node":"h","interface":["eth0"],"packets":0,"snap":null,"packetdebug":true,"id":null}`,
		` {"node":"h","interface":["eth0"]} ` + "\n",
	} {
		if _, err := Decode([]byte(m)); err != nil {
			t.Errorf("Decode(%s) = %v, want success", m, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	ok := `"node":"h","interface":["eth0"]`
	for _, tc := range []struct {
		name, msg, field, reason string
	}{
		{"seed example (both node and nodere)", seedMessage, "node", "node and nodere are exclusive: give one of them"},
		{"no node", `{"interface":["eth0"]}`, "node", "one of node or nodere is required"},
		{"both iface and alias", `{"node":"h","interface":["eth0"],"alias":["a"]}`, "interface", "interface and alias are exclusive: give one of them"},
		{"no iface", `{"node":"h"}`, "interface", "one of interface or alias is required"},
		{"empty iface list", `{"node":"h","interface":[]}`, "interface", "one of interface or alias is required"},
		{"bad regex", `{"nodere":"a(b","interface":["eth0"]}`, "nodere", "error parsing regexp: missing closing ): `a(b`"},
		{"bad id char", `{` + ok + `,"id":"a/b"}`, "id", `"a/b" does not match [A-Za-z0-9._-]{1,64}`},
		{"id too long", `{` + ok + `,"id":"` + strings.Repeat("a", 65) + `"}`, "id", "is 65 bytes long, the limit is 64"},
		{"id space", `{` + ok + `,"id":"a b"}`, "id", `"a b" does not match [A-Za-z0-9._-]{1,64}`},
		{"id dot", `{` + ok + `,"id":"."}`, "id", `"." is made only of dots: an id needs a letter, a digit, '_' or '-'`},
		{"id dotdot", `{` + ok + `,"id":".."}`, "id", `".." is made only of dots: an id needs a letter, a digit, '_' or '-'`},
		{"id many dots", `{` + ok + `,"id":"....."}`, "id", `"....." is made only of dots: an id needs a letter, a digit, '_' or '-'`},
		{"bad format", `{` + ok + `,"format":"erf"}`, "format", `must be "pcap" or "pcapng", found "erf"`},
		{"merge not a bool", `{` + ok + `,"merge":"yes"}`, "merge", "must be true or false, found a string"},
		{"merge number", `{` + ok + `,"merge":1}`, "merge", "must be true or false, found a number"},
		{"merge as pcap", `{` + ok + `,"merge":true,"format":"pcap"}`, "merge",
			`a merged capture is written as pcapng: give "format": "pcapng" or leave format out, found "pcap"`},
		{"merge twice", `{` + ok + `,"merge":true,"merge":true}`, "merge", "given more than once"},
		{"unknown field", `{` + ok + `,"filter":"tcp"}`, `"filter"`, "unknown field"},
		{"case differs", `{` + ok + `,"Packets":5}`, `"Packets"`, "unknown field"},
		{"repeated field", `{` + ok + `,"packets":1,"packets":2}`, "packets", "given more than once"},
		{"negative", `{` + ok + `,"packets":-1}`, "packets", "must not be negative, found -1"},
		{"fraction", `{` + ok + `,"timeout":1.5}`, "timeout", "must be an integer, found 1.5"},
		{"exponent", `{` + ok + `,"bytes":1e3}`, "bytes", "must be an integer, found 1e3"},
		{"huge", `{` + ok + `,"duration":99999999999999999999}`, "duration", "99999999999999999999 is out of range"},
		{"number as string", `{` + ok + `,"snap":"1500"}`, "snap", "must be a number, found a string"},
		{"alertid bool", `{` + ok + `,"alertid":true}`, "alertid", "must be a number, found a boolean"},
		{"string as number", `{"node":5,"interface":["eth0"]}`, "node", "must be a string, found a number"},
		{"bool as string", `{` + ok + `,"packetdebug":"yes"}`, "packetdebug", "must be true or false, found a string"},
		{"encryption number", `{` + ok + `,"encryption":1}`, "encryption", "must be true or false, found a number"},
		{"iface not list", `{"node":"h","interface":"eth0"}`, "interface", "must be an array of strings, found a string"},
		{"iface item type", `{"node":"h","interface":["eth0",7]}`, "interface[1]", "must be a string, found a number"},
		{"iface slash", `{"node":"h","interface":["a/b"]}`, "interface[0]", `invalid character '/' in interface name "a/b"`},
		{"iface long", `{"node":"h","interface":["abcdefghijklmnop"]}`, "interface[0]", `interface name "abcdefghijklmnop" is longer than 15 bytes`},
		{"iface empty", `{"node":"h","interface":[""]}`, "interface[0]", "empty interface name"},
		{"iface dotdot", `{"node":"h","interface":[".."]}`, "interface[0]", `invalid interface name ".."`},
		{"too many ifaces", `{"node":"h","interface":[` + strings.Repeat(`"e",`, 64) + `"e"]}`, "interface", "has 65 items, the limit is 64"},
		{"alias control char", `{"node":"h","alias":["a\u0001"]}`, "alias[0]", "control character U+0001 at byte 1"},
		{"node newline", `{"node":"a\nb","interface":["eth0"]}`, "node", "control character U+000A at byte 1"},
		{"bpf too long", `{` + ok + `,"bpf":"` + strings.Repeat("x", 8193) + `"}`, "bpf", "is 8193 bytes long, the limit is 8192"},
		{"not an object", `["node"]`, "", "must be a JSON object, found an array"},
		{"not JSON", `node=h`, "", "not JSON: offset 2: invalid character 'o' in literal null (expecting 'u')"},
		{"empty", ``, "", "not JSON: unexpected end of input"},
		{"truncated", `{"node":"h"`, "", "not JSON: unexpected end of input"},
		{"trailing", `{` + ok + `} {}`, "", "trailing data after the JSON object"},
		{"too big", `{"tags":"` + strings.Repeat("x", MaxMessageSize) + `"}`, "", "message is 65547 bytes, the limit is 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.msg))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode = %v, want a *ValidationError", err)
			}
			if ve.Field != tc.field || ve.Reason != tc.reason {
				t.Errorf("Decode error field %q reason %q\nwant field %q reason %q", ve.Field, ve.Reason, tc.field, tc.reason)
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	if got := (&ValidationError{Field: "packets", Reason: "bad"}).Error(); got != "invalid request: packets: bad" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&ValidationError{Reason: "bad"}).Error(); got != "invalid request: bad" {
		t.Errorf("Error() = %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(seedMessage))
	f.Add([]byte(`{"node":"any","interface":["eth0"],"packets":5,"id":"x"}`))
	f.Add([]byte(`{"nodere":"^a.*","alias":["main"],"format":"pcapng"}`))
	f.Add([]byte(`{"node":"h","interface":["e"],"timeout":1e400}`))
	f.Add([]byte(`{"node":"h","interface":["e","f"],"merge":true}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		d, err := decode(msg)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			mayBeForNode(msg, "host") // must not panic
			return
		}
		r := d.req
		if (r.Node == "") == (r.NodeRE == "") || (len(r.Interface) == 0) == (len(r.Alias) == 0) {
			t.Fatalf("accepted a request breaking the exclusivity rules: %+v", r)
		}
		if r.ID != "" && !ValidID(r.ID) {
			t.Fatalf("accepted id %q", r.ID)
		}
		if r.Snap < 0 || r.Packets < 0 || r.Bytes < 0 || r.Timeout < 0 || r.Duration < 0 || r.AlertID < 0 {
			t.Fatalf("accepted a negative number: %+v", r)
		}
		if r.Merge && r.Format != FormatPcapNG {
			t.Fatalf("accepted merge with format %q", r.Format)
		}
		if (r.NodeRE != "") != (d.nodeRE != nil) {
			t.Fatal("nodere not compiled")
		}
	})
}

// TestDecodeRefusesWhatJSONWouldClean: encoding/json turns invalid UTF-8
// into U+FFFD and accepts "id":""; the request must be refused instead.
func TestDecodeRefusesWhatJSONWouldClean(t *testing.T) {
	for _, tc := range []struct {
		name, msg, field string
	}{
		{"customer", "{\"node\":\"any\",\"interface\":[\"lo\"],\"customer\":\"a\xffb\"}", "customer"},
		{"tags", "{\"node\":\"any\",\"interface\":[\"lo\"],\"tags\":\"\xc3\x28\"}", "tags"},
		{"interface item", "{\"node\":\"any\",\"interface\":[\"l\xfeo\"]}", "interface[0]"},
		{"empty id", `{"node":"any","interface":["lo"],"id":""}`, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.msg))
			var v *ValidationError
			if !errors.As(err, &v) || v.Field != tc.field {
				t.Fatalf("Decode = %v, want a ValidationError on %q", err, tc.field)
			}
		})
	}
}

// TestDecodeMerge checks the merge field and the format it implies.
func TestDecodeMerge(t *testing.T) {
	for _, tc := range []struct {
		name, fields string
		merge        bool
		format       string
	}{
		{"absent", ``, false, ""},
		{"implies pcapng", `,"merge":true`, true, "pcapng"},
		{"with pcapng", `,"merge":true,"format":"pcapng"`, true, "pcapng"},
		{"false keeps pcap", `,"merge":false,"format":"pcap"`, false, "pcap"},
		{"null", `,"merge":null`, false, ""},
		{"one interface", `,"merge":true,"interface":["eth0"]`, true, "pcapng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := `{"node":"h"` + tc.fields
			if !strings.Contains(tc.fields, "interface") {
				msg += `,"interface":["eth0","eth1"]`
			}
			r, err := Decode([]byte(msg + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Merge != tc.merge || r.Format != tc.format {
				t.Errorf("Decode(%s) = merge %v format %q, want %v %q", msg, r.Merge, r.Format, tc.merge, tc.format)
			}
		})
	}
}
