#!/usr/bin/env bash
# make bench: the end-to-end throughput/latency benchmark. NATS (nats-server built from the pinned
# module), a private ClickHouse, spendstream and the load generator run as separate processes.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CH_DIR=${BENCH_CH_DIR:-$PWD/.local/clickhouse-bench}
export CH_TCP=${BENCH_CH_TCP:-19500}
export CH_HTTP=${BENCH_CH_HTTP:-18500}

mkdir -p bin
go build -o bin/spendstream ./cmd/spendstream
go build -o bin/nats-server github.com/nats-io/nats-server/v2
deploy/local/clickhouse.sh stop >/dev/null 2>&1 || true
rm -rf "$CH_DIR"
deploy/local/clickhouse.sh start
trap 'deploy/local/clickhouse.sh stop' EXIT

export SPENDSTREAM_CLICKHOUSE_ADDR=127.0.0.1:$CH_TCP
export SPENDSTREAM_BENCH_BIN=$PWD/bin/spendstream
export SPENDSTREAM_BENCH_NATS=$PWD/bin/nats-server
export SPENDSTREAM_BENCH_EVENTS=${SPENDSTREAM_BENCH_EVENTS:-1000000}

echo "== micro-benchmarks (decode, window assignment, merge, the consumer handler without I/O)"
go test -run XXX -bench 'BenchmarkDecode|BenchmarkAssign|BenchmarkMerge' -benchtime 200000x \
  ./schemas/events/ ./aggregates/ ./aggregates/window/ | grep -E '^(Benchmark|ok)'
go test -run XXX -bench BenchmarkHandleBatch -benchtime 600x ./consumers/ | grep -E '^(Benchmark|ok)'
echo "== end-to-end pipeline ($SPENDSTREAM_BENCH_EVENTS events)"
go test -run XXX -bench BenchmarkPipeline -benchtime 1x -timeout 40m ./cmd/spendstream/
echo "== what the consumer's batch size costs ClickHouse"
go test -run XXX -bench BenchmarkSinkBatches -benchtime 1x -timeout 20m ./cmd/spendstream/ | grep -E '^(sink|ok)'
echo "== PostHog capture path vs POST /v1/events"
go test -run XXX -bench BenchmarkCapture -benchtime 1x -timeout 20m ./cmd/spendstream/
echo "== cost API latency over a year of roll-ups"
go test -run XXX -bench BenchmarkCostAPI -benchtime 1x -timeout 30m ./cmd/spendstream/
