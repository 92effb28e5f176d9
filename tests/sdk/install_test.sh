#!/usr/bin/env bash
# The installed SDK works for a plugin author: `cmake --install` into a
# fresh prefix, then build the hello plugin (C) and the echo plugin (C++)
# with nothing but the pkg-config file, with cc, g++ and (when present)
# clang++, and serve a request from each with the real host.
#   tests/sdk/install_test.sh BUILD_DIR SOURCE_DIR POUNCE_HOST
set -euo pipefail
build=$1 src=$2 host=$3
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
pc=$(find "$work/prefix" -name pounce-sdk.pc)
[[ -n $pc ]] || { echo "FAIL: no pounce-sdk.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
# The .pc names the configured prefix; point it at this one.
cflags=$(pkg-config --define-variable=prefix="$work/prefix" --cflags pounce-sdk)
libs=$(pkg-config --define-variable=prefix="$work/prefix" --libs pounce-sdk)
gxx=$(pkg-config --variable=gxx_flags pounce-sdk)
[[ -f $work/prefix/include/pounce/pounce.h ]] || { echo "FAIL: headers not installed"; exit 1; }

serve() {  # serve LIB PATH EXPECTED
  # A fresh log per host, made before the host starts: the background
  # job's redirection may open it only after the loop below first reads it
  # (sed on a missing file fails, and set -e ends the script), and a shared
  # name would still hold the previous host's port.
  local log port=""
  log=$(mktemp "$work/host.XXXXXX.log")
  "$host" --plugin "$1" --port 0 --no-access-log 2>"$log" &
  pids+=($!)
  # Up to 30 s: a sanitizer build starts slowly on a busy machine.
  for _ in $(seq 600); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$log")
    [[ -n $port ]] && break
    sleep 0.05
  done
  [[ -n $port ]] || { cat "$log"; echo "FAIL: $1 did not start"; exit 1; }
  local got
  local body=()
  [[ -n ${4:-} ]] && body=(--data-binary "$4")
  got=$(curl -sS --max-time 10 "${body[@]}" "http://127.0.0.1:$port$2")
  kill "${pids[-1]}"
  wait "${pids[-1]}" 2>/dev/null || true
  [[ $got == "$3" ]] || { echo "FAIL: $1 $2 answered '$got', not '$3'"; exit 1; }
  echo "ok: $1 $2"
}

# shellcheck disable=SC2086
cc -std=c99 -O2 -Wall -Wextra -Werror $cflags "$src/plugins/hello/hello.c" $libs -o "$work/libhello-cc.so"
serve "$work/libhello-cc.so" /hello "Hello, World!"
# shellcheck disable=SC2086
g++ -std=c++20 -O2 -Wall -Wextra -Werror $cflags $gxx "$src/plugins/echo/echo.cpp" $libs -o "$work/libecho-gxx.so"
serve "$work/libecho-gxx.so" / "echoed" "echoed"
if command -v clang++-14 >/dev/null; then
  # shellcheck disable=SC2086
  clang++-14 -std=c++20 -O2 -Wall -Wextra -Werror $cflags "$src/plugins/echo/echo.cpp" $libs -o "$work/libecho-clang.so"
  serve "$work/libecho-clang.so" / "echoed" "echoed"
fi
# The installed version script keeps every other symbol local.
sh "$src/tests/abi/check_exports.sh" "$work"/lib*.so
echo "PASS"
