package transport

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// GuardOptions configures a Guard.
type GuardOptions struct {
	// MaxMessage is the largest message accepted, in bytes (0 = no limit).
	MaxMessage int
	// HMACKey, when not empty, requires signed envelopes.
	HMACKey []byte
	// MaxSkew is how far an envelope's time may be from now (default 30s).
	MaxSkew time.Duration
	// ReplayCapacity bounds the signatures remembered (default 65536); the
	// oldest are forgotten first.
	ReplayCapacity int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Guard checks every message before handing it on: size first, then, with a
// key, the signed envelope, its time window and the replay cache. It passes
// the request body (the envelope's "body", or the message itself when
// signing is off) to the next Submitter.
type Guard struct {
	next Submitter
	o    GuardOptions

	mu       sync.Mutex
	seen     map[string]struct{} // MACs (decoded bytes) within the window
	order    []seenSig           // FIFO of seen, for expiry and capacity
	rejected [numReasons]uint64
}

type seenSig struct {
	mac     string // the decoded MAC, as a map key
	expires time.Time
}

// NewGuard returns a Guard in front of next.
func NewGuard(o GuardOptions, next Submitter) *Guard {
	if o.MaxSkew <= 0 {
		o.MaxSkew = 30 * time.Second
	}
	if o.ReplayCapacity <= 0 {
		o.ReplayCapacity = 1 << 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Guard{next: next, o: o, seen: make(map[string]struct{})}
}

// Submit checks msg and, if it passes, submits its body to the next
// Submitter. A failed check returns a *RejectError.
func (g *Guard) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	body, err := g.Open(msg, source)
	if err != nil {
		return "", err
	}
	return g.next.Submit(ctx, body, source)
}

// Open performs the Guard's checks on msg and returns the request body.
func (g *Guard) Open(msg []byte, source string) ([]byte, error) {
	if g.o.MaxMessage > 0 && len(msg) > g.o.MaxMessage {
		return nil, g.reject(ReasonTooLarge, source, "message of %d bytes exceeds the limit of %d", len(msg), g.o.MaxMessage)
	}
	if len(g.o.HMACKey) == 0 {
		return msg, nil
	}
	env, reason, detail := parseEnvelope(msg)
	if reason != 0 {
		return nil, g.reject(reason, source, "%s", detail)
	}
	mac := hmac.New(sha256.New, g.o.HMACKey)
	mac.Write(env.signed)
	want := mac.Sum(nil)
	got, err := hex.DecodeString(env.sig)
	if err != nil || !hmac.Equal(got, want) {
		return nil, g.reject(ReasonBadSignature, source, "signature does not match")
	}
	now := g.o.Now()
	at := time.Unix(env.t, 0)
	if d := now.Sub(at); d > g.o.MaxSkew || d < -g.o.MaxSkew {
		return nil, g.reject(ReasonStale, source, "signed at %s, %s from now, outside ±%s", at.UTC().Format(time.RFC3339), d.Round(time.Second), g.o.MaxSkew)
	}
	// The cache keys on the MAC's bytes, not on its hex text: hex decoding
	// takes either case, so the same envelope with its "sig" re-cased
	// would otherwise pass as new.
	if !g.remember(string(got), at.Add(g.o.MaxSkew), now) {
		return nil, g.reject(ReasonReplay, source, "signature already seen within the last %s", 2*g.o.MaxSkew)
	}
	return env.body, nil
}

// remember records mac until expires and reports whether it was new.
func (g *Guard) remember(mac string, expires, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.order) > 0 && (g.order[0].expires.Before(now) || len(g.order) >= g.o.ReplayCapacity) {
		delete(g.seen, g.order[0].mac)
		g.order = g.order[1:]
	}
	if _, dup := g.seen[mac]; dup {
		return false
	}
	g.seen[mac] = struct{}{}
	g.order = append(g.order, seenSig{mac, expires})
	return true
}

func (g *Guard) reject(r Reason, source, format string, args ...any) error {
	g.mu.Lock()
	g.rejected[r]++
	g.mu.Unlock()
	return &RejectError{Reason: r, Source: source, Detail: fmt.Sprintf(format, args...)}
}

// Rejected returns how many messages were rejected, by reason name.
func (g *Guard) Rejected() map[string]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := make(map[string]uint64)
	for r := Reason(1); r < numReasons; r++ {
		m[r.String()] = g.rejected[r]
	}
	return m
}

// envelope is a parsed signed envelope.
type envelope struct {
	t      int64
	sig    string
	body   []byte
	signed []byte // "<t>.<body>", what the HMAC covers
}

// parseEnvelope decodes msg as exactly {"t","sig","body"}; on failure it
// returns the reason and a detail.
func parseEnvelope(msg []byte) (envelope, Reason, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		return envelope{}, ReasonBadEnvelope, "not a JSON object: " + err.Error()
	}
	if _, ok := fields["sig"]; !ok {
		return envelope{}, ReasonUnsigned, "signing is required: send {\"t\",\"sig\",\"body\"}"
	}
	var e struct {
		T    json.Number `json:"t"`
		Sig  string      `json:"sig"`
		Body *string     `json:"body"`
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return envelope{}, ReasonBadEnvelope, "envelope: " + err.Error()
	}
	t, err := strconv.ParseInt(string(e.T), 10, 64)
	if err != nil {
		return envelope{}, ReasonBadEnvelope, fmt.Sprintf("envelope: \"t\" must be whole unix seconds, got %q", e.T)
	}
	if e.Body == nil {
		return envelope{}, ReasonBadEnvelope, "envelope: \"body\" (the request JSON as a string) is missing"
	}
	body := []byte(*e.Body)
	signed := make([]byte, 0, 21+len(body))
	signed = strconv.AppendInt(signed, t, 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	return envelope{t: t, sig: e.Sig, body: body, signed: signed}, 0, ""
}

// Sign returns body wrapped in a signed envelope dated at. The signature
// covers the body as the receiver will decode it (JSON turns invalid UTF-8
// into U+FFFD).
func Sign(key, body []byte, at time.Time) []byte {
	t := at.Unix()
	quoted, _ := json.Marshal(string(body))
	var decoded string
	_ = json.Unmarshal(quoted, &decoded)
	mac := hmac.New(sha256.New, key)
	mac.Write(strconv.AppendInt(nil, t, 10))
	mac.Write([]byte{'.'})
	mac.Write([]byte(decoded))
	b, _ := json.Marshal(struct {
		T    int64  `json:"t"`
		Sig  string `json:"sig"`
		Body string `json:"body"`
	}{t, hex.EncodeToString(mac.Sum(nil)), decoded})
	return b
}
