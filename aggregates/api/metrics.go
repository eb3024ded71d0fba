package api

import (
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the API's metrics: requests labelled by route (the ServeMux pattern that served
// the request, for example "GET /v1/freshness", or "/" for unknown paths, never the raw path), and
// the cost models' day cache.
type httpMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	costDays    *prometheus.CounterVec
	costDayRows prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spendstream_http_requests_total",
			Help: "HTTP requests of the query API by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "spendstream_http_request_duration_seconds",
			Help:    "Time to serve a query API request, by route pattern.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		costDays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spendstream_cost_days_total",
			Help: "Days of daily usage handed to cost models (and the day-cache prefill), by where they came from: cache or clickhouse.",
		}, []string{"source"}),
		costDayRows: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spendstream_cost_day_cache_rows",
			Help: "Daily usage rows of final days held by the cost models' day cache.",
		}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests)
		m.duration = register(reg, m.duration)
		m.costDays = register(reg, m.costDays)
		m.costDayRows = register(reg, m.costDayRows)
	}
	return m
}

// register registers c, or returns the identical collector registered before (a second API handler
// on the same registry shares the series).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts and times h under route, and turns a panic into a logged 500 with a JSON body
// (never a stack trace in the response).
func (s *server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value, compared as net/http does
					panic(v)
				}
				s.log.Error("handler panicked", "route", route, "panic", v, "stack", string(debug.Stack()))
				if !rec.wrote {
					s.fail(rec, r, errInternal)
				}
			}
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
			s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		h(rec, r)
	})
}
