#!/usr/bin/env bash
# Memory model (ARCHITECTURE.md §6): peak RSS with --workers 8 against
# --workers 1, after the same wrk load (3 s each).
#   bench/scripts/rss-workers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
declare -A RSS
for w in 1 8; do
  start_host --plugin "$PLUGINS/libhello.so" --workers "$w"
  wrk -t1 -c64 -d3s "http://127.0.0.1:$HOST_PORT/hello" >/dev/null
  RSS[$w]=$(hwm_kb "$HOST_PID")
  stop_host
done
awk -v a="${RSS[1]}" -v b="${RSS[8]}" 'BEGIN{
  printf "peak RSS after 3 s of wrk: workers=1 %d KiB, workers=8 %d KiB, ratio %.3f\n", a, b, b/a }'
