# Pounce Host: every entry point a newcomer or CI needs.
#
#   make run            install missing packages, build (Release), serve hello on :8000
#   make test           install missing packages, build, run every test suite
#   make test-sanitize  the same tests under ASan + UBSan
#   make test-tsan      the unit and integration tests under ThreadSanitizer
#   make fuzz           libFuzzer runs with a fixed seed and run count
#   make bench          the parser and compression benchmarks (Google Benchmark)

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_RUNS ?= 200000
# The TLS session fuzzer runs a server handshake per input: 50000 runs take
# about 26 s, 200000 about 105 s (tests/fuzz-tls/CMakeLists.txt).
FUZZ_TLS_RUNS ?= 50000
FUZZ_SEED ?= 1
PORT ?= 8000

# Debian 12 packages the build, the tests and the benchmarks use.
DEB_PACKAGES := \
  cmake g++ make pkg-config \
  libuv1-dev libzstd-dev zlib1g-dev libdeflate-dev libisal-dev \
  nlohmann-json3-dev libcxxopts-dev \
  libgtest-dev libbenchmark-dev libssl-dev libhttp-parser-dev \
  clang-14 libclang-rt-14-dev \
  curl python3 python3-h11 python3-websockets nodejs node-ws \
  wrk apache2-utils valgrind zstd util-linux \
  nginx h2o \
  openssl python3-h2 nghttp2-client chromium \
  python3-prometheus-client systemd libnghttp2-dev haproxy \
  media-types

.PHONY: deps build run test test-sanitize test-tsan fuzz bench format clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "deps: missing Debian packages: $$missing" >&2; \
	  echo "deps: run 'make deps' as root, or: sudo apt-get install $$missing" >&2; \
	  exit 1; \
	fi; \
	echo "deps: installing $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	exec $(BUILD)/bin/pounce-host --plugin $(BUILD)/plugins/libhello.so --port $(PORT)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-sanitize: deps
	# -O1 -g1: line numbers in sanitizer reports at a fraction of -O2 -g's build time.
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOUNCE_SANITIZE=ON \
	  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# TSan sees the host's own threads (workers, async loops, main); libuv is
# not instrumented, but every hand-over between our threads goes through a
# mutex or an atomic of ours, which TSan does see. The bench unit suite (label
# bench) is pure arithmetic and runs in the other two builds; the bench
# integration test still runs here.
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOUNCE_TSAN=ON \
	  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	TSAN_OPTIONS=second_deadlock_stack=1:history_size=4:allocator_may_return_null=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS) -LE bench

fuzz: deps
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPOUNCE_FUZZ=ON -DPOUNCE_BUILD_TESTS=OFF -DPOUNCE_BUILD_BENCH=OFF \
	  -DPOUNCE_FUZZ_RUNS=$(FUZZ_RUNS) -DPOUNCE_FUZZ_SEED=$(FUZZ_SEED) \
	  -DPOUNCE_TLS_FUZZ_RUNS=$(FUZZ_TLS_RUNS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target head_parser_fuzz chunked_body_fuzz ws_frame_fuzz tls_session_fuzz h2_session_fuzz
	cmake --build $(FUZZ_BUILD) --target run_fuzzers

bench: build
	$(BUILD)/bench/parser_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	$(BUILD)/bench/compress_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

format:
	git ls-files '*.c' '*.h' '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
