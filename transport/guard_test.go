package transport

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var testKey = []byte("0123456789abcdef0123")

// recorder is a Submitter that remembers what reached it.
type recorder struct{ got [][]byte }

func (r *recorder) Submit(_ context.Context, msg []byte, source string) (string, error) {
	r.got = append(r.got, msg)
	return "id" + source, nil
}

func TestGuard(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"node":"any","interface":["lo"]}`)
	signed := Sign(testKey, body, now)
	tests := []struct {
		name   string
		key    []byte
		msg    []byte
		reason Reason // 0: accepted
		detail string
	}{
		{name: "unsigned passes without a key", msg: body},
		{name: "signed", key: testKey, msg: signed},
		{name: "too large", msg: bytes.Repeat([]byte("x"), 201), reason: ReasonTooLarge, detail: "201 bytes exceeds the limit of 200"},
		{name: "unsigned", key: testKey, msg: body, reason: ReasonUnsigned},
		{name: "not json", key: testKey, msg: []byte("hello"), reason: ReasonBadEnvelope},
		{name: "extra field", key: testKey, msg: []byte(`{"t":1,"sig":"00","body":"{}","x":1}`), reason: ReasonBadEnvelope, detail: "unknown field"},
		{name: "fractional time", key: testKey, msg: []byte(`{"t":1.5,"sig":"00","body":"{}"}`), reason: ReasonBadEnvelope, detail: "whole unix seconds"},
		{name: "no body", key: testKey, msg: []byte(`{"t":1,"sig":"00"}`), reason: ReasonBadEnvelope, detail: "missing"},
		{name: "wrong key", key: []byte("another key of 16+"), msg: signed, reason: ReasonBadSignature},
		{name: "not hex", key: testKey, msg: []byte(`{"t":1,"sig":"zz","body":"{}"}`), reason: ReasonBadSignature},
		{name: "body changed", key: testKey, msg: bytes.Replace(signed, []byte("lo"), []byte("lp"), 1), reason: ReasonBadSignature},
		{name: "time changed", key: testKey, msg: bytes.Replace(signed, []byte("1700000000"), []byte("1700000001"), 1), reason: ReasonBadSignature},
		{name: "too old", key: testKey, msg: Sign(testKey, body, now.Add(-31*time.Second)), reason: ReasonStale, detail: "outside ±30s"},
		{name: "from the future", key: testKey, msg: Sign(testKey, body, now.Add(31*time.Second)), reason: ReasonStale},
		{name: "edge of window", key: testKey, msg: Sign(testKey, body, now.Add(-30*time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			g := NewGuard(GuardOptions{MaxMessage: 200, HMACKey: tt.key, Now: func() time.Time { return now }}, &rec)
			id, err := g.Submit(context.Background(), tt.msg, "redis")
			if tt.reason == 0 {
				if err != nil {
					t.Fatalf("Submit: %v", err)
				}
				if id != "idredis" || len(rec.got) != 1 || !bytes.Equal(rec.got[0], body) && !bytes.Equal(rec.got[0], tt.msg) {
					t.Errorf("Submit passed %q (id %q), want the body %q", rec.got, id, body)
				}
				return
			}
			var re *RejectError
			if !errors.As(err, &re) || !errors.Is(err, ErrRejected) {
				t.Fatalf("Submit = %v, want a *RejectError", err)
			}
			if re.Reason != tt.reason || !strings.Contains(re.Detail, tt.detail) || re.Source != "redis" {
				t.Errorf("rejected %v %q from %q, want %v containing %q from redis", re.Reason, re.Detail, re.Source, tt.reason, tt.detail)
			}
			if len(rec.got) != 0 {
				t.Errorf("a rejected message reached the agent: %q", rec.got)
			}
			// Neither the key nor the signature it would give this
			// message (an oracle for forging) may be shown.
			if len(tt.key) > 0 && strings.Contains(err.Error(), string(tt.key)) {
				t.Errorf("the error shows the key: %v", err)
			}
			if env, reason, _ := parseEnvelope(tt.msg); reason == 0 && len(tt.key) > 0 {
				mac := hmac.New(sha256.New, tt.key)
				mac.Write(env.signed)
				want := hex.EncodeToString(mac.Sum(nil))
				if strings.Contains(err.Error(), want) && !bytes.Contains(tt.msg, []byte(want)) {
					t.Errorf("the error shows the valid signature: %v", err)
				}
			}
			if got := g.Rejected()[tt.reason.String()]; got != 1 {
				t.Errorf("Rejected()[%s] = %d, want 1", tt.reason, got)
			}
		})
	}
}

func TestGuardReplay(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	var rec recorder
	g := NewGuard(GuardOptions{HMACKey: testKey, MaxSkew: 10 * time.Second, ReplayCapacity: 3, Now: clock}, &rec)
	msg := Sign(testKey, []byte(`{"id":"a"}`), now)
	if _, err := g.Submit(context.Background(), msg, "http"); err != nil {
		t.Fatal(err)
	}
	var re *RejectError
	if _, err := g.Submit(context.Background(), msg, "http"); !errors.As(err, &re) || re.Reason != ReasonReplay {
		t.Fatalf("second Submit of the same envelope = %v, want a replay rejection", err)
	}
	// Once its window is over the envelope is stale, and forgotten.
	now = now.Add(11 * time.Second)
	if _, err := g.Submit(context.Background(), msg, "http"); !errors.As(err, &re) || re.Reason != ReasonStale {
		t.Fatalf("after the window = %v, want stale", err)
	}
	for i := range 10 {
		m := Sign(testKey, []byte(`{"id":"`+string(rune('b'+i))+`"}`), now)
		if _, err := g.Submit(context.Background(), m, "http"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(g.seen); n > 3 {
		t.Errorf("replay cache holds %d signatures, capacity 3", n)
	}
}

// TestGuardReplayRecased sends an accepted envelope again with its
// signature spelled differently: hex decoding takes either case, so each
// spelling carries the same MAC and must be refused as a replay.
func TestGuardReplayRecased(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	msg := Sign(testKey, []byte(`{"id":"a","node":"any"}`), now)
	var env struct{ Sig string }
	if err := json.Unmarshal(msg, &env); err != nil {
		t.Fatal(err)
	}
	mixed := []byte(env.Sig)
	for i := 0; i < len(mixed); i += 2 {
		mixed[i] = byte(unicode.ToUpper(rune(mixed[i])))
	}
	tests := []struct {
		name string
		sig  string
	}{
		{name: "upper case", sig: strings.ToUpper(env.Sig)},
		{name: "mixed case", sig: string(mixed)},
	}
	if strings.ToUpper(env.Sig) == env.Sig {
		t.Fatalf("signature %s has no letters to re-case", env.Sig)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			g := NewGuard(GuardOptions{HMACKey: testKey, Now: func() time.Time { return now }}, &rec)
			if _, err := g.Submit(context.Background(), msg, "redis"); err != nil {
				t.Fatalf("first Submit: %v", err)
			}
			again := bytes.Replace(msg, []byte(env.Sig), []byte(tt.sig), 1)
			if bytes.Equal(again, msg) {
				t.Fatal("re-cased envelope is the same message")
			}
			var re *RejectError
			if _, err := g.Submit(context.Background(), again, "redis"); !errors.As(err, &re) || re.Reason != ReasonReplay {
				t.Fatalf("envelope with sig %s after %s = %v, want a replay rejection", tt.sig, env.Sig, err)
			}
			if len(rec.got) != 1 {
				t.Errorf("the agent got %d messages, want 1", len(rec.got))
			}
		})
	}
}

func TestRejectHTTPStatus(t *testing.T) {
	if s := (&RejectError{Reason: ReasonTooLarge}).HTTPStatus(); s != http.StatusRequestEntityTooLarge {
		t.Errorf("too large → %d", s)
	}
	if s := (&RejectError{Reason: ReasonReplay}).HTTPStatus(); s != http.StatusForbidden {
		t.Errorf("replay → %d", s)
	}
}

// FuzzGuardOpen: any message gives a body or an error, never both, never a
// panic; a signed envelope of any body opens to that body.
func FuzzGuardOpen(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	f.Add([]byte(`{"node":"any"}`))
	f.Add(Sign(testKey, []byte(`{"node":"any"}`), now))
	f.Add([]byte(`{"t":"1","sig":1,"body":null}`))
	f.Add([]byte(`{"t":1e99,"sig":"","body":""}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		g := NewGuard(GuardOptions{MaxMessage: 4096, HMACKey: testKey, Now: func() time.Time { return now }}, nil)
		body, err := g.Open(msg, "fuzz")
		if (body == nil) == (err == nil) && !(err == nil && len(body) == 0) {
			t.Fatalf("Open = %q, %v", body, err)
		}
		env := Sign(testKey, msg, now)
		if len(env) <= 4096 {
			got, err := g.Open(env, "fuzz")
			want := []byte(strings.ToValidUTF8(string(msg), "\uFFFD"))
			if err != nil {
				t.Fatalf("Open(Sign(%q)) = %v", msg, err)
			}
			if utf8.Valid(msg) && !bytes.Equal(got, want) {
				t.Fatalf("Open(Sign(%q)) = %q", msg, got)
			}
		}
	})
}

func BenchmarkGuardSigned(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	g := NewGuard(GuardOptions{MaxMessage: 65536, HMACKey: testKey, Now: func() time.Time { return now }}, &recorder{})
	msgs := make([][]byte, b.N)
	for i := range msgs {
		msgs[i] = Sign(testKey, []byte(`{"node":"any","interface":["lo"],"bpf":"tcp port 80","id":"r`+strconv.Itoa(i)+`"}`), now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := g.Open(msgs[i], "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
