#!/usr/bin/env bash
# make run: start the private local ClickHouse (unless SPENDSTREAM_CLICKHOUSE_ADDR points at an
# existing one), then spendstream on the embedded default with the demo generator. Ctrl-C stops
# spendstream (graceful: final flush) and then the ClickHouse this script started.
set -euo pipefail
cd "$(dirname "$0")/../.."

started_ch=""
cleanup() {
  if [ -n "$started_ch" ]; then deploy/local/clickhouse.sh stop; fi
}
trap cleanup EXIT

if [ -z "${SPENDSTREAM_CLICKHOUSE_ADDR:-}" ]; then
  if ! deploy/local/clickhouse.sh status >/dev/null 2>&1; then
    deploy/local/clickhouse.sh start
    started_ch=1
  fi
  export SPENDSTREAM_CLICKHOUSE_ADDR=$(deploy/local/clickhouse.sh addr)
else
  echo "run.sh: using the ClickHouse at $SPENDSTREAM_CLICKHOUSE_ADDR (nothing local started)" >&2
fi

if [ -n "${SPENDSTREAM_NATS_URL:-}" ]; then
  echo "run.sh: using the NATS at $SPENDSTREAM_NATS_URL (no embedded server)" >&2
fi

# Run in the foreground of this shell's process group; SIGINT from Ctrl-C reaches it directly.
set +e
bin/spendstream run --demo=${SPENDSTREAM_DEMO:-true} --log-format=${SPENDSTREAM_LOG_FORMAT:-text} "$@"
rc=$?
set -e
# 130 = interrupted by Ctrl-C: a clean stop.
if [ $rc -eq 130 ]; then rc=0; fi
exit $rc
