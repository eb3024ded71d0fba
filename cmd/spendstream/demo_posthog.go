package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	phgo "github.com/posthog/posthog-go"

	"github.com/spendstream/spendstream/schemas/generate"
)

// demoProjects are the PostHog project keys of the demo fleet's tenants:
// phc_spendstream_demo_<tenant> → tenant (local use only).
func demoProjects(cfg Config) map[string]string {
	out := map[string]string{}
	for _, t := range demoFleet(cfg).Tenants {
		out[DemoProjectKey+"_"+t.ID] = t.ID
	}
	return out
}

func demoFleet(cfg Config) generate.Fleet {
	return generate.New(demoGenOptions(cfg.DemoSeed, cfg.DemoTenants, 0, cfg.DemoFaultRate)).Fleet()
}

// demoTier is the support tier that goes with a demo tenant's plan.
func demoTier(plan string) string {
	switch plan {
	case generate.PlanEnterprise:
		return "tier-1"
	case generate.PlanPro:
		return "tier-2"
	}
	return "tier-3"
}

// demoEvents are the product events the demo tenants' users send.
var demoEvents = []string{"$pageview", "report_generated", "campaign_sent", "invoice_viewed"}

// runDemoPostHog plays each demo tenant's product analytics through spendstream's own capture
// endpoint with the real posthog-go client, as a customer's service would: a $groupidentify that
// sets the tenant's plan and tier (effective from the start of the demo history), then a trickle
// of captures from a few users each.
func runDemoPostHog(ctx context.Context, cfg Config, log *slog.Logger) {
	endpoint := "http://" + cfg.HTTPAddr
	fleet := demoFleet(cfg)
	clients := make([]phgo.Client, 0, len(fleet.Tenants))
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	since := time.Now().Add(-cfg.DemoBackfill).UTC()
	for _, t := range fleet.Tenants {
		c, err := phgo.NewWithConfig(DemoProjectKey+"_"+t.ID, phgo.Config{Endpoint: endpoint,
			Interval: 2 * time.Second, BatchSize: 100, Logger: quietPostHogLogger{log}})
		if err != nil {
			log.Error("demo posthog client", "err", err)
			return
		}
		clients = append(clients, c)
		err = c.Enqueue(phgo.GroupIdentify{Type: "company", Key: t.ID, Timestamp: since,
			Properties: phgo.NewProperties().Set("plan", t.Plan).Set("tier", demoTier(t.Plan)).Set("name", "Demo "+t.ID)})
		if err != nil {
			log.Warn("demo posthog group identify", "tenant", t.ID, "err", err)
		}
	}
	r := rand.New(rand.NewPCG(uint64(cfg.DemoSeed), 7))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, t := range fleet.Tenants {
			for range 1 + r.IntN(3) {
				user := fmt.Sprintf("%s-user-%d", t.ID, r.IntN(20))
				_ = clients[i].Enqueue(phgo.Capture{DistinctId: user, Event: demoEvents[r.IntN(len(demoEvents))],
					Groups: phgo.NewGroups().Set("company", t.ID)})
			}
		}
	}
}

// quietPostHogLogger routes posthog-go's log lines to slog at debug level (errors at warn).
type quietPostHogLogger struct{ log *slog.Logger }

func (l quietPostHogLogger) Logf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "posthog-go")
}

func (l quietPostHogLogger) Errorf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "component", "posthog-go")
}
