#!/usr/bin/env bash
# User-space instructions per keep-alive hello request (ARCHITECTURE.md §6),
# deterministic: callgrind on one worker of the server while `ab -k -c 16
# -n 20000 /hello` runs, minus an idle run (start, one request, stop),
# divided by 20,000. Every server answers /hello with the same 13 bytes.
#   bench/scripts/callgrind-hello.sh [--tls|--h2] [pounce|nginx|h2o]...
#                                                         (default: pounce)
# --tls: the same over https (TLS 1.3, one ECDSA P-256 certificate for every
# server), on one keep-alive connection (-c 1) so that both runs hold exactly
# one handshake and the difference is requests only.
# --h2: h2c with prior knowledge (issue 13), loaded by `h2load -c 16 -m 32`
# instead of ab.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
REQUESTS=20000
TLS=0
H2=0
if [[ ${1:-} == --tls ]]; then
  TLS=1
  shift
elif [[ ${1:-} == --h2 ]]; then
  H2=1
  shift
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
SCHEME=http
CONCURRENCY=16
if [[ $TLS == 1 ]]; then
  SCHEME=https
  CONCURRENCY=1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$out/key.pem" -out "$out/cert.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
fi

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# server_argv NAME PORT: the command line of one single-threaded server.
server_argv() {
  case $1 in
    pounce)
      if [[ $TLS == 1 ]]; then
        echo "$BUILD/bin/pounce-host --plugin $BUILD/plugins/libhello.so" \
          "--workers 1 --no-access-log --listen https://127.0.0.1:$2" \
          "--tls-cert $out/cert.pem --tls-key $out/key.pem"
      else
        echo "$BUILD/bin/pounce-host --plugin $BUILD/plugins/libhello.so" \
          "--workers 1 --no-access-log --port $2"
      fi
      ;;
    nginx)
      # master_process off: the one process callgrind follows is the worker.
      cat >"$out/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$2 $([[ $TLS == 1 ]] && echo ssl) $([[ $H2 == 1 ]] && echo http2);
    $([[ $TLS == 1 ]] && echo "ssl_certificate $out/cert.pem; ssl_certificate_key $out/key.pem; ssl_protocols TLSv1.2 TLSv1.3;")
    location = /hello { default_type text/plain; return 200 "Hello, World!"; }
  }
}
EOF
      echo "$(command -v nginx) -c $out/nginx.conf -p $out -e $out/nginx-error.log"
      ;;
    h2o)
      mkdir -p "$out/www"
      printf 'Hello, World!' >"$out/www/hello.txt"
      # As root h2o would switch to nobody, who cannot read mktemp's dir.
      cat >"$out/h2o.conf" <<EOF
user: $(id -un)
listen:
  host: 127.0.0.1
  port: $2
$([[ $TLS == 1 ]] && printf '  ssl:\n    certificate-file: %s\n    key-file: %s\n    minimum-version: TLSv1.2\n' "$out/cert.pem" "$out/key.pem")
num-threads: 1
error-log: $out/h2o-error.log
hosts:
  default:
    paths:
      /hello:
        file.file: $out/www/hello.txt
EOF
      echo "$(command -v h2o) -m worker -c $out/h2o.conf"
      ;;
    *) echo "callgrind-hello: unknown server $1" >&2; exit 2 ;;
  esac
}

run() {  # run NAME LOAD(0|1): prints the instructions callgrind collected
  local port log pid
  port=$(free_port)
  log="$out/$1-$2.log"
  # shellcheck disable=SC2046
  valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2.cg" \
    $(server_argv "$1" "$port") 2>"$log" >/dev/null &
  pid=$!
  for _ in $(seq 600); do
    curl -sk -o /dev/null "$SCHEME://127.0.0.1:$port/hello" && break
    sleep 0.1
  done
  if [[ $2 == 1 && $H2 == 1 ]]; then
    h2load -c 16 -m 32 -n $REQUESTS "http://127.0.0.1:$port/hello" |
      grep -E "^requests:|^status codes:" >&2
  elif [[ $2 == 1 ]]; then
    ab -q -k -c $CONCURRENCY -n $REQUESTS "$SCHEME://127.0.0.1:$port/hello" |
      grep -E "Complete requests|Failed requests|Non-2xx" >&2
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  # h2o's master forks a worker: sum every process callgrind reports.
  awk '/Collected/{n += $4} END {print n}' "$log"
}

servers=("$@")
[[ ${#servers[@]} -eq 0 ]] && servers=(pounce)
for s in "${servers[@]}"; do
  idle=$(run "$s" 0)
  load=$(run "$s" 1)
  echo "$s$([[ $TLS == 1 ]] && echo ' (https)')$([[ $H2 == 1 ]] && echo ' (h2c)'): idle run $idle, loaded run $load instructions;" \
    "per request: $(((load - idle) / REQUESTS)) instructions"
done
