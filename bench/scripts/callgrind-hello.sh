#!/usr/bin/env bash
# User-space instructions per keep-alive hello request (ARCHITECTURE.md §6),
# deterministic: callgrind on pounce-host --workers 1 while `ab -k -c 16
# -n 20000 /hello` runs, minus an idle run (start, one request, stop),
# divided by 20,000.
#   bench/scripts/callgrind-hello.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out=$(mktemp -d)
run() {  # run NAME LOAD(0|1)
  local port log
  log="$out/$1.log"
  valgrind --tool=callgrind --callgrind-out-file="$out/$1.cg" \
    "$BUILD/bin/pounce-host" --plugin "$BUILD/plugins/libhello.so" --workers 1 \
    --no-access-log --port 0 2>"$log" >/dev/null &
  local pid=$!
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$log")
    [[ -n $port ]] && break
    sleep 0.1
  done
  curl -s -o /dev/null "http://127.0.0.1:$port/hello"
  if [[ $2 == 1 ]]; then
    ab -q -k -c 16 -n 20000 "http://127.0.0.1:$port/hello" | grep -E "Complete requests|Failed requests|Non-2xx" >&2
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/Collected/{print $4}' "$log"
}
idle=$(run idle 0)
load=$(run load 1)
echo "idle run: $idle instructions; loaded run: $load instructions"
echo "per request: $(( (load - idle) / 20000 )) instructions"
rm -rf "$out"
