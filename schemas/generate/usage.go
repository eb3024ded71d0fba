package generate

import (
	"math"
	"time"

	"github.com/spendstream/spendstream/schemas/events"
)

const (
	nsPerSecond = int64(time.Second)
	secPerDay   = 86400
)

// vpsModel holds a VPS and its per-resource parameters (fixed by seed and resource id).
type vpsModel struct {
	v        VPS
	key      uint64
	phase    int64 // ns offset within the sample interval (whole seconds)
	interval uint32
	tz       float64 // local-time offset for the daily cycle
	cpuBase  float64
	amp      float64 // daily-cycle amplitude (relative)
	noise    float64 // per-sample noise (absolute)
	lo, hi   float64 // clamp range of cpu for the profile
	memBase  float64
	memCorr  float64
	burstP   float64 // spiky: probability that a 10-minute block is a burst
}

func newVPSModel(seedKey uint64, v VPS, every time.Duration) vpsModel {
	key := hashString("vps/" + v.ID)
	r := newRNG(combine(seedKey, streamVPSParams, key))
	everySec := int64(every / time.Second)
	m := vpsModel{
		v:        v,
		key:      key,
		phase:    int64(r.intn(int(everySec))) * nsPerSecond,
		interval: uint32(everySec),
		tz:       regionUTCOffset[v.Region],
		memCorr:  r.between(0.2, 0.45),
	}
	switch v.Profile {
	case ProfileIdle:
		m.cpuBase, m.amp, m.noise, m.lo, m.hi = r.between(0.015, 0.035), 0.3, 0.004, 0.01, 0.06
		m.memBase = r.between(0.12, 0.35)
	case ProfileSteady:
		m.cpuBase, m.amp, m.noise, m.lo, m.hi = r.between(0.35, 0.44), 0.15, 0.02, 0.25, 0.6
		m.memBase = r.between(0.4, 0.6)
	case ProfileBusy:
		m.cpuBase, m.amp, m.noise, m.lo, m.hi = r.between(0.78, 0.86), 0.07, 0.03, 0.6, 0.99
		m.memBase = r.between(0.6, 0.82)
	case ProfileSpiky:
		m.cpuBase, m.amp, m.noise, m.lo, m.hi = r.between(0.05, 0.12), 0.3, 0.012, 0.02, 0.25
		m.memBase = r.between(0.25, 0.42)
		m.burstP = r.between(0.05, 0.12)
	}
	return m
}

// daily returns the daily-cycle term in [-1, 1] at Unix ns t for a local offset tz: peak at 14:00
// local, trough at 02:00.
func daily(t int64, tz, peakHour float64) float64 {
	sec := float64(((t/nsPerSecond)%secPerDay + secPerDay) % secPerDay)
	hour := sec/3600 + tz
	return math.Cos(2 * math.Pi * (hour - peakHour) / 24)
}

// weekend reports whether Unix ns t falls on a Saturday or Sunday (UTC).
func weekend(t int64) bool {
	days := floorDiv(t, secPerDay*nsPerSecond)
	wd := ((days+4)%7 + 7) % 7 // 1970-01-01 was a Thursday (4)
	return wd == 0 || wd == 6
}

