#!/usr/bin/env bash
# make test: install what the tests need, start a throwaway private ClickHouse on its own ports, run
# the whole suite against it (NATS is embedded in the tests), stop ClickHouse.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CH_DIR=${TEST_CH_DIR:-$PWD/.local/clickhouse-test}
export CH_TCP=${TEST_CH_TCP:-19400}
export CH_HTTP=${TEST_CH_HTTP:-18400}

command -v go >/dev/null || { echo "Go is required (https://go.dev/dl); this machine has none" >&2; exit 1; }
deploy/local/clickhouse.sh stop >/dev/null 2>&1 || true
rm -rf "$CH_DIR"
deploy/local/clickhouse.sh start
trap 'deploy/local/clickhouse.sh stop' EXIT

export SPENDSTREAM_CLICKHOUSE_ADDR=127.0.0.1:$CH_TCP
# Tests that restart ClickHouse start their own server through the same script.
export SPENDSTREAM_CLICKHOUSE_SCRIPT=$PWD/deploy/local/clickhouse.sh

SPENDSTREAM_CHROMIUM=$(deploy/local/chromium.sh ensure); export SPENDSTREAM_CHROMIUM SPENDSTREAM_REQUIRE_BROWSER=1 # web page browser tests: never skipped
echo "== go vet"
go vet ./...
echo "== unit, integration and end-to-end tests (real NATS JetStream + ClickHouse $SPENDSTREAM_CLICKHOUSE_ADDR)"
go test -count=1 -timeout 20m ./...
echo "== race detector on the concurrent packages"
go test -count=1 -race -timeout 20m ./aggregates/... ./consumers/... ./schemas/...
go test -count=1 -race -timeout 10m -run 'TestEndToEnd|TestPostHogCapture' ./cmd/spendstream/
echo "== short fuzzing run (10 s per fuzzer; make fuzz runs them longer)"
bash deploy/local/fuzz.sh 10s
