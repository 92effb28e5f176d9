// The command line of `pounce-host bench` (ARCHITECTURE.md §3 "Bench").
#pragma once

#include <string>
#include <vector>

namespace pounce::bench {

struct BenchOptions {
  std::vector<std::string> workloads;  // in run order; "all" expanded
  unsigned workers = 1;
  double duration_s = 5;
  double warmup_s = 0;
  unsigned connections = 64;
  unsigned pipeline = 1;
  double rate = 0;  // requests/s; 0 = closed loop
  unsigned repeat = 1;
  std::vector<std::string> compare;  // peers: nginx, h2o
  std::string artifact_output;
  std::string compare_baseline;
  std::string report;
  std::string plugin_dir;  // empty: <dir of pounce-host>/../plugins
  unsigned load_threads = 1;
  bool pin = false;  // server on CPU 0, load on CPU 1
  unsigned sse_interval_ms = 10;
  bool sse_burst = false;  // all streams start at once
  size_t echo_body_size = 1024;
  std::vector<std::string> server_args;  // extra pounce-host flags
  // Load an already running server instead (no server is started): for
  // checking the load generator against wrk on the same target.
  std::string url;
  int target_pid = 0;    // its pid, for CPU and RSS figures
  bool progress = true;  // only shown on a TTY anyway
  // --tls: every server listens on https with the run's throwaway
  // certificate, and the load generator speaks TLS `tls_version` ("1.3" or
  // "1.2", pinned). --url https://... sets it too.
  bool tls = false;
  std::string tls_version = "1.3";
  // --new-conn: one request per connection (Connection: close), so that
  // each request pays a connect (and with --tls a handshake).
  bool new_conn = false;
  // --tls-resume (with --new-conn): each connection offers the session
  // ticket of its previous one, measuring resumed handshakes.
  bool tls_resume = false;
  // --h2: every workload over HTTP/2, driven by Debian's h2load (h2c with
  // prior knowledge, or ALPN h2 with --tls), `streams` concurrent streams
  // per connection (h2load -m).
  bool h2 = false;
  unsigned streams = 32;

  // The command as typed, for the artifact.
  std::vector<std::string> command;
};

enum class ParseOutcome { Run, Exit, Error };

// argv[0] is "bench". On Exit, `*text` holds the help; on Error, the reason.
ParseOutcome parse_bench_options(int argc, char** argv, BenchOptions* out,
                                 std::string* text);

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_list(const std::string& list);

}  // namespace pounce::bench
