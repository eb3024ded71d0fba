package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/aggregates/cost"
	"github.com/spendstream/spendstream/consumers"
	"github.com/spendstream/spendstream/consumers/ingest"
	"github.com/spendstream/spendstream/consumers/streams"
)

// Config is the whole configuration of one spendstream process. Every flag has an environment twin
// SPENDSTREAM_<FLAG_NAME> (upper case, '-' → '_'), used when the flag is not given.
type Config struct {
	HTTPAddr    string
	MetricsAddr string
	LogLevel    string
	LogFormat   string
	CPUProfile  string

	NATSURL string // empty: embedded server
	NATSDir string

	ClickHouse clickhouse.Config
	Streams    streams.Config
	Consumers  consumers.Config
	Ingest     ingest.Config
	Capture    ingest.CaptureConfig
	Auth       AuthConfig

	PriceList         string
	PriceListWatch    time.Duration
	Recommend         cost.RecommendConfig
	RecommendFile     string
	CostCacheTTL      time.Duration
	CostCacheStale    time.Duration
	CostRefreshFactor float64
	CostPrewarm       bool
	CostDayCacheRows  int
	CostDayPrefill    time.Duration

	PostHogProjects    string // key=tenant,... (parsed into Capture.Projects)
	PostHogForwardURL  string
	PostHogForwardKey  string
	PostHogPlanProps   string
	PostHogTierProps   string
	PostHogGroupTypes  string
	PostHogPersonProps bool

	DelayedAfter time.Duration

	Demo          bool
	DemoSeed      int64
	DemoTenants   int
	DemoBackfill  time.Duration
	DemoFaultRate float64
}