// sample returns the usage sample of the VPS over [t-interval, t).
func (m *vpsModel) sample(seedKey uint64, t int64) *events.VPSSample {
	r := newRNG(combine(seedKey, streamVPSSample, m.key, uint64(t)))
	d := daily(t, m.tz, 14)
	level := m.cpuBase * (1 + m.amp*d)
	if weekend(t) && m.v.Profile != ProfileIdle {
		level *= 0.85
	}
	cpu := clamp(level+m.noise*r.norm(), m.lo, m.hi)
	if m.v.Profile == ProfileSpiky {
		// Bursts last a 10-minute block; whether a block bursts depends only on (seed, VPS, block).
		block := floorDiv(t, 600*nsPerSecond)
		br := newRNG(combine(seedKey, streamBurst, m.key, uint64(block)))
		if br.chance(m.burstP * (1 + 0.5*d)) {
			cpu = clamp(br.between(0.75, 0.97)+0.015*r.norm(), 0.7, 0.99)
		}
	}
	mem := clamp(m.memBase+m.memCorr*(cpu-m.cpuBase)+0.008*r.norm(), 0.03, 0.97)
	return &events.VPSSample{
		ResourceID:      m.v.ID,
		Provider:        m.v.Provider,
		Region:          m.v.Region,
		Plan:            m.v.Plan,
		VCPUs:           m.v.VCPUs,
		MemoryMB:        m.v.MemoryMB,
		CPUUtil:         round4(cpu),
		MemUtil:         round4(mem),
		IntervalSeconds: m.interval,
	}
}

// ipModel holds a sending IP and its per-resource parameters.
type ipModel struct {
	ip         IP
	key        uint64
	phase      int64
	interval   uint32
	perSlot    float64 // expected messages per interval before the daily cycle
	tz         float64
	peakHour   float64
	amp        float64
	weekendF   float64
	bounce     float64
	deferRate  float64
	pendRate   float64
	complaints float64
}

func newIPModel(seedKey uint64, ip IP, every time.Duration) ipModel {
	key := hashString("ip/" + ip.Addr)
	r := newRNG(combine(seedKey, streamIPParams, key))
	everySec := int64(every / time.Second)
	m := ipModel{
		ip:        ip,
		key:       key,
		phase:     int64(r.intn(int(everySec))) * nsPerSecond,
		interval:  uint32(everySec),
		perSlot:   float64(ip.DailyVolume) * float64(everySec) / secPerDay,
		tz:        regionUTCOffset[ip.Region],
		deferRate: r.between(0.004, 0.03),
		pendRate:  r.between(0.0005, 0.003),
	}
	bounce := 0.01
	for _, ep := range emailProviders {
		if ep.name == ip.Provider {
			bounce = ep.bounceRate
		}
	}
	if ip.Pool == PoolMarketing {
		// Campaigns: a strong peak at the campaign hour, quiet weekends, more bounces and complaints.
		m.peakHour, m.amp, m.weekendF = float64(8+r.intn(10)), 0.9, 0.5
		m.bounce = bounce * 1.5 * r.between(0.85, 1.15)
		m.complaints = 0.0015 * r.between(0.6, 1.6)
	} else {
		m.peakHour, m.amp, m.weekendF = 13, 0.6, 0.7
		m.bounce = bounce * r.between(0.85, 1.15)
		m.complaints = 0.0002 * r.between(0.5, 1.5)
	}
	return m
}

// volume returns the email counts of the IP over the interval ending at t. Always
// delivered+bounced+deferred ≤ sent and complained ≤ delivered (the rest is still in flight).
func (m *ipModel) volume(seedKey uint64, t int64) *events.EmailVolume {
	r := newRNG(combine(seedKey, streamEmail, m.key, uint64(t)))
	mean := m.perSlot * (1 + m.amp*daily(t, m.tz, m.peakHour))
	if weekend(t) {
		mean *= m.weekendF
	}
	mean *= math.Max(0, 1+0.1*r.norm())
	sent := r.poisson(mean)
	bounced := r.binomial(sent, clamp(m.bounce*(1+0.2*r.norm()), 0, 1))
	deferred := r.binomial(sent-bounced, m.deferRate)
	inFlight := r.binomial(sent-bounced-deferred, m.pendRate)
	delivered := sent - bounced - deferred - inFlight
	complained := r.binomial(delivered, m.complaints)
	return &events.EmailVolume{
		IP:              m.ip.Addr,
		Pool:            m.ip.Pool,
		Provider:        m.ip.Provider,
		Sent:            sent,
		Delivered:       delivered,
		Bounced:         bounced,
		Deferred:        deferred,
		Complained:      complained,
		IntervalSeconds: m.interval,
	}
}
