package consumers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the consumers. Lag is exported as JetStream pending counts and as the watermark
// timestamp; its age is time() - spendstream_watermark_timestamp_seconds in PromQL.
type Metrics struct {
	processed     *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	redelivered   *prometheus.CounterVec
	pending       *prometheus.GaugeVec
	buffered      *prometheus.GaugeVec
	watermark     *prometheus.GaugeVec
	flushDuration *prometheus.HistogramVec
	flushedRows   *prometheus.HistogramVec
	flushedEvents *prometheus.CounterVec
	insertErrors  *prometheus.CounterVec
	rewinds       *prometheus.CounterVec
}

// NewMetrics registers the consumer metrics on reg (nil: a private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_events_processed_total",
			Help: "Events rolled up by the consumers, by lane and event type."}, []string{"lane", "type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_events_rejected_total",
			Help: "Events sent to the dead-letter stream by the consumers, by lane and reason."}, []string{"lane", "reason"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_events_redelivered_total",
			Help: "JetStream redeliveries of already handled messages, ignored."}, []string{"lane"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spendstream_consumer_pending_messages",
			Help: "JetStream messages not yet delivered to the consumer (consumer lag)."}, []string{"lane", "partition"}),
		buffered: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spendstream_consumer_buffered_events",
			Help: "Events folded into the current batch and not yet flushed."}, []string{"lane"}),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "spendstream_watermark_timestamp_seconds",
			Help: "Committed ingest-time watermark (aggregated as of) per lane partition, Unix seconds."}, []string{"lane", "partition"}),
		flushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spendstream_batch_flush_duration_seconds",
			Help: "Latency of a committed batch insert into ClickHouse.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"lane"}),
		flushedRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spendstream_batch_rows",
			Help: "Roll-up rows per committed batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}, []string{"lane"}),
		flushedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_events_flushed_total",
			Help: "Events whose effect was committed to ClickHouse."}, []string{"lane"}),
		insertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_clickhouse_insert_errors_total",
			Help: "Failed ClickHouse batch inserts (each is retried)."}, []string{"lane"}),
		rewinds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spendstream_consumer_rewinds_total",
			Help: "Consumer restarts from the committed position after a lost delivery or a failure."}, []string{"lane"}),
	}
	reg.MustRegister(m.processed, m.rejected, m.redelivered, m.pending, m.buffered, m.watermark,
		m.flushDuration, m.flushedRows, m.flushedEvents, m.insertErrors, m.rewinds)
	return m
}

func itoa(i int) string { return strconv.Itoa(i) }
