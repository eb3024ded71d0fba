package generate

import (
	"math"
)

// The generator never uses a global or clock-seeded source: every random draw comes from a
// splitmix64 stream whose state is derived from (seed, what, when). That makes values a pure
// function of their coordinates, independent of how Window calls are split.

const (
	golden = 0x9e3779b97f4a7c15
)

// mix64 is the splitmix64 finaliser: a strong 64-bit bijective mixer.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// hashString is FNV-1a 64 over s, mixed.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// combine derives a new key from a key and further coordinates.
func combine(key uint64, parts ...uint64) uint64 {
	for _, p := range parts {
		key = mix64(key ^ (p + golden + (key << 6) + (key >> 2)))
	}
	return key
}

// rng is a tiny allocation-free splitmix64 stream.
type rng struct{ s uint64 }

func newRNG(key uint64) rng { return rng{s: key} }

func (r *rng) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// between returns a uniform float64 in [lo, hi).
func (r *rng) between(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// intn returns a uniform int in [0, n); n must be > 0.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return p > 0 && r.float() < p }

// norm returns a standard normal deviate (Box–Muller).
func (r *rng) norm() float64 {
	u1 := r.float()
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// poisson draws a Poisson deviate with mean lambda (normal approximation for large means).
func (r *rng) poisson(lambda float64) uint64 {
	switch {
	case lambda <= 0:
		return 0
	case lambda < 30:
		l := math.Exp(-lambda)
		k, p := uint64(0), 1.0
		for {
			p *= r.float()
			if p <= l {
				return k
			}
			k++
		}
	default:
		v := math.Round(lambda + math.Sqrt(lambda)*r.norm())
		if v < 0 {
			return 0
		}
		return uint64(v)
	}
}

// binomial draws a Binomial(n, p) deviate (exact for small n, normal approximation otherwise),
// always within [0, n].
func (r *rng) binomial(n uint64, p float64) uint64 {
	if n == 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if n < 64 {
		var k uint64
		for i := uint64(0); i < n; i++ {
			if r.float() < p {
				k++
			}
		}
		return k
	}
	mean := float64(n) * p
	if mean < 20 {
		// Rare events in a large population: Poisson is the better approximation.
		return min(r.poisson(mean), n)
	}
	v := math.Round(mean + math.Sqrt(mean*(1-p))*r.norm())
	if v < 0 {
		return 0
	}
	return min(uint64(v), n)
}

// round4 rounds to 4 decimals and clamps to [0, 1].
func round4(x float64) float64 {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return math.Round(x*1e4) / 1e4
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
