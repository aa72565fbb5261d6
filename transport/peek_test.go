package transport

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPeekRequest(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	key := []byte("peek-test-key")
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name string
		msg  string
		want Peek
	}{
		{name: "request", msg: `{"id":"r1","node":"cap1","interface":["eth0"]}`,
			want: Peek{ID: "r1", Node: "cap1", HasNode: true}},
		{name: "nodere", msg: `{"nodere":"^cap[0-9]+$","id":"r2"}`,
			want: Peek{ID: "r2", NodeRE: "^cap[0-9]+$", HasNodeRE: true}},
		{name: "huge field after the id", msg: `{"id":"r3","node":"any","tags":"` + big + `"}`,
			want: Peek{ID: "r3", Node: "any", HasNode: true}},
		{name: "id after the huge field", msg: `{"node":"any","tags":"` + big + `","id":"r4"}`,
			want: Peek{Node: "any", HasNode: true}},
		{name: "nested values skipped", msg: `{"x":{"id":"inner","y":[1,{"node":"n"}]},"id":"outer"}`,
			want: Peek{ID: "outer"}},
		{name: "escapes", msg: `{"id":"a\u0062c","node":"h\/1"}`,
			want: Peek{ID: "abc", Node: "h/1", HasNode: true}},
		{name: "first occurrence wins", msg: `{"id":"one","id":"two"}`, want: Peek{ID: "one"}},
		{name: "id not a string", msg: `{"id":7,"node":"any"}`, want: Peek{Node: "any", HasNode: true}},
		{name: "not an object", msg: `["id","r5"]`},
		{name: "not json", msg: "id=r6"},
		{name: "empty", msg: ""},
		{name: "cut in the id", msg: `{"id":"r7`},
		{name: "signed envelope",
			msg:  string(Sign(key, []byte(`{"id":"s1","node":"cap1"}`), now)),
			want: Peek{ID: "s1", Node: "cap1", HasNode: true}},
		{name: "signed envelope with a huge body",
			msg:  string(Sign(key, []byte(`{"id":"s2","node":"any","tags":"`+big+`"}`), now)),
			want: Peek{ID: "s2", Node: "any", HasNode: true}},
		{name: "envelope body with escapes, cut",
			msg:  `{"t":1,"sig":"00","body":"{\"id\":\"s\u0033\",\"nodere\":\"^a\\\\d\",\"tags\":\"` + big + `\"}"}`,
			want: Peek{ID: "s3", NodeRE: `^a\d`, HasNodeRE: true}},
		{name: "body is a request field when not an envelope", msg: `{"body":{"id":"no"},"id":"yes"}`, want: Peek{ID: "yes"}},
		{name: "no envelope inside an envelope",
			msg:  `{"body":"{\"body\":\"{\\\"id\\\":\\\"deep\\\"}\"}"}`,
			want: Peek{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PeekRequest([]byte(tt.msg)); got != tt.want {
				t.Errorf("PeekRequest = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzPeekRequest checks that PeekRequest never fails on any input and,
// for a request whose id comes first, finds that id in any cut of it
// long enough to hold the id.
func FuzzPeekRequest(f *testing.F) {
	f.Add([]byte(`{"id":"a","node":"any"}`), 10)
	f.Add(Sign([]byte("k"), []byte(`{"id":"b","node":"x"}`), time.Unix(1, 0)), 40)
	f.Add([]byte(`{"body":"{\"id\":\"\ud83d\ude00\"`), 5)
	f.Fuzz(func(t *testing.T, msg []byte, cut int) {
		PeekRequest(msg)
		id := strings.Trim(string(msg), "\x00")
		if len(id) == 0 || len(id) > 64 || strings.ContainsAny(id, `"\`) {
			return
		}
		req, _ := json.Marshal(map[string]string{"id": id})
		full := append(req[:len(req)-1], `,"tags":"`+strings.Repeat("y", PeekBytes)+`"}`...)
		if cut < len(req)-1 || cut > len(full) {
			cut = len(full)
		}
		if got := PeekRequest(full[:cut]).ID; got != id && json.Valid(req) {
			var back map[string]string
			if json.Unmarshal(req, &back) == nil && back["id"] == id {
				t.Errorf("PeekRequest(%q...) id %q, want %q", full[:min(cut, 80)], got, id)
			}
		}
	})
}
