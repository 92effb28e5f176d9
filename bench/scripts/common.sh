# Shared by the measurement scripts: start pounce-host on a free port and
# read its resident memory.
BUILD=${BUILD:-build}
HOST_BIN=${HOST_BIN:-$BUILD/bin/pounce-host}
PLUGINS=${PLUGINS:-$BUILD/plugins}

# start_host ARGS... : sets HOST_PID, HOST_PORT and HOST_LOG (its stderr)
start_host() {
  local log
  log=$(mktemp)
  HOST_LOG=$log
  "$HOST_BIN" "$@" --port 0 --no-access-log 2>"$log" >/dev/null &
  HOST_PID=$!
  for _ in $(seq 200); do
    HOST_PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$log")
    [[ -n $HOST_PORT ]] && break
    sleep 0.05
  done
  [[ -n $HOST_PORT ]] || { cat "$log" >&2; exit 1; }
}

stop_host() { kill -TERM "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null || true; }

# tree_pids PID : PID and its descendants (the supervisor and its child)
tree_pids() {
  local p
  echo "$1"
  for p in $(cat "/proc/$1/task/"*/children 2>/dev/null); do tree_pids "$p"; done
}
# rss_kb PID : VmRSS in KiB, of the whole process tree
rss_kb() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/status"; done |
    awk '/^VmRSS:/{n += $2} END {print n}'
}
hwm_kb() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/status"; done |
    awk '/^VmHWM:/{n += $2} END {print n}'
}

# hold_open N REQUEST : opens N connections that each send REQUEST and stay
# open until release_held; returns once they are all in place.
hold_open() {
  local out
  out=$(mktemp)
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/hold_connections.py" \
    "$HOST_PORT" "$1" "$2" >"$out" &
  HOLD_PID=$!
  for _ in $(seq 1200); do
    grep -q ready "$out" && return 0
    sleep 0.1
  done
  echo "hold_open: the connections did not open" >&2
  return 1
}
release_held() { kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true; }

# rss_of_held N REQUEST : warms the loop's buffers with 10 throw-away
# connections, then sets RSS_BEFORE and RSS_AFTER (KiB) around opening N
# connections that each send REQUEST and stay open; closes them after.
rss_of_held() {
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/hold_connections.py" \
    "$HOST_PORT" 10 "$2" --exit >/dev/null
  RSS_BEFORE=$(rss_kb "$HOST_PID")
  hold_open "$1" "$2"
  RSS_AFTER=$(rss_kb "$HOST_PID")
  release_held
}
