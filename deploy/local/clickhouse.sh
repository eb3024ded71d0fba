#!/usr/bin/env bash
# Private, project-local ClickHouse server from Debian's clickhouse-server package.
# It never touches a system-wide server: own config, own data dir, own ports on 127.0.0.1.
#
#   deploy/local/clickhouse.sh install   # apt-get install clickhouse-server/-client if missing
#   deploy/local/clickhouse.sh start     # start (idempotent: a running private server is reused)
#   deploy/local/clickhouse.sh stop      # SIGTERM, wait, SIGKILL after 20 s
#   deploy/local/clickhouse.sh status
#   deploy/local/clickhouse.sh foreground  # run in the foreground (Ctrl-C stops it)
#
# Environment: CH_DIR (default .local/clickhouse under the checkout), CH_TCP (19000), CH_HTTP (18123).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CH_DIR=${CH_DIR:-$ROOT/.local/clickhouse}
CH_TCP=${CH_TCP:-19000}
CH_HTTP=${CH_HTTP:-18123}

log() { echo "clickhouse.sh: $*" >&2; }

ch_install() {
  if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
    return 0
  fi
  log "installing clickhouse-server and clickhouse-client from Debian's packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

ch_write_config() {
  mkdir -p "$CH_DIR/data" "$CH_DIR/log"
  cat > "$CH_DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CH_DIR/log/clickhouse-server.log</log>
        <errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$CH_TCP</tcp_port>
    <http_port>$CH_HTTP</http_port>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/data/tmp/</tmp_path>
    <mark_cache_size>268435456</mark_cache_size>
    <timezone>UTC</timezone>
    <users_config>users.xml</users_config>
</yandex>
XML
  cat > "$CH_DIR/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default/></profiles>
    <quotas><default/></quotas>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
</yandex>
XML
}

ch_pid() { cat "$CH_DIR/server.pid" 2>/dev/null || true; }

ch_alive() { local pid; pid=$(ch_pid); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

ch_ping() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" -q 'SELECT 1' >/dev/null 2>&1; }

ch_start() {
  ch_install
  if ch_alive && ch_ping; then
    log "private server already running (pid $(ch_pid), tcp $CH_TCP)"; return 0
  fi
  if ch_ping; then
    log "port $CH_TCP already serves a ClickHouse that is not ours; set CH_TCP to a free port"; return 1
  fi
  ch_write_config
  clickhouse-server --config-file="$CH_DIR/config.xml" >"$CH_DIR/log/stdout.log" 2>&1 &
  echo $! > "$CH_DIR/server.pid"
  local pid; pid=$(ch_pid)
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "clickhouse-server exited during start-up:"
      tail -n 20 "$CH_DIR/log/stdout.log" "$CH_DIR/log/clickhouse-server.err.log" >&2 || true
      rm -f "$CH_DIR/server.pid"; return 1
    fi
    if ch_ping; then log "ready on 127.0.0.1:$CH_TCP (pid $pid, data $CH_DIR)"; return 0; fi
    sleep 0.1
  done
  log "not ready after 30 s"; ch_stop; return 1
}

ch_stop() {
  local pid; pid=$(ch_pid)
  [ -n "$pid" ] || return 0
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$CH_DIR/server.pid"
  log "stopped"
}

case "${1:-}" in
  install) ch_install ;;
  start) ch_start ;;
  stop) ch_stop ;;
  restart) ch_stop; ch_start ;;
  status) if ch_alive && ch_ping; then echo "running pid $(ch_pid) tcp 127.0.0.1:$CH_TCP"; else echo "stopped"; exit 1; fi ;;
  foreground) ch_install; ch_write_config; exec clickhouse-server --config-file="$CH_DIR/config.xml" ;;
  addr) echo "127.0.0.1:$CH_TCP" ;;
  *) echo "usage: $0 install|start|stop|restart|status|foreground|addr" >&2; exit 2 ;;
esac
