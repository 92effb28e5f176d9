#!/usr/bin/env bash
# Hot reload under load (ARCHITECTURE.md §6): 20 s of wrk against /hello with
# 20 SIGHUPs during it. The target is zero socket errors and zero non-2xx.
#   bench/scripts/reload-under-load.sh [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
WORKERS=${1:-2}
dir=$(mktemp -d)
cp "$PLUGINS/libhello.so" "$dir/libhello.so"
start_host --plugin "$dir/libhello.so" --workers "$WORKERS"
trap 'stop_host; rm -rf "$dir"' EXIT
wrk -t1 -c64 -d20s --latency "http://127.0.0.1:$HOST_PORT/hello" >"$dir/wrk.txt" &
wrk_pid=$!
for _ in $(seq 20); do
  sleep 0.9
  cp "$PLUGINS/libhello.so" "$dir/libhello.so.new" && mv "$dir/libhello.so.new" "$dir/libhello.so"
  kill -HUP "$HOST_PID"
done
wait "$wrk_pid"
cat "$dir/wrk.txt"
# Each SIGHUP must have loaded a new generation, not been coalesced away.
echo "reloads logged: $(grep -c 'reloaded generation' "$HOST_LOG")," \
  "failed: $(grep -c 'reload failed' "$HOST_LOG" || true)"
grep -E "Socket errors|Non-2xx" "$dir/wrk.txt" && echo "FAIL: errors during reloads" || echo "OK: no socket errors, no non-2xx"
