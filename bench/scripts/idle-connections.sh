#!/usr/bin/env bash
# Memory of idle keep-alive connections (ARCHITECTURE.md §6): RSS before and
# after opening N connections that each made one request.
#   bench/scripts/idle-connections.sh [N=10000]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
N=${1:-10000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_host --plugin "$PLUGINS/libhello.so" --workers 1 --keep-alive-timeout 60 \
  --max-connections 20000
trap stop_host EXIT
req='GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'
# Warmed first, so that only per-connection memory remains.
rss_of_held "$N" "$req"
awk -v b="$RSS_BEFORE" -v a="$RSS_AFTER" -v n="$N" 'BEGIN{
  printf "idle keep-alive connections: %d\nRSS before: %d KiB, after: %d KiB\nper connection: %.2f KiB (%.0f bytes)\n", n, b, a, (a-b)/n, (a-b)*1024/n }'