// register binds the flags of cfg to fs; groups select which flags a subcommand has.
func (c *Config) register(fs *flag.FlagSet, groups ...string) {
	has := map[string]bool{}
	for _, g := range groups {
		has[g] = true
	}
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.CPUProfile, "cpu-profile", "", "write a Go CPU profile to this file (benchmarks)")
	c.Auth.register(fs, has)
	if has["http"] {
		fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP listen address (API, ingest, health, metrics); empty: none")
		fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "separate listen address for /metrics (default: served on --http-addr)")
	}
	if has["nats"] {
		fs.StringVar(&c.NATSURL, "nats-url", "", "NATS server URL; empty starts an embedded JetStream server")
		fs.StringVar(&c.NATSDir, "nats-dir", ".local/nats", "data dir of the embedded NATS server")
		fs.IntVar(&c.Streams.Partitions, "partitions", c.Streams.Partitions, "partitions per lane (hash of tenant id); >1 needs nats-server 2.10+")
		fs.IntVar(&c.Streams.Replicas, "stream-replicas", c.Streams.Replicas, "JetStream stream replicas (NATS cluster)")
		fs.DurationVar(&c.Streams.DuplicateWindow, "duplicate-window", c.Streams.DuplicateWindow, "JetStream de-duplication window for event ids")
		fs.DurationVar(&c.Streams.LiveMaxAge, "stream-max-age", c.Streams.LiveMaxAge, "retention of the live and backfill streams")
	}
	if has["clickhouse"] {
		fs.StringVar(&c.ClickHouse.Addr, "clickhouse-addr", c.ClickHouse.Addr, "ClickHouse native protocol address")
		fs.StringVar(&c.ClickHouse.Database, "clickhouse-database", c.ClickHouse.Database, "ClickHouse database")
		fs.StringVar(&c.ClickHouse.Username, "clickhouse-user", c.ClickHouse.Username, "ClickHouse user")
		fs.StringVar(&c.ClickHouse.Password, "clickhouse-password", c.ClickHouse.Password, "ClickHouse password")
		fs.StringVar(&c.ClickHouse.Compression, "clickhouse-compression", c.ClickHouse.Compression, "ClickHouse block compression: auto (none to a loopback address, lz4 otherwise), lz4 or none")
	}
	if has["consume"] {
		fs.IntVar(&c.Consumers.InstanceIndex, "instance-index", 0, "this consumer instance's index (owns partitions p % count == index)")
		fs.IntVar(&c.Consumers.InstanceCount, "instance-count", 1, "number of consumer instances sharing the partitions")
		fs.DurationVar(&c.Consumers.FlushInterval, "flush-interval", c.Consumers.FlushInterval, "batch flush interval")
		fs.IntVar(&c.Consumers.MaxBatchEvents, "max-batch-events", c.Consumers.MaxBatchEvents, "flush early once a batch holds this many events")
		fs.DurationVar(&c.Consumers.Rules.BackfillMaxAge, "backfill-max-age", c.Consumers.Rules.BackfillMaxAge, "oldest event time the backfill lane accepts")
	}
	if has["consume"] || has["api"] {
		fs.DurationVar(&c.Consumers.Rules.AllowedLateness, "allowed-lateness", c.Consumers.Rules.AllowedLateness,
			"how long after its window closes a late event still counts (an api process: at least the consumers' value; it treats a day as final that much after its end)")
	}
	if has["consume"] || has["ingest"] {
		fs.DurationVar(&c.Ingest.Limits.MaxFuture, "max-future", c.Ingest.Limits.MaxFuture, "how far ahead of now an event time may be (clock skew)")
	}
	if has["ingest"] {
		fs.IntVar(&c.Ingest.MaxEvents, "ingest-max-events", c.Ingest.MaxEvents, "events per POST /v1/events request")
		fs.Int64Var(&c.Ingest.MaxBodyBytes, "ingest-max-body", c.Ingest.MaxBodyBytes, "bytes per POST /v1/events body")
		fs.Int64Var(&c.Ingest.MaxInflightEvents, "ingest-max-inflight", c.Ingest.MaxInflightEvents, "events being published at once before 429")
	}
	if has["ingest"] {
		fs.StringVar(&c.PostHogProjects, "posthog-projects", c.PostHogProjects,
			"PostHog project API keys and their tenants, key=tenant,... (the capture endpoints refuse other keys)")
		fs.Int64Var(&c.Capture.Limits.MaxBodyBytes, "posthog-max-body", c.Capture.Limits.MaxBodyBytes, "bytes per PostHog capture body (as sent and decoded)")
		fs.IntVar(&c.Capture.Limits.MaxEvents, "posthog-max-events", c.Capture.Limits.MaxEvents, "events per PostHog capture request")
		fs.StringVar(&c.PostHogForwardURL, "posthog-forward-url", "", "also forward accepted PostHog events to this upstream PostHog (e.g. https://eu.i.posthog.com)")
		fs.StringVar(&c.PostHogForwardKey, "posthog-forward-key", "", "project API key of the upstream PostHog")
	}
	if has["consume"] {
		fs.StringVar(&c.PostHogPlanProps, "posthog-plan-properties", "plan", "group/person properties that carry a tenant's plan, in order of preference")
		fs.StringVar(&c.PostHogTierProps, "posthog-tier-properties", "tier", "group/person properties that carry a tenant's tier, in order of preference")
		fs.StringVar(&c.PostHogGroupTypes, "posthog-group-types", "", "group types whose $groupidentify sets the tenant segment (empty: any)")
		fs.BoolVar(&c.PostHogPersonProps, "posthog-person-properties", true, "let person properties ($set) set the tenant segment too")
	}
	if has["api"] {
		fs.StringVar(&c.PriceList, "price-list", c.PriceList, "price list YAML for the cost endpoints (reloaded on SIGHUP; a bad file is refused and the old one kept)")
		fs.DurationVar(&c.PriceListWatch, "price-list-watch", 30*time.Second, "also reload the price list when its file changes, checked this often (0: SIGHUP only)")
		d := cost.DefaultRecommendConfig()
		fs.IntVar(&c.Recommend.LookbackDays, "recommend-lookback-days", d.LookbackDays, "days of usage recommendations are judged over")
		fs.Float64Var(&c.Recommend.CPUP95Max, "recommend-cpu-p95-max", d.CPUP95Max, "underutilized VPS: highest daily p95 CPU below this fraction")
		fs.Float64Var(&c.Recommend.MemP95Max, "recommend-mem-p95-max", d.MemP95Max, "underutilized VPS: highest daily p95 memory below this fraction")
		fs.Float64Var(&c.Recommend.IPMinDailySent, "recommend-ip-min-daily-sent", d.IPMinDailySent, "quiet sending IP: fewer messages per day than this")
		fs.StringVar(&c.RecommendFile, "recommend-config", "", "JSON file of recommendation thresholds (the json fields of cost.RecommendConfig); its values override the flags")
		fs.DurationVar(&c.CostCacheTTL, "cost-cache-ttl", 30*time.Second, "reuse a computed cost model this long (responses say which data it includes; negative: never)")
		fs.DurationVar(&c.CostCacheStale, "cost-cache-stale", 10*time.Minute,
			"after --cost-cache-ttl, still answer from a cached model this long (stamped with the data it includes) while one background refresh recomputes it (negative: never)")
		fs.Float64Var(&c.CostRefreshFactor, "cost-cache-refresh-factor", 10,
			"keep a cost model fresh for at least this many times the time it took to compute (a long window of a large fleet is not recomputed over and over; negative: the TTL alone)")
		fs.IntVar(&c.CostDayCacheRows, "cost-day-cache-rows", api.DefaultCostDayCacheRows,
			"keep the daily usage rows of days that can no longer change, up to this many, so cost models read only new and open days from ClickHouse (0: off)")
		fs.DurationVar(&c.CostDayPrefill, "cost-day-cache-prefill", 365*24*time.Hour,
			"with --cost-cache-prewarm, read the daily usage of this span before today into the day cache once the default windows are computed (0: none)")
		fs.BoolVar(&c.CostPrewarm, "cost-cache-prewarm", true, "compute the cost models of the default windows (last 30 days, recommendation lookback) at start and keep them fresh in the background")
		fs.DurationVar(&c.DelayedAfter, "delayed-after", 2*time.Minute, "freshness: a pipeline whose watermark lags more than this is delayed")
	}
	if has["demo"] {
		fs.BoolVar(&c.Demo, "demo", false, "run the demo generator in-process (backfill history, then live events)")
		fs.Int64Var(&c.DemoSeed, "demo-seed", 42, "demo generator seed")
		fs.IntVar(&c.DemoTenants, "demo-tenants", 16, "demo tenants (16: every recommendation kind has a case in the demo)")
		fs.DurationVar(&c.DemoBackfill, "demo-backfill", 30*24*time.Hour, "demo history published through the backfill lane at start (sampled every 10 min)")
		fs.Float64Var(&c.DemoFaultRate, "demo-fault-rate", 0.002, "share of demo events that are duplicates, late or malformed")
	}
}

