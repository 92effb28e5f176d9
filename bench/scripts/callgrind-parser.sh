#!/usr/bin/env bash
# Instructions per parse of each head-parser input, for the SIMD and scalar
# paths and for http-parser, counted by callgrind (deterministic: the
# shared machine's noise does not reach it). Each figure is the difference
# between a run of 10,001 parses and a run of 1, divided by 10,000.
#   bench/scripts/callgrind-parser.sh [INPUT...]   (default: Browser703 MinimalGet)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin="$BUILD/bench/parser_bench"
[[ -x $bin ]] || { echo "callgrind-parser: build $bin first (make build)" >&2; exit 2; }
inputs=("$@")
[[ ${#inputs[@]} -eq 0 ]] && inputs=(Browser703 MinimalGet)
count() {  # count SPEC: instructions of one run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" \
    "--count-only=$1" 2>&1 | awk '/Collected/{print $4}'
}
for input in "${inputs[@]}"; do
  for parser in simd scalar http_parser; do
    one=$(count "$input/$parser:1")
    many=$(count "$input/$parser:10001")
    echo "$input/$parser: $(((many - one) / 10000)) instructions per parse"
  done
done
