-- PostHog capture roll-ups. Same pattern as 0001: one flush of the posthog lane is ONE insert block
-- into the Null-engine table posthog_in, holding the batch's event-count partials (kind event), the
-- tenant segment updates (kind segment) and one progress row per JetStream partition (kind
-- progress); the views below fan it out, the progress view last.

CREATE TABLE IF NOT EXISTS {db}.posthog_in (
    kind               String,
    window_start       DateTime('UTC'),
    tenant_id          String,
    event              String,
    distinct_id        String,
    count              UInt64,
    property           String,
    value              String,
    source             String,
    event_uuid         String,
    effective_from     DateTime('UTC'),
    effective_from_ns  UInt64,
    lane               String,
    partition          UInt16,
    stream_seq         UInt64,
    as_of              DateTime('UTC'),
    events             UInt64,
    flushed_at         DateTime('UTC')
) ENGINE = Null;

-- Event counts per tenant, event and hour (and day), with a mergeable distinct-users state: every
-- partial row carries one distinct_id, so uniqState over the rows of any group merges correctly.
-- uniq is exact up to 65,536 distinct ids per state (then an adaptive sample; a 32-bit hash, so
-- collisions are possible but rare below that).
CREATE TABLE IF NOT EXISTS {db}.analytics_events_1h (
    window_start  DateTime('UTC'),
    tenant_id     String,
    event         String,
    count         AggregateFunction(sum, UInt64),
    users         AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant_id, window_start, event);

CREATE TABLE IF NOT EXISTS {db}.analytics_events_1d AS {db}.analytics_events_1h;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.analytics_events_1h_mv TO {db}.analytics_events_1h AS
SELECT window_start, tenant_id, event, sumState(count) AS count, uniqState(distinct_id) AS users
FROM {db}.posthog_in WHERE kind = 'event'
GROUP BY window_start, tenant_id, event;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.analytics_events_1d_mv TO {db}.analytics_events_1d AS
SELECT toStartOfDay(window_start) AS window_start, tenant_id, event, sumState(count) AS count,
       uniqState(distinct_id) AS users
FROM {db}.posthog_in WHERE kind = 'event'
GROUP BY window_start, tenant_id, event;

-- Tenant segments: every plan/tier update with the time it takes effect (the event's time, in
-- nanoseconds since the epoch in effective_from_ns). The segment in force at t is the value of the
-- latest update at or before t.
CREATE TABLE IF NOT EXISTS {db}.tenant_segments (
    tenant_id          String,
    property           String,
    value              String,
    effective_from     DateTime('UTC'),
    effective_from_ns  UInt64,
    event_uuid         String,
    source             String
) ENGINE = ReplacingMergeTree()
ORDER BY (tenant_id, property, effective_from_ns, event_uuid);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.tenant_segments_mv TO {db}.tenant_segments AS
SELECT tenant_id, property, value, effective_from, effective_from_ns, event_uuid, source
FROM {db}.posthog_in WHERE kind = 'segment';

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.zz_posthog_progress_mv TO {db}.consumer_progress AS
SELECT lane, partition, maxState(stream_seq) AS stream_seq, maxState(as_of) AS as_of,
       sumState(events) AS events, maxState(flushed_at) AS flushed_at
FROM {db}.posthog_in WHERE kind = 'progress'
GROUP BY lane, partition;
