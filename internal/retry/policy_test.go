package retry

import (
	"math"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Policy
		want Policy
	}{
		{"zero", Policy{}, Policy{Attempts: 4, Initial: DefaultInitial, Max: DefaultMax, Multiplier: 2}},
		{"Default is complete", Default(), Default()},
		{"max below initial", Policy{Attempts: 2, Initial: time.Minute, Max: time.Second, Multiplier: 3},
			Policy{Attempts: 2, Initial: time.Minute, Max: time.Minute, Multiplier: 3}},
		{"shrinking multiplier", Policy{Multiplier: 0.5}, Policy{Attempts: 4, Initial: DefaultInitial, Max: DefaultMax, Multiplier: 2}},
		{"NaN multiplier and jitter", Policy{Multiplier: math.NaN(), Jitter: math.NaN()},
			Policy{Attempts: 4, Initial: DefaultInitial, Max: DefaultMax, Multiplier: 2}},
		{"jitter above 1", Policy{Jitter: 7}, Policy{Attempts: 4, Initial: DefaultInitial, Max: DefaultMax, Multiplier: 2, Jitter: 1}},
		{"negative jitter", Policy{Jitter: -1}, Policy{Attempts: 4, Initial: DefaultInitial, Max: DefaultMax, Multiplier: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.WithDefaults(); got != tt.want {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDelayCapped: without jitter the waits double from Initial and stop
// at Max; a multiplier of 1 keeps them constant; huge failure counts
// neither overflow nor pass Max.
func TestDelayCapped(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		p    Policy
		want []time.Duration // Delay(1), Delay(2), ...
	}{
		{"doubling to the cap", Policy{Initial: 100 * ms, Max: time.Second},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second}},
		{"tripling", Policy{Initial: 10 * ms, Max: time.Second, Multiplier: 3},
			[]time.Duration{10 * ms, 30 * ms, 90 * ms, 270 * ms, 810 * ms, time.Second}},
		{"constant", Policy{Initial: 50 * ms, Max: time.Second, Multiplier: 1},
			[]time.Duration{50 * ms, 50 * ms, 50 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := tt.p.Delay(i + 1); got != want {
					t.Errorf("Delay(%d) = %v, want %v", i+1, got, want)
				}
			}
			for _, n := range []int{0, -5} {
				if got := tt.p.Delay(n); got != tt.want[0] {
					t.Errorf("Delay(%d) = %v, want the first wait %v", n, got, tt.want[0])
				}
			}
			for _, n := range []int{64, 1 << 20, math.MaxInt} {
				if got := tt.p.Delay(n); got < 0 || got > tt.p.Max {
					t.Errorf("Delay(%d) = %v, out of [0, %v]", n, got, tt.p.Max)
				}
			}
		})
	}
}

// TestDelayJitter: each wait is a draw in [(1-Jitter)·d, d], where d is
// the wait without jitter, and the draws do spread over that range.
func TestDelayJitter(t *testing.T) {
	base := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for _, jitter := range []float64{0.2, 0.5, 1} {
		p := Policy{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: jitter}
		for i, w := range base {
			w *= time.Millisecond
			lo := time.Duration(float64(w) * (1 - jitter))
			minSeen, maxSeen := w, time.Duration(0)
			for range 500 {
				d := p.Delay(i + 1)
				if d < lo || d > w {
					t.Fatalf("jitter %v: Delay(%d) = %v, want within [%v, %v]", jitter, i+1, d, lo, w)
				}
				minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
			}
			// 500 uniform draws: each of the outer quarters of the range
			// is hit with probability 1 - 0.75^500.
			quarter := (w - lo) / 4
			if minSeen > lo+quarter || maxSeen < w-quarter {
				t.Errorf("jitter %v: Delay(%d) drew only [%v, %v] of [%v, %v]", jitter, i+1, minSeen, maxSeen, lo, w)
			}
		}
	}
}

func TestDelayAllocs(t *testing.T) {
	p := Default()
	if n := testing.AllocsPerRun(100, func() { _ = p.Delay(3) }); n != 0 {
		t.Errorf("Delay allocates %v times", n)
	}
}

func BenchmarkDelay(b *testing.B) {
	b.ReportAllocs()
	p := Default()
	i := 0
	for b.Loop() {
		_ = p.Delay(i%8 + 1)
		i++
	}
}
