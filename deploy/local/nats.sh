#!/usr/bin/env bash
# Optional: a private nats-server from Debian's package (2.9.x) for those who want NATS outside the
# spendstream process. Debian's 2.9 has no stream subject transforms, so run spendstream against it
# with --partitions=1. spendstream's default is the embedded server (no install needed).
#
#   deploy/local/nats.sh start|stop|status   (NATS_DIR, NATS_PORT=14229, NATS_MONITOR=18229)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NATS_DIR=${NATS_DIR:-$ROOT/.local/nats-server}
NATS_PORT=${NATS_PORT:-14229}
NATS_MONITOR=${NATS_MONITOR:-18229}
BIN=/usr/sbin/nats-server

install() {
  [ -x "$BIN" ] && return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
}
pid() { cat "$NATS_DIR/server.pid" 2>/dev/null || true; }
case "${1:-}" in
  start)
    install; mkdir -p "$NATS_DIR/js"
    if [ -n "$(pid)" ] && kill -0 "$(pid)" 2>/dev/null; then echo "running"; exit 0; fi
    "$BIN" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MONITOR" -js -sd "$NATS_DIR/js" >"$NATS_DIR/server.log" 2>&1 &
    echo $! > "$NATS_DIR/server.pid"
    for _ in $(seq 1 100); do
      if (exec 3<>/dev/tcp/127.0.0.1/"$NATS_PORT") 2>/dev/null; then echo "nats://127.0.0.1:$NATS_PORT"; exit 0; fi
      sleep 0.1
    done
    echo "nats-server not ready" >&2; exit 1 ;;
  stop)
    p=$(pid); [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; rm -f "$NATS_DIR/server.pid" ;;
  status)
    p=$(pid); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "running nats://127.0.0.1:$NATS_PORT"; else echo stopped; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
