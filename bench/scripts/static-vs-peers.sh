#!/usr/bin/env bash
# Static files against nginx (`sendfile on`) and h2o (`file.dir`), issue 15
# §5 (docs/static-files.md, "Performance"). One directory, served by the
# three servers, each with one worker pinned to CPU 0; the load tool on
# CPU 1. Rounds alternate the servers (A B C A B C ...) so that drift of
# the shared machine hits all alike.
#
#   bench/scripts/static-vs-peers.sh [ROUNDS] [SECONDS]     # 5 5
#
# Workloads (wrk, 16 keep-alive connections):
#   4k    GET /4k.bin                    req/s and CPU µs per request
#   1m    GET /1m.bin                    CPU µs per request and MB/s
#   304   GET /4k.bin, If-None-Match     each server's own ETag for the file
# With H2=1, the 4k and 1m files again with h2load (h2c, -c 16 -m 32) beside
# h2o (h2 over TLS with TLS=1 too); with TLS=1 the wrk workloads over https (TLS 1.3, one throwaway
# certificate) beside h2o and nginx.
#
# Prints every round, then medians and the ratios pounce/nginx and
# pounce/h2o. Extra pounce flags: POUNCE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-5}
TICK=$(getconf CLK_TCK)
POUNCE_ARGS=${POUNCE_ARGS:-}
TLS=${TLS:-0}
H2=${H2:-0}

dir=$(mktemp -d /tmp/static-vs-peers.XXXXXX)
chmod 755 "$dir"  # nginx workers run as an unprivileged user
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

mkdir -p "$dir/www" "$dir/nginx" "$dir/h2o"
chmod 755 "$dir/www"
head -c 4096 /dev/urandom >"$dir/www/4k.bin"
head -c 1048576 /dev/urandom >"$dir/www/1m.bin"
chmod 644 "$dir/www/"*.bin

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}
cpu_ticks() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/stat"; done |
    awk '{ sub(/^.*\) /, ""); n += $12 + $13 } END { print n }'
}
scheme=http
tls_args=""
if ((TLS)); then
  scheme=https
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 1 -subj /CN=localhost \
    >/dev/null 2>&1
  chmod 644 "$dir/key.pem"
  tls_args="--tls-cert $dir/cert.pem --tls-key $dir/key.pem"
fi
declare -A PORT SPID
wait_up() {
  for _ in $(seq 200); do
    curl -ks -o /dev/null "$scheme://127.0.0.1:$1/4k.bin" && return 0
    sleep 0.05
  done
  echo "static-vs-peers: nothing answers on port $1" >&2
  exit 1
}

# pounce-host
PORT[pounce]=$(free_port)
if ((TLS)); then listen="https://127.0.0.1:${PORT[pounce]}"; else listen="http://127.0.0.1:${PORT[pounce]}"; fi
# shellcheck disable=SC2086
taskset -c 0 "$HOST_BIN" --workers 1 --no-supervise --no-access-log \
  --listen "$listen" $tls_args --static "/=$dir/www" $POUNCE_ARGS \
  2>"$dir/pounce.log" >/dev/null &
SPID[pounce]=$!
PIDS+=("${SPID[pounce]}")

# nginx
PORT[nginx]=$(free_port)
ng_listen="127.0.0.1:${PORT[nginx]}"
ng_tls=""
((TLS)) && ng_listen+=" ssl" && ng_tls="ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem; ssl_protocols TLSv1.3;"
cat >"$dir/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 10000000;
  http2_max_requests 10000000;
  server {
    listen $ng_listen;
    $ng_tls
    location / { root $dir/www; sendfile on; tcp_nopush on; }
  }
}
CONF
taskset -c 0 nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" >/dev/null 2>&1 &
SPID[nginx]=$!
PIDS+=("${SPID[nginx]}")

# h2o
PORT[h2o]=$(free_port)
h2o_ssl=""
((TLS)) && h2o_ssl=$'\n  ssl:\n    certificate-file: '"$dir/cert.pem"$'\n    key-file: '"$dir/key.pem"$'\n    min-version: TLSv1.3'
cat >"$dir/h2o/h2o.conf" <<CONF
user: root
listen:
  host: 127.0.0.1
  port: ${PORT[h2o]}$h2o_ssl
num-threads: 1
error-log: $dir/h2o/error.log
hosts:
  default:
    paths:
      /:
        file.dir: $dir/www
CONF
taskset -c 0 h2o -c "$dir/h2o/h2o.conf" >/dev/null 2>&1 &
SPID[h2o]=$!
PIDS+=("${SPID[h2o]}")

