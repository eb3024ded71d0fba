-- spendstream roll-ups. Portable subset: runs on ClickHouse 18.16 (Debian) and current servers.
-- {db} is replaced by the configured database name.
--
-- One flush of a consumer is ONE insert block into the Null-engine table rollup_in. The block holds
-- the batch's partial aggregates (kind vps / email / inventory) and one progress row per JetStream
-- partition (kind progress: the stream sequence and the ingest-time watermark up to which the batch is
-- complete). Materialized views fan the block out to the roll-up tables, so the position is committed
-- by the same insert as the data it covers (design property 2), and rollup_in itself stores nothing.

CREATE TABLE IF NOT EXISTS {db}.rollup_in (
    kind              String,
    window_start      DateTime('UTC'),
    tenant_id         String,
    resource_id       String,
    provider          String,
    region            String,
    plan              String,
    ip                String,
    pool              String,
    samples           UInt64,
    vcpus             UInt32,
    memory_mb         UInt32,
    interval_seconds  UInt64,
    cpu_sum           UInt64,
    cpu_max           UInt32,
    mem_sum           UInt64,
    mem_max           UInt32,
    cpu_core_seconds  UInt64,
    cpu_hist          Array(UInt64),
    mem_hist          Array(UInt64),
    sent              UInt64,
    delivered         UInt64,
    bounced           UInt64,
    deferred          UInt64,
    complained        UInt64,
    reports           UInt64,
    event_id          String,
    event_time        DateTime('UTC'),
    resource_kind     String,
    action            String,
    shared            UInt8,
    lane              String,
    partition         UInt16,
    stream_seq        UInt64,
    as_of             DateTime('UTC'),
    events            UInt64,
    flushed_at        DateTime('UTC')
) ENGINE = Null;

-- VPS utilization. cpu_sum/mem_sum are sums of utilization in millionths (exact integer sums);
-- *_hist are 100-bucket histograms of utilization (bucket i = [i%, (i+1)%)), summed element-wise,
-- from which a mergeable p95 is read.
CREATE TABLE IF NOT EXISTS {db}.vps_util_5m (
    window_start      DateTime('UTC'),
    tenant_id         String,
    resource_id       String,
    provider          String,
    region            String,
    plan              String,
    samples           AggregateFunction(sum, UInt64),
    vcpus             AggregateFunction(max, UInt32),
    memory_mb         AggregateFunction(max, UInt32),
    interval_seconds  AggregateFunction(sum, UInt64),
    cpu_sum           AggregateFunction(sum, UInt64),
    cpu_max           AggregateFunction(max, UInt32),
    mem_sum           AggregateFunction(sum, UInt64),
    mem_max           AggregateFunction(max, UInt32),
    cpu_core_seconds  AggregateFunction(sum, UInt64),
    cpu_hist          AggregateFunction(sumForEach, Array(UInt64)),
    mem_hist          AggregateFunction(sumForEach, Array(UInt64))
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant_id, window_start, provider, plan, region, resource_id);

CREATE TABLE IF NOT EXISTS {db}.vps_util_1h AS {db}.vps_util_5m;
CREATE TABLE IF NOT EXISTS {db}.vps_util_1d AS {db}.vps_util_5m;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.vps_util_5m_mv TO {db}.vps_util_5m AS
SELECT window_start, tenant_id, resource_id, provider, region, plan,
       sumState(samples) AS samples, maxState(vcpus) AS vcpus, maxState(memory_mb) AS memory_mb,
       sumState(interval_seconds) AS interval_seconds,
       sumState(cpu_sum) AS cpu_sum, maxState(cpu_max) AS cpu_max,
       sumState(mem_sum) AS mem_sum, maxState(mem_max) AS mem_max,
       sumState(cpu_core_seconds) AS cpu_core_seconds,
       sumForEachState(cpu_hist) AS cpu_hist, sumForEachState(mem_hist) AS mem_hist
FROM {db}.rollup_in WHERE kind = 'vps'
GROUP BY window_start, tenant_id, resource_id, provider, region, plan;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.vps_util_1h_mv TO {db}.vps_util_1h AS
SELECT toStartOfHour(window_start) AS window_start, tenant_id, resource_id, provider, region, plan,
       sumState(samples) AS samples, maxState(vcpus) AS vcpus, maxState(memory_mb) AS memory_mb,
       sumState(interval_seconds) AS interval_seconds,
       sumState(cpu_sum) AS cpu_sum, maxState(cpu_max) AS cpu_max,
       sumState(mem_sum) AS mem_sum, maxState(mem_max) AS mem_max,
       sumState(cpu_core_seconds) AS cpu_core_seconds,
       sumForEachState(cpu_hist) AS cpu_hist, sumForEachState(mem_hist) AS mem_hist
