#!/usr/bin/env bash
# Headless Chromium for the web page's browser tests (cmd/spendstream/web_e2e_test.go), from
# Debian's chromium package, installed like clickhouse.sh installs ClickHouse.
#
#   deploy/local/chromium.sh ensure   # apt-get install chromium if missing; print the binary's path
#   deploy/local/chromium.sh path     # print the binary's path (exit 1 when there is none)
#   deploy/local/chromium.sh version
#
# Environment: SPENDSTREAM_CHROMIUM names a binary to use instead of looking one up.
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

cr_path() {
  if [ -n "${SPENDSTREAM_CHROMIUM:-}" ] && [ -x "${SPENDSTREAM_CHROMIUM}" ]; then
    echo "$SPENDSTREAM_CHROMIUM"; return 0
  fi
  local b
  for b in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
  done
  return 1
}

cr_install() {
  if cr_path >/dev/null; then
    return 0
  fi
  log "installing chromium from Debian's packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # stdout carries only the path (callers capture it): apt's output goes to stderr.
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

case "${1:-}" in
  ensure) cr_install; cr_path || { log "chromium is still missing after the install"; exit 1; } ;;
  install) cr_install ;;
  path) cr_path ;;
  version) "$(cr_path)" --headless --version ;;
  *) echo "usage: $0 ensure|install|path|version" >&2; exit 2 ;;
esac
