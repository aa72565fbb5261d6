package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of a Policy's zero fields.
const (
	DefaultAttempts = 4
	DefaultInitial  = 200 * time.Millisecond
	DefaultMax      = 5 * time.Second
)

// Policy says how long to wait between tries and how many to make. Zero
// fields take the defaults above (Multiplier 2), except Jitter: zero means
// none.
type Policy struct {
	// Attempts is the number of tries Do makes in all, the first included.
	Attempts int
	// Initial is the wait after the first failure.
	Initial time.Duration
	// Max caps every wait; it is raised to Initial when below it.
	Max time.Duration
	// Multiplier is how much the wait grows from one failure to the next;
	// values below 1 (the zero value included) mean 2.
	Multiplier float64
	// Jitter is the part of each wait drawn at random, from 0 to 1: a wait
	// d becomes a uniform draw in [(1-Jitter)·d, d]. 1 ("full jitter")
	// spreads a fleet's retries the most; 0 keeps the waits exact.
	Jitter float64
}

// Default is the policy of the sinks' uploads: 4 tries, waits drawn below
// 200ms, 400ms and 800ms (full jitter), never above 5s.
func Default() Policy {
	return Policy{Attempts: DefaultAttempts, Initial: DefaultInitial, Max: DefaultMax, Multiplier: 2, Jitter: 1}
}

// WithDefaults returns p with its zero fields filled and its fields
// brought into range, as Delay and Do use it.
func (p Policy) WithDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	p.Max = max(p.Max, p.Initial)
	if !(p.Multiplier >= 1) { // NaN included
		p.Multiplier = 2
	}
	if !(p.Jitter > 0) {
		p.Jitter = 0
	}
	p.Jitter = min(p.Jitter, 1)
	return p
}

// Delay returns the wait after the n-th failure in a row (n from 1):
// Initial·Multiplier^(n-1), capped at Max, less up to Jitter of it at
// random. It never exceeds Max, whatever n.
func (p Policy) Delay(n int) time.Duration {
	p = p.WithDefaults()
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(max(n, 1)-1))
	if !(d < float64(p.Max)) { // +Inf included
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d -= d * p.Jitter * rand.Float64()
	}
	return time.Duration(d)
}