servers=(nginx h2o pounce)
declare -A ETAG
for s in "${servers[@]}"; do
  wait_up "${PORT[$s]}"
  for f in 4k 1m; do
    curl -ks "$scheme://127.0.0.1:${PORT[$s]}/$f.bin" | cmp - "$dir/www/$f.bin" ||
      { echo "static-vs-peers: $s serves a different /$f.bin" >&2; exit 1; }
  done
  ETAG[$s]=$(curl -ksI "$scheme://127.0.0.1:${PORT[$s]}/4k.bin" |
    tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
  code=$(curl -ks -o /dev/null -w '%{http_code}' -H "If-None-Match: ${ETAG[$s]}" \
    "$scheme://127.0.0.1:${PORT[$s]}/4k.bin")
  [[ $code == 304 ]] || { echo "static-vs-peers: $s answers $code to If-None-Match ${ETAG[$s]}" >&2; exit 1; }
  echo "$s: port ${PORT[$s]}, ETag ${ETAG[$s]}"
done

workloads=(4k 1m 304)
((H2)) && workloads+=(h2-4k h2-1m)
declare -A RPS CPU MBS
for r in $(seq "$ROUNDS"); do
  for w in "${workloads[@]}"; do
    for s in "${servers[@]}"; do
      # HTTP/2 beside h2o only: nginx 1.22 cannot offer h2c and HTTP/1.1 on
      # one cleartext port.
      [[ $w == h2-* && $s == nginx ]] && continue
      base="$scheme://127.0.0.1:${PORT[$s]}"
      before=$(cpu_ticks "${SPID[$s]}")
      case $w in
        4k) out=$(taskset -c 1 wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" "$base/4k.bin") ;;
        1m) out=$(taskset -c 1 wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" "$base/1m.bin") ;;
        304) out=$(taskset -c 1 wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" \
          -H "If-None-Match: ${ETAG[$s]}" "$base/4k.bin") ;;
        h2-*) out=$(taskset -c 1 h2load -c16 -m32 -D"${SECONDS_PER_RUN}" \
          "$base/${w#h2-}.bin" 2>&1) ;;
      esac
      after=$(cpu_ticks "${SPID[$s]}")
      if [[ $w == h2-* ]]; then
        rps=$(awk '/^finished in/ { gsub(/,/, ""); print $4 }' <<<"$out")
        n=$(awk '/^requests:/ { print $8 }' <<<"$out")
        bytes=$(awk '/^traffic:/ { gsub(/[()]/, "", $3); print $3 }' <<<"$out")
        mbs=$(awk -v b="$bytes" -v d="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f", b / d / 1e6 }')
      else
        rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
        n=$(awk '/requests in/ { print $1 }' <<<"$out")
        mbs=$(awk '/^Transfer\/sec:/ { v = $2; if (v ~ /GB/) v *= 1000; else if (v ~ /KB/) v /= 1000; else v += 0; printf "%.0f", v }' <<<"$out")
        bad=$(awk '/Non-2xx|Socket errors/' <<<"$out" | tr '\n' ' ')
        [[ $w == 304 ]] && bad=$(awk '/Socket errors/' <<<"$out" | tr '\n' ' ')
      fi
      cpu=$(awk -v t=$((after - before)) -v hz="$TICK" -v n="${n:-1}" \
        'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
      RPS[$w,$s]+="$rps " CPU[$w,$s]+="$cpu " MBS[$w,$s]+="$mbs "
      printf 'round %d %-6s %-7s %10s req/s %8s CPU us/req %6s MB/s %s\n' \
        "$r" "$w" "$s" "$rps" "$cpu" "$mbs" "${bad:-}"
    done
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "| workload | server | req/s | CPU µs/req | MB/s | req/s ÷ nginx | CPU ÷ nginx | req/s ÷ h2o | CPU ÷ h2o |"
echo "|---|---|---|---|---|---|---|---|---|"
for w in "${workloads[@]}"; do
  for s in "${servers[@]}"; do
    [[ -z ${RPS[$w,$s]:-} ]] && continue
    rps=$(median <<<"${RPS[$w,$s]}") cpu=$(median <<<"${CPU[$w,$s]}") mbs=$(median <<<"${MBS[$w,$s]}")
    if [[ $s == pounce ]]; then
      nr=$(median <<<"${RPS[$w,nginx]:-}") nc=$(median <<<"${CPU[$w,nginx]:-}")
      hr=$(median <<<"${RPS[$w,h2o]}") hc=$(median <<<"${CPU[$w,h2o]}")
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$s" "$rps" "$cpu" "$mbs" \
        "$(ratio "$rps" "${nr:-0}")" "$(ratio "$cpu" "${nc:-0}")" "$(ratio "$rps" "$hr")" "$(ratio "$cpu" "$hc")"
    else
      printf '| %s | %s | %s | %s | %s | | | | |\n' "$w" "$s" "$rps" "$cpu" "$mbs"
    fi
  done
done
