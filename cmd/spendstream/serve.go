package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/spendstream/spendstream/aggregates/api"
	"github.com/spendstream/spendstream/aggregates/auth"
	"github.com/spendstream/spendstream/aggregates/clickhouse"
	"github.com/spendstream/spendstream/aggregates/initiatives"
	"github.com/spendstream/spendstream/aggregates/web"
	"github.com/spendstream/spendstream/consumers"
	"github.com/spendstream/spendstream/consumers/ingest"
	"github.com/spendstream/spendstream/consumers/posthogfwd"
	"github.com/spendstream/spendstream/consumers/streams"
)

type roles struct {
	ingest, consume, api, embedded bool
}

func (r roles) groups() []string {
	g := []string{"nats", "http"}
	if r.ingest {
		g = append(g, "ingest")
	}
	if r.consume {
		g = append(g, "consume")
	}
	if r.consume || r.api {
		g = append(g, "clickhouse", "api")
	}
	if r.embedded {
		g = append(g, "demo")
	}
	return g
}

func newLogger(cfg Config) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
}

// cmdServe runs the selected roles in one process until ctx ends, then shuts down in order: HTTP,
// consumers (final flush), demo, ClickHouse, NATS.
func cmdServe(ctx context.Context, args []string, getenv func(string) string, r roles) error {
	cfg := defaultConfig()
	if !r.ingest && !r.api {
		cfg.HTTPAddr = "" // a consumer serves /metrics and health only when asked to
	}
	if r.embedded {
		cfg.PostHogProjects = DemoProjectKey + "=demo" // the local default config
		cfg.Auth.LocalDemo = true
		if _, err := os.Stat(DefaultPriceList); err == nil {
			cfg.PriceList = DefaultPriceList
		}
	}
	name := "spendstream"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg.register(fs, r.groups()...)
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	if err := cfg.finish(); err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if !r.embedded && cfg.NATSURL == "" {
		cfg.NATSURL = "nats://127.0.0.1:4222"
	}
	hasDemoProjects := false
	for k := range cfg.Capture.Projects {
		hasDemoProjects = hasDemoProjects || auth.IsDemoProjectKey(k)
	}
	if err := cfg.Auth.refuseDemoOnPublic(cfg.HTTPAddr); err != nil {
		return err
	}
	if hasDemoProjects {
		if err := auth.RefuseDemoOnPublic(cfg.HTTPAddr, false, true); err != nil {
			return fmt.Errorf("PostHog demo project keys: %w", err)
		}
	}
	limiter, err := cfg.Auth.limiter()
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// NATS: embedded default or an existing server.
	natsURL := cfg.NATSURL
	if natsURL == "" {
		emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Dir: cfg.NATSDir, Port: 14222})
		if err != nil {
			return err
		}
		defer emb.Shutdown()
		natsURL = emb.URL()
		abs, _ := filepath.Abs(cfg.NATSDir)
		log.Info("embedded NATS JetStream started", "url", natsURL, "dir", abs)
	}
	connect := func(connName string) (*nats.Conn, error) {
		return nats.Connect(natsURL, nats.Name(connName), nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond))
	}
	nc, err := connect("spendstream")
	if err != nil {
		return fmt.Errorf("connect nats %s: %w", natsURL, err)
	}
	defer func() { _ = nc.Drain() }()
	js, err := streams.NewJetStream(nc, cfg.Ingest.PublishTimeout)
	if err != nil {
		return err
	}
	if err := streams.Provision(ctx, js, cfg.Streams); err != nil {
		return err
	}

	var store *clickhouse.Store
	if r.consume || r.api {
		store, err = clickhouse.Open(cfg.ClickHouse, log)
		if err != nil {
			return err
		}
		defer store.Close()
		if err := migrateWithRetry(ctx, store, log); err != nil {
			return err
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	if r.consume {
		// The consumers' live heap is small (batches are bounded); trading heap for fewer GC
		// cycles saves CPU per event. GOGC in the environment still wins.
		if getenv("GOGC") == "" {
			debug.SetGCPercent(400)
		}
		if getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(1 << 30) // the GC works harder rather than pass 1 GiB
		}
		m := consumers.NewMetrics(reg)
		cons, err := consumers.New(cfg.Consumers, connect, store, m, log)
		if err != nil {
			return err
		}
		g.Go(func() error { return cons.Run(gctx) })
	}

	mux := http.NewServeMux()
	if r.ingest {
		pub := streams.NewPublisher(js)
		keys, err := cfg.Auth.producerKeys()
		if err != nil {
			return err
		}
		if keys.Len() == 0 {
			log.Warn("no producer keys configured (--producer-keys-file): POST /v1/events refuses every request")
		}
		cfg.Ingest.Authorize, cfg.Ingest.Limiter = keys.Authorize, limiter
		mux.Handle("POST /v1/events", ingest.New(cfg.Ingest, pub, reg, log))
		if r.embedded && cfg.Demo {
			for k, t := range demoProjects(cfg) {
				cfg.Capture.Projects[k] = t
			}
		}
		if len(cfg.Capture.Projects) == 0 {
			log.Warn("no PostHog project keys configured (--posthog-projects): the capture endpoints refuse every request")
		}
		f, err := newForwarder(cfg, reg, log)
		if err != nil {
			return err
		}
		var fwd ingest.Forwarder // stays a nil interface without a forwarder
		if f != nil {
			fwd = f
			defer closeForwarder(f, log)
		}
		ingest.NewCapture(cfg.Capture, pub, fwd, reg, log).Register(mux)
	}
	ready := map[string]func(context.Context) error{
		"nats": func(context.Context) error {
			if !nc.IsConnected() {
				return errors.New("nats not connected")
			}
			return nil
		},
	}
	if store != nil {
		ready["clickhouse"] = store.Ready
	}
	apiCfg := api.Config{Partitions: cfg.Streams.Partitions, DelayedAfter: cfg.DelayedAfter, Ready: ready,
		Lag: consumerLag(js, cfg), Limiter: limiter}
	var reader api.Reader
	if r.api {
		reader = store
		v, m, err := cfg.Auth.verifier(ctx)
		if err != nil {
			return err
		}
		apiCfg.Authenticate, apiCfg.Matrix = v.Authenticate, m
		prices, err := loadPrices(cfg.PriceList, log)
		if err != nil {
			return err
		}
		apiCfg.Prices, apiCfg.Recommend, apiCfg.CostCacheTTL = prices.Current, cfg.Recommend, cfg.CostCacheTTL
		apiCfg.CostCacheStale, apiCfg.CostPrewarm, apiCfg.Background = cfg.CostCacheStale, cfg.CostPrewarm, gctx
		apiCfg.CostCacheRefreshFactor, apiCfg.LowPriority = cfg.CostRefreshFactor, clickhouse.LowPriority
		apiCfg.CostDayCacheRows, apiCfg.AllowedLateness = cfg.CostDayCacheRows, cfg.Consumers.Rules.AllowedLateness
		apiCfg.CostDayCachePrefill = cfg.CostDayPrefill
		if cfg.CostDayCacheRows == 0 {
			apiCfg.CostDayCacheRows = -1 // off
		}
		g.Go(func() error { watchPrices(gctx, prices, cfg.PriceList, cfg.PriceListWatch, log); return nil })
		inits, err := initiatives.OpenStore(ctx, js, cfg.Streams.Replicas)
		if err != nil {
			return fmt.Errorf("initiatives: %w", err)
		}
		apiCfg.Initiatives = inits
		apiCfg.Web = web.New(webConfig(cfg))
	}
	mux.Handle("/", api.New(apiCfg, reader, log, reg))
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})

	var servers []*http.Server
	if cfg.MetricsAddr != "" {
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", metricsHandler)
		servers = append(servers, &http.Server{Addr: cfg.MetricsAddr, Handler: mm, ReadHeaderTimeout: 5 * time.Second})
	} else {
		mux.Handle("GET /metrics", metricsHandler)
	}
	if cfg.HTTPAddr != "" {
		servers = append(servers, &http.Server{Addr: cfg.HTTPAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second})
	}
	// The demo's PostHog clients send their last batch on shutdown: the HTTP servers wait for that
	// (a few seconds at most) before they stop accepting, so the demo loses nothing.
	demoPostHogDone := make(chan struct{})
	demoPostHog := r.embedded && cfg.Demo && cfg.HTTPAddr != ""
	if !demoPostHog {
		close(demoPostHogDone)
	}
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", srv.Addr, err)
		}
		log.Info("http listening", "addr", "http://"+ln.Addr().String())
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			select {
			case <-demoPostHogDone:
			case <-time.After(5 * time.Second):
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	if r.embedded && cfg.Demo {
		g.Go(func() error { return runDemo(gctx, cfg, js, log) })
		if demoPostHog {
			g.Go(func() error { defer close(demoPostHogDone); runDemoPostHog(gctx, cfg, log); return nil })
		}
	}
	if r.embedded {
		printBanner(cfg, natsURL)
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}

func printBanner(cfg Config, natsURL string) {
	base := "http://" + cfg.HTTPAddr
	fmt.Fprintf(os.Stderr, `
spendstream is running
  page       %[1]s/  (Cost Optimization; on this local config, sign in with a demo role)
  API        %[1]s/v1/rollups/vps-utilization  %[1]s/v1/rollups/email-volume  %[1]s/v1/freshness
             %[1]s/v1/rollups/events  %[1]s/v1/segments
  ingest     POST %[1]s/v1/events
  PostHog    point an SDK's host at %[1]s with project key %[5]s (tenant demo)
  metrics    %[1]s/metrics
  NATS       %[2]s   ClickHouse %[3]s/%[4]s
`, base, natsURL, cfg.ClickHouse.Addr, cfg.ClickHouse.Database, DemoProjectKey)
	if cfg.Auth.LocalDemo && cfg.Auth.Secret == "" {
		tenant := "demo"
		if cfg.Demo {
			tenant = demoFleet(cfg).Tenants[0].ID
		}
		fmt.Fprintf(os.Stderr, "Local demo credentials (loopback only): producer key %s; API tokens (Authorization: Bearer ...), 12 h:\n%s\n",
			auth.DemoProducerKey, strings.Join(demoTokens(cfg.Auth, tenant), "\n"))
		fmt.Fprintf(os.Stderr, "  e.g. curl -H \"Authorization: Bearer $(go run ./cmd/spendstream token --role cfo)\" %s/v1/freshness\n", base)
	}
	fmt.Fprint(os.Stderr, "Ctrl-C stops it.\n\n")
}

// webConfig configures the web page: the demo sign-in (a token for a chosen role, minted with the
// demo secret) on the local demo configuration only, token pasting otherwise.
func webConfig(cfg Config) web.Config {
	a := cfg.Auth
	if !a.LocalDemo || a.Secret != "" {
		return web.Config{}
	}
	tenants := []string{"demo"}
	if cfg.Demo {
		tenants = tenants[:0]
		for _, t := range demoFleet(cfg).Tenants {
			tenants = append(tenants, t.ID)
		}
	}
	var roles []string
	for _, r := range auth.Roles() {
		roles = append(roles, string(r))
	}
	return web.Config{DemoRoles: roles, DemoTenants: tenants, DemoToken: func(role, tenant string) (string, error) {
		r, err := auth.ParseRole(role)
		if err != nil {
			return "", err
		}
		return auth.MintHS256(a.secret(), a.Issuer, a.Audience, "demo-"+role, []auth.Role{r}, tenant, web.DemoTokenTTL, time.Now())
	}}
}

func migrateWithRetry(ctx context.Context, store *clickhouse.Store, log *slog.Logger) error {
	delay := 200 * time.Millisecond
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := store.Migrate(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("clickhouse schema: %w", err)
		}
		log.Warn("clickhouse not ready; retrying", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// consumerLag reads the JetStream pending counts of every lane's consumers.
func consumerLag(js jetstream.JetStream, cfg Config) func(context.Context) map[string]uint64 {
	return func(ctx context.Context) map[string]uint64 {
		out := map[string]uint64{}
		for _, lane := range cfg.Consumers.Lanes {
			infos, _ := streams.RollupConsumerInfos(ctx, js, cfg.Streams, lane) // what was read counts
			for _, info := range infos {
				out[string(lane)] += info.NumPending
			}
		}
		return out
	}
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg.register(fs, "clickhouse")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	store, err := clickhouse.Open(cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	fmt.Println("schema applied to", cfg.ClickHouse.Addr, "database", strings.TrimSpace(cfg.ClickHouse.Database))
	return nil
}

// startCPUProfile writes a Go CPU profile until the returned function is called (for benchmarks).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// newForwarder starts the upstream PostHog forwarder when --posthog-forward-url is set.
func newForwarder(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*posthogfwd.Forwarder, error) {
	if cfg.PostHogForwardURL == "" {
		return nil, nil
	}
	f, err := posthogfwd.New(posthogfwd.Config{Endpoint: cfg.PostHogForwardURL, APIKey: cfg.PostHogForwardKey}, reg, log)
	if err != nil {
		return nil, fmt.Errorf("posthog forwarder: %w", err)
	}
	log.Info("forwarding accepted PostHog events", "upstream", cfg.PostHogForwardURL)
	return f, nil
}

func closeForwarder(f *posthogfwd.Forwarder, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		log.Warn("posthog forwarder: events still queued at shutdown were dropped", "err", err)
	}
}
