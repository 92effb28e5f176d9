// `pounce-host bench --h2`: the load over HTTP/2 is Debian's h2load
// (nghttp2-client), run once per sample, and its printed summary is read
// back into a LoadResult so that the table, the ratios and the artifact are
// the HTTP/1 ones. The built-in load generator speaks HTTP/1 only.
//
// What h2load cannot give is said rather than guessed: it prints no latency
// percentiles (only min/max/mean), and it does not check bodies, so a
// workload with a known body is checked by size: the DATA bytes it counted
// must be the expected body's size per successful response.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/load_generator.h"

namespace pounce::bench {

struct H2LoadConfig {
  std::string scheme = "http";  // "http": h2c prior knowledge; "https": ALPN
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // The HTTP/1 request bytes of the workload: h2load sends the same method
  // (GET, or POST with the body), target and content type.
  std::string request;
  std::optional<std::string> expected_body;
  unsigned connections = 16;
  unsigned streams = 32;  // h2load -m
  unsigned threads = 1;   // h2load -t
  double warmup_s = 0;    // an unmeasured h2load run first
  double duration_s = 5;  // h2load -D
  int pin_cpu = -1;       // taskset -c
  std::string work_dir;   // where a request body file is written
};

// What h2load printed, as numbers.
struct H2LoadOutput {
  bool parsed = false;   // the "requests:" line was there
  std::string protocol;  // "Application protocol: h2" / "h2c"
  // With TLS: "TLS Protocol:", "Cipher:" and "Server Temp Key:".
  std::string tls_version, tls_cipher, tls_group;
  double finished_s = 0;
  uint64_t total = 0, started = 0, done = 0, succeeded = 0, failed = 0;
  uint64_t errored = 0, timeout = 0;
  uint64_t status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0;
  uint64_t traffic_bytes = 0, header_bytes = 0, data_bytes = 0;
  double request_min_us = -1, request_max_us = -1, request_mean_us = -1;
};

// Parses h2load's summary (nghttp2 1.4x-1.5x wording). `parsed` is false
// when the "requests:" line is missing (h2load failed before measuring).
H2LoadOutput parse_h2load_output(const std::string& text);

// "1.5ms" / "920us" / "2.01s" -> microseconds; < 0 when unreadable.
double parse_h2load_duration_us(const std::string& text);

// The LoadResult of one h2load run over `duration_s`: completed = done,
// non_2xx from the status codes, errored/timeout as read errors, a
// protocol other than h2/h2c or an unparsable summary as a protocol error,
// and wrong_body when the DATA bytes do not add up to the expected body
// per response.
LoadResult load_result_of(const H2LoadOutput& out, double duration_s,
                          const std::optional<std::string>& expected_body);

// The h2load command line for `config` (argv[0] "h2load", or "taskset" when
// pinned). `body_file`: the POST body, "" for a GET.
std::vector<std::string> h2load_argv(const H2LoadConfig& config,
                                     double duration_s,
                                     const std::string& body_file);

// Runs h2load (a warm-up run first when asked), calling window(true) just
// before the measured run starts and window(false) just after it exits.
// `*out` is what it printed. When h2load could not run or printed no
// summary, `*error` says why (with its output's tail) and the result has a
// protocol error, so that it can never count as a good sample.
LoadResult run_h2load(const H2LoadConfig& config,
                      const std::function<void(bool)>& window,
                      H2LoadOutput* out, std::string* error);

// `h2load --version`'s first line, or "" when h2load is not in PATH.
std::string h2load_version();

}  // namespace pounce::bench
