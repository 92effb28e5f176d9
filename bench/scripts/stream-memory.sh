#!/usr/bin/env bash
# Memory per open SSE stream, with and without compression: RSS before and
# after opening N endless streams (one event a second).
#   bench/scripts/stream-memory.sh [N=1000] [ENCODING=zstd|gzip|identity]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
N=${1:-1000}
ENC=${2:-zstd}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start_host --plugin "$PLUGINS/libhello.so" --plugin "/sse=$PLUGINS/libsse.so" \
  --workers 1 --async-threads 1 --max-connections 20000
trap stop_host EXIT
req="GET /sse/events?count=0&interval_ms=1000 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: $ENC\r\n\r\n"
rss_of_held "$N" "$req"
awk -v b="$RSS_BEFORE" -v a="$RSS_AFTER" -v n="$N" -v e="$ENC" 'BEGIN{
  printf "open SSE streams (%s): %d\nRSS before: %d KiB, after: %d KiB\nper stream: %.1f KiB\n", e, n, b, a, (a-b)/n }'