FROM {db}.rollup_in WHERE kind = 'vps'
GROUP BY window_start, tenant_id, resource_id, provider, region, plan;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.vps_util_1d_mv TO {db}.vps_util_1d AS
SELECT toStartOfDay(window_start) AS window_start, tenant_id, resource_id, provider, region, plan,
       sumState(samples) AS samples, maxState(vcpus) AS vcpus, maxState(memory_mb) AS memory_mb,
       sumState(interval_seconds) AS interval_seconds,
       sumState(cpu_sum) AS cpu_sum, maxState(cpu_max) AS cpu_max,
       sumState(mem_sum) AS mem_sum, maxState(mem_max) AS mem_max,
       sumState(cpu_core_seconds) AS cpu_core_seconds,
       sumForEachState(cpu_hist) AS cpu_hist, sumForEachState(mem_hist) AS mem_hist
FROM {db}.rollup_in WHERE kind = 'vps'
GROUP BY window_start, tenant_id, resource_id, provider, region, plan;

-- Email volume per sending IP, 1-hour windows (and 1-day, derived from the same partials).
-- reports counts the volume reports summed into a row; it is never 0, so SummingMergeTree never
-- drops the row of an IP that reported but sent nothing (it removes rows whose sums are all 0).
CREATE TABLE IF NOT EXISTS {db}.email_volume_1h (
    window_start  DateTime('UTC'),
    tenant_id     String,
    ip            String,
    pool          String,
    provider      String,
    sent          UInt64,
    delivered     UInt64,
    bounced       UInt64,
    deferred      UInt64,
    complained    UInt64,
    reports       UInt64
) ENGINE = SummingMergeTree((sent, delivered, bounced, deferred, complained, reports))
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant_id, window_start, provider, pool, ip);

CREATE TABLE IF NOT EXISTS {db}.email_volume_1d AS {db}.email_volume_1h;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.email_volume_1h_mv TO {db}.email_volume_1h AS
SELECT window_start, tenant_id, ip, pool, provider,
       sum(sent) AS sent, sum(delivered) AS delivered, sum(bounced) AS bounced,
       sum(deferred) AS deferred, sum(complained) AS complained, sum(reports) AS reports
FROM {db}.rollup_in WHERE kind = 'email'
GROUP BY window_start, tenant_id, ip, pool, provider;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.email_volume_1d_mv TO {db}.email_volume_1d AS
SELECT toStartOfDay(window_start) AS window_start, tenant_id, ip, pool, provider,
       sum(sent) AS sent, sum(delivered) AS delivered, sum(bounced) AS bounced,
       sum(deferred) AS deferred, sum(complained) AS complained, sum(reports) AS reports
FROM {db}.rollup_in WHERE kind = 'email'
GROUP BY window_start, tenant_id, ip, pool, provider;

-- Resource inventory: every lifecycle event, so cost can amortize over the hours a resource existed.
-- Exactly-once delivery makes duplicates impossible; ReplacingMergeTree only guards replays by hand.
CREATE TABLE IF NOT EXISTS {db}.inventory_events (
    event_time     DateTime('UTC'),
    event_id       String,
    tenant_id      String,
    resource_id    String,
    resource_kind  String,
    provider       String,
    region         String,
    plan           String,
    action         String,
    shared         UInt8
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant_id, resource_id, event_time, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.inventory_events_mv TO {db}.inventory_events AS
SELECT event_time, event_id, tenant_id, resource_id, resource_kind, provider, region, plan, action, shared
FROM {db}.rollup_in WHERE kind = 'inventory';

-- Consumer progress per lane and JetStream partition: the last stream sequence whose effect is in the
-- roll-ups, and as_of, the ingest time up to which every message of the partition is in.
CREATE TABLE IF NOT EXISTS {db}.consumer_progress (
    lane        String,
    partition   UInt16,
    stream_seq  AggregateFunction(max, UInt64),
    as_of       AggregateFunction(max, DateTime('UTC')),
    events      AggregateFunction(sum, UInt64),
    flushed_at  AggregateFunction(max, DateTime('UTC'))
) ENGINE = AggregatingMergeTree()
ORDER BY (lane, partition);

-- ClickHouse pushes an insert to its views in name order; the progress view is named to run last,
-- so a reader never sees a position before the roll-ups it covers.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.zz_consumer_progress_mv TO {db}.consumer_progress AS
SELECT lane, partition, maxState(stream_seq) AS stream_seq, maxState(as_of) AS as_of,
       sumState(events) AS events, maxState(flushed_at) AS flushed_at
FROM {db}.rollup_in WHERE kind = 'progress'
GROUP BY lane, partition;
