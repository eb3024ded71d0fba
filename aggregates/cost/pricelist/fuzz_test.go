package pricelist

import (
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, that every refusal is a *ValidationError with
// messages, and that an accepted list is consistent.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile(exampleFile); err == nil {
		f.Add(example)
	}
	f.Add(validDoc)
	f.Add(lookupDoc)
	f.Add(doc(`version: v1`, `currency: USD`))
	f.Add(doc(`version: v1`, `currency: USD`, `vps_plans:`, `  - {provider: a, plan: b, vcpus: 1, memory_mb: 1, monthly_price: -1}`))
	f.Add(doc(`version: &v v1`, `currency: *v`, `ip_prices: [{provider: x, monthly_price: 1.2345678}]`))
	f.Add(doc(`a: [`, `- b`))
	f.Add([]byte("---\n...\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) == 0 {
				t.Fatalf("error %v is not a ValidationError with problems", err)
			}
			for _, pr := range verr.Problems {
				if pr.Message == "" || pr.Line < 0 {
					t.Fatalf("bad problem %+v", pr)
				}
			}
			if p != nil {
				t.Fatal("list returned with an error")
			}
			return
		}
		checkConsistent(t, p)
	})
}

// checkConsistent checks the invariants of a parsed list.
func checkConsistent(t *testing.T, p *PriceList) {
	t.Helper()
	if p.Version == "" || !isCurrency(p.Currency) {
		t.Fatalf("version %q currency %q", p.Version, p.Currency)
	}
	for k, s := range p.vps {
		checkSeriesInvariants(t, s)
		for _, e := range s {
			if e.Provider != k.provider || e.Plan != k.plan || e.Provider == "" || e.Plan == "" ||
				e.VCPUs <= 0 || e.MemoryMB <= 0 || e.MonthlyPrice < 0 || e.MonthlyPrice > MaxPrice {
				t.Fatalf("bad entry %+v", e)
			}
			got, ok := p.VPSPlan(k.provider, k.plan, e.EffectiveFrom)
			if !ok || got != e {
				t.Fatalf("lookup at %v = %+v, %v; want %+v", e.EffectiveFrom, got, ok, e)
			}
		}
		checkPeriods(t, p.VPSPlanPeriods(k.provider, k.plan, time.Time{}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)), len(s))
	}
	for k, s := range p.ips {
		checkSeriesInvariants(t, s)
		for _, e := range s {
			if e.Provider != k || e.MonthlyPrice < 0 || e.MonthlyPrice > MaxPrice {
				t.Fatalf("bad entry %+v", e)
			}
		}
	}
	for k, s := range p.email {
		checkSeriesInvariants(t, s)
		for _, e := range s {
			if e.Provider != k || e.PerThousand < 0 || e.MonthlyBaseFee < 0 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	}
	for k, s := range p.commitments {
		checkSeriesInvariants(t, s)
		for _, e := range s {
			if e.Provider != k.provider || e.ResourceKind != k.kind || e.TermMonths != k.term ||
				e.TermMonths <= 0 || e.Discount < 0 || e.Discount >= FractionOne {
				t.Fatalf("bad entry %+v", e)
			}
		}
	}
}

func checkSeriesInvariants[T dated](t *testing.T, s []T) {
	t.Helper()
	if len(s) == 0 {
		t.Fatal("empty series")
	}
	for i, e := range s {
		if e.line() <= 0 || e.effective().Location() != time.UTC && !e.effective().IsZero() {
			t.Fatalf("entry %+v: bad line or zone", e)
		}
		if i > 0 && !s[i-1].effective().Before(e.effective()) {
			t.Fatalf("series not strictly increasing at %d: %+v", i, s)
		}
	}
}

// checkPeriods checks that periods tile their window without gaps.
func checkPeriods[T any](t *testing.T, ps []Period[T], entries int) {
	t.Helper()
	if len(ps) == 0 || len(ps) > entries+1 {
		t.Fatalf("%d periods for %d entries", len(ps), entries)
	}
	for i := 1; i < len(ps); i++ {
		if !ps[i-1].To.Equal(ps[i].From) || !ps[i].OK {
			t.Fatalf("periods do not tile: %+v", ps)
		}
	}
}
