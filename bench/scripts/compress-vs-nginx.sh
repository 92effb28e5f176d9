#!/usr/bin/env bash
# On-the-fly compression against nginx (issue 15 §4, docs/performance.md
# "Response compression"): the 58 KiB JSON body of tests/support/
# json_records.h, served by pounce-host from the json_body test plugin (a
# sync response) and by nginx as a file with
# `gzip on; gzip_comp_level 1; gzip_types application/json;`. One worker
# each, both pinned to CPU 0, wrk on CPU 1 with 16 connections and an
# Accept-Encoding header; rounds alternate the servers (A B C A B C ...) so
# that drift of the shared machine hits all alike.
#
#   bench/scripts/compress-vs-nginx.sh [ROUNDS] [SECONDS]     # 5 5
#
# Prints per round and as medians: req/s, server CPU µs per response
# (utime + stime of the server's process tree over the run / responses) and
# the bytes of one compressed body. Extra pounce flags: POUNCE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-5}
TEST_PLUGINS=${TEST_PLUGINS:-$BUILD/test-plugins}
TICK=$(getconf CLK_TCK)
POUNCE_ARGS=${POUNCE_ARGS:-}

dir=$(mktemp -d /tmp/compress-vs-nginx.XXXXXX)
chmod 755 "$dir"  # nginx workers run as an unprivileged user
NGINX_PID=""
cleanup() {
  [[ -n ${HOST_PID:-} ]] && stop_host
  if [[ -n $NGINX_PID ]]; then
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

cpu_ticks() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/stat"; done |
    awk '{ sub(/^.*\) /, ""); n += $12 + $13 } END { print n }'
}

# pounce-host, pinned (taskset execs it: HOST_PID is the host), one worker,
# the JSON at /
HOST_LOG=$dir/pounce.log
# shellcheck disable=SC2086
taskset -c 0 "$HOST_BIN" --workers 1 --no-supervise --port 0 --no-access-log \
  --plugin "$TEST_PLUGINS/libjson_body.so" $POUNCE_ARGS 2>"$HOST_LOG" >/dev/null &
HOST_PID=$!
HOST_PORT=""
for _ in $(seq 200); do
  HOST_PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$HOST_LOG" 2>/dev/null || true)
  [[ -n $HOST_PORT ]] && break
  sleep 0.05
done
[[ -n $HOST_PORT ]] || { cat "$HOST_LOG" >&2; exit 1; }
POUNCE_URL="http://127.0.0.1:$HOST_PORT/"
mkdir -p "$dir/www" "$dir/nginx"
curl -sS -o "$dir/www/data.json" "$POUNCE_URL"

NGINX_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()')
cat >"$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 10000000;
  types { application/json json; }
  gzip on;
  gzip_comp_level 1;
  gzip_types application/json;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { root $dir/www; }
  }
}
CONF
taskset -c 0 nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" >/dev/null 2>&1 &
NGINX_PID=$!
for _ in $(seq 200); do
  curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/data.json" && break
  sleep 0.05
done
NGINX_URL="http://127.0.0.1:$NGINX_PORT/data.json"

# body_bytes URL CODING: the bytes of one encoded body (after de-chunking)
body_bytes() {
  curl -sS -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $2" "$1"
}
# check URL CODING: the body decodes to the same JSON
check() {
  local got
  got=$(curl -sS --compressed -H "Accept-Encoding: $2" "$1" | cmp - "$dir/www/data.json" && echo same)
  [[ $got == same ]] || { echo "compress-vs-nginx: $1 ($2) does not decode to the JSON" >&2; exit 1; }
}

declare -A URL=([nginx-gzip]=$NGINX_URL [pounce-gzip]=$POUNCE_URL [pounce-zstd]=$POUNCE_URL [nginx-identity]=$NGINX_URL [pounce-identity]=$POUNCE_URL)
declare -A CODING=([nginx-gzip]=gzip [pounce-gzip]=gzip [pounce-zstd]=zstd [nginx-identity]=identity [pounce-identity]=identity)
declare -A SPID=([nginx-gzip]=$NGINX_PID [pounce-gzip]=$HOST_PID [pounce-zstd]=$HOST_PID [nginx-identity]=$NGINX_PID [pounce-identity]=$HOST_PID)
order=(nginx-gzip pounce-gzip pounce-zstd nginx-identity pounce-identity)
declare -A BYTES RPS CPU
for s in "${order[@]}"; do
  check "${URL[$s]}" "${CODING[$s]}"
  BYTES[$s]=$(body_bytes "${URL[$s]}" "${CODING[$s]}")
  echo "$s: ${BYTES[$s]} bytes, decodes to the JSON"
done
echo "JSON body: $(stat -c %s "$dir/www/data.json") bytes"

for r in $(seq "$ROUNDS"); do
  for s in "${order[@]}"; do
    url=${URL[$s]} pid=${SPID[$s]}
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" \
      -H "Accept-Encoding: ${CODING[$s]}" "$url")
    after=$(cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    errs=$(awk '/Socket errors|Non-2xx/' <<<"$out" | tr '\n' ' ')
    cpu=$(awk -v t=$((after - before)) -v hz="$TICK" -v n="$n" \
      'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    RPS[$s]+="$rps " CPU[$s]+="$cpu "
    printf 'round %d %-16s %10s req/s %8s CPU us/response %6s bytes %s\n' \
      "$r" "$s" "$rps" "$cpu" "${BYTES[$s]}" "$errs"
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
echo
echo "| server and coding | CPU µs per response (median; range) | req/s (median) | bytes out |"
echo "|---|---|---|---|"
ng=$(median <<<"${CPU[nginx-gzip]}")
for s in "${order[@]}"; do
  c=$(median <<<"${CPU[$s]}")
  lo=$(tr ' ' '\n' <<<"${CPU[$s]}" | sed '/^$/d' | sort -g | head -1)
  hi=$(tr ' ' '\n' <<<"${CPU[$s]}" | sed '/^$/d' | sort -g | tail -1)
  printf '| %s | %s (%s–%s; %.2f× nginx gzip) | %s | %s |\n' "$s" "$c" "$lo" "$hi" \
    "$(awk -v a="$c" -v b="$ng" 'BEGIN { print a / b }')" \
    "$(median <<<"${RPS[$s]}")" "${BYTES[$s]}"
done
