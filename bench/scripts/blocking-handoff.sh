#!/usr/bin/env bash
# The cost of the blocking-mode hand-off (issue 11 §3): server CPU µs per
# request for the same one-line handler in sync mode (inline on the worker)
# and in POUNCE_MODE_BLOCKING (worker -> blocking pool -> worker), with one
# worker. CPU is utime + stime of the serving process from /proc, so the
# figure holds on a shared machine where ab competes for the cores.
#   bench/scripts/blocking-handoff.sh [REQUESTS] [CONCURRENCY]
# Needs ab (apache2-utils) and the test plugins (tests/plugins/sleeper.c:
# libsleeper.so is blocking, libsleeper_sync.so the same code in sync mode).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/scripts/common.sh
REQUESTS=${1:-50000}
CONCURRENCY=${2:-16}
TEST_PLUGINS=${TEST_PLUGINS:-$BUILD/test-plugins}
TICK=$(getconf CLK_TCK)

# cpu_ticks PID: utime + stime of the process tree
cpu_ticks() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/stat"; done |
    awk '{ sub(/^.*\) /, ""); n += $12 + $13 } END { print n }'
}

measure() {
  local label=$1 plugin=$2 before after
  start_host --workers 1 --no-supervise --plugin "$plugin"
  ab -q -k -c "$CONCURRENCY" -n 2000 "http://127.0.0.1:$HOST_PORT/" >/dev/null
  before=$(cpu_ticks "$HOST_PID")
  ab -q -k -c "$CONCURRENCY" -n "$REQUESTS" "http://127.0.0.1:$HOST_PORT/" \
    >"$HOST_LOG.ab"
  after=$(cpu_ticks "$HOST_PID")
  stop_host
  local failed rps
  failed=$(awk '/^Failed requests:/ {print $3}' "$HOST_LOG.ab")
  rps=$(awk '/^Requests per second:/ {print $4}' "$HOST_LOG.ab")
  awk -v l="$label" -v t=$((after - before)) -v hz="$TICK" -v n="$REQUESTS" \
    -v f="$failed" -v r="$rps" 'BEGIN {
      printf "%-9s %8.2f CPU us/request  %10s req/s  %s failed\n",
             l, t * 1e6 / hz / n, r, f }'
  rm -f "$HOST_LOG" "$HOST_LOG.ab"
}

measure sync "$TEST_PLUGINS/libsleeper_sync.so"
measure blocking "$TEST_PLUGINS/libsleeper.so"