func defaultConfig() Config {
	return Config{
		HTTPAddr:   "127.0.0.1:8080",
		ClickHouse: clickhouse.DefaultConfig(),
		Streams:    streams.DefaultConfig(),
		Consumers:  consumers.DefaultConfig(),
		Ingest:     ingest.DefaultConfig(),
		Capture:    ingest.DefaultCaptureConfig(),
	}
}

// DemoProjectKey is the PostHog project key of the local default config (tenant "demo"); with
// --demo, phc_spendstream_demo_<tenant> keys are added for the demo fleet's tenants. They are for
// local use only.
const DemoProjectKey = "phc_spendstream_demo"

// splitList splits a comma list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parse parses args, then fills every flag not given from its SPENDSTREAM_* twin.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		key := EnvName(f.Name)
		if v := getenv(key); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// EnvName is the environment twin of a flag.
func EnvName(flagName string) string {
	return "SPENDSTREAM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// finish copies shared settings into sub-configs and validates.
func (c *Config) finish() error {
	c.Streams.BackfillMaxAge = c.Streams.LiveMaxAge
	c.Consumers.Streams = c.Streams
	c.Consumers.Rules.Limits.MaxFuture = c.Ingest.Limits.MaxFuture
	if c.DelayedAfter == 0 {
		c.DelayedAfter = 2 * time.Minute
	}
	var errs []error
	projects, err := ingest.ParseProjects(c.PostHogProjects)
	if err != nil {
		errs = append(errs, err)
	}
	c.Capture.Projects = projects
	c.Capture.Limits.MaxFuture = c.Ingest.Limits.MaxFuture
	c.Capture.PublishTimeout = c.Ingest.PublishTimeout
	if (c.PostHogForwardURL == "") != (c.PostHogForwardKey == "") {
		errs = append(errs, errors.New("posthog-forward-url and posthog-forward-key go together"))
	}
	if c.RecommendFile != "" {
		if err := c.loadRecommendFile(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Recommend.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("recommendation thresholds: %w", err))
	}
	seg := &c.Consumers.Rules.Segments
	if c.PostHogPlanProps != "" || c.PostHogTierProps != "" {
		seg.PlanProperties, seg.TierProperties = splitList(c.PostHogPlanProps), splitList(c.PostHogTierProps)
		seg.GroupTypes, seg.PersonProperties = splitList(c.PostHogGroupTypes), c.PostHogPersonProps
	}
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Consumers.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Ingest.Limits.MaxFuture <= 0 {
		errs = append(errs, errors.New("max-future must be positive"))
	}
	return errors.Join(errs...)
}

// loadRecommendFile reads thresholds from a JSON file (unknown fields refused) over the flags'
// values: a field the file omits keeps its flag value.
func (c *Config) loadRecommendFile() error {
	b, err := os.ReadFile(c.RecommendFile)
	if err != nil {
		return fmt.Errorf("recommend-config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Recommend); err != nil {
		return fmt.Errorf("recommend-config %s: %w", c.RecommendFile, err)
	}
	return nil
}
