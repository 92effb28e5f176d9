#include "bench/options.h"

#include "cli/cxxopts_include.h"

#include <algorithm>
#include <sstream>

#include "bench/workload.h"

namespace pounce::bench {

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

namespace {

cxxopts::Options build() {
  cxxopts::Options o("pounce-host bench",
                     "Benchmark pounce-host with its built-in load "
                     "generator, optionally against nginx and h2o.");
  // Lists are comma-separated strings that we split ourselves: cxxopts'
  // vector options would also split --server-arg values.
  // One option per group of lines; clang-format would chain them unreadably.
  // clang-format off
  o.add_options()
      ("workload", "hello|json|echo|big|sse|ws|idle|all, or a comma list; "
                   "ws is ws-64,ws-512,ws-64-deflate,ws-512-deflate",
       cxxopts::value<std::string>()->default_value("hello"))
      ("workers", "Worker threads (processes for nginx) of every server",
       cxxopts::value<unsigned>()->default_value("1"))
      ("duration", "Seconds measured per run",
       cxxopts::value<double>()->default_value("5"))
      ("warmup", "Seconds of load before each measured window",
       cxxopts::value<double>()->default_value("0"))
      ("connections", "Keep-alive connections (streams for sse)",
       cxxopts::value<unsigned>()->default_value("64"))
      ("pipeline", "Requests in flight per connection",
       cxxopts::value<unsigned>()->default_value("1"))
      ("rate", "Fixed arrival rate in requests/s (0 = closed loop)",
       cxxopts::value<double>()->default_value("0"))
      ("repeat", "Rounds: every workload against every server, alternating",
       cxxopts::value<unsigned>()->default_value("1"))
      ("compare", "Peers to start and measure too: nginx,h2o",
       cxxopts::value<std::string>()->default_value(""))
      ("artifact-output", "Write the JSON artifact here",
       cxxopts::value<std::string>()->default_value(""))
      ("compare-baseline", "Fail (exit 4) on a regression against OLD.json",
       cxxopts::value<std::string>()->default_value(""))
      ("report", "Write an SVG chart here",
       cxxopts::value<std::string>()->default_value(""))
      ("plugin-dir", "Where libhello.so etc. are (default: "
                     "<dir of pounce-host>/../plugins)",
       cxxopts::value<std::string>()->default_value(""))
      ("load-threads", "Load generator threads",
       cxxopts::value<unsigned>()->default_value("1"))
      ("pin", "Servers on CPU 0, load generator on CPU 1")
      ("sse-burst", "Start every sse stream at once, so that their events "
                    "arrive in bursts (default: starts spread over one "
                    "interval)")
      ("sse-interval-ms", "Milliseconds between events of one sse stream",
       cxxopts::value<unsigned>()->default_value("10"))
      ("echo-body-size", "Bytes of the echo workload's request body",
       cxxopts::value<size_t>()->default_value("1024"))
      ("server-arg", "Extra pounce-host flag(s), comma-separated",
       cxxopts::value<std::string>()->default_value(""))
      ("tls", "Every server on https with a throwaway ECDSA P-256 "
              "certificate; the load generator speaks TLS")
      ("tls-version", "With --tls: the one TLS version the client offers "
                      "(1.3 or 1.2)",
       cxxopts::value<std::string>()->default_value("1.3"))
      ("new-conn", "One request per connection (Connection: close): "
                   "connect (and TLS handshake) cost per request; "
                   "hello/json/echo only")
      ("tls-resume", "With --tls --new-conn: resume each connection's "
                     "previous session (ticket) instead of a full handshake")
      ("h2", "Every workload over HTTP/2 with h2load (Debian "
             "nghttp2-client): h2c with prior knowledge, or ALPN h2 with "
             "--tls; nginx and h2o configured for HTTP/2")
      ("streams", "With --h2: concurrent streams per connection (h2load -m)",
       cxxopts::value<unsigned>()->default_value("32"))
      ("url", "Load a running server at http[s]://IPV4:PORT/PATH instead of "
              "starting any (no --compare)",
       cxxopts::value<std::string>()->default_value(""))
      ("target-pid", "With --url: the server's pid, for CPU and RSS",
       cxxopts::value<int>()->default_value("0"))
      ("no-progress", "No live progress line")
      ("h,help", "Print this help");
  // clang-format on
  return o;
}

// Expands "all" and the groups ("ws"), and checks the names. A workload
// that exists but is not built yet is accepted by name and reported at run
// time, but "all" means what can run.
bool expand_workloads(const std::string& spec, std::vector<std::string>* out,
                      std::string* error) {
  for (const std::string& name : split_list(spec)) {
    if (name == "all") {
      // Idle measures memory, not a load: asked for by name only.
      for (const Workload& w : all_workloads()) {
        if (w.implemented && w.client != ClientKind::Idle) {
          out->push_back(w.name);
        }
      }
    } else if (find_workload(name)) {
      out->push_back(name);
    } else if (auto group = workload_group(name); !group.empty()) {
      out->insert(out->end(), group.begin(), group.end());
    } else {
      *error = "unknown workload '" + name +
               "' (hello|json|echo|big|sse|ws|idle|all, or one of ws's "
               "rows)";
      return false;
    }
  }
  // Keep the first mention of each.
  std::vector<std::string> unique;
  for (const std::string& n : *out) {
    if (std::find(unique.begin(), unique.end(), n) == unique.end()) {
      unique.push_back(n);
    }
  }
  *out = std::move(unique);
  if (out->empty()) {
    *error = "no workload given";
    return false;
  }
  return true;
}

}  // namespace

ParseOutcome parse_bench_options(int argc, char** argv, BenchOptions* out,
                                 std::string* text) {
  cxxopts::Options options = build();
  BenchOptions o;
  bool tls_version_given = false;
  bool streams_given = false;
  o.command.push_back("pounce-host");
  for (int i = 0; i < argc; ++i) o.command.push_back(argv[i]);
  try {
    cxxopts::ParseResult r = options.parse(argc, argv);
    if (r.count("help")) {
      *text = options.help();
      return ParseOutcome::Exit;
    }
    if (!r.unmatched().empty()) {
      *text = "unexpected argument '" + r.unmatched().front() + "'";
      return ParseOutcome::Error;
    }
    if (!expand_workloads(r["workload"].as<std::string>(), &o.workloads,
                          text)) {
      return ParseOutcome::Error;
    }
    o.workers = r["workers"].as<unsigned>();
    o.duration_s = r["duration"].as<double>();
    o.warmup_s = r["warmup"].as<double>();
    o.connections = r["connections"].as<unsigned>();
    o.pipeline = r["pipeline"].as<unsigned>();
    o.rate = r["rate"].as<double>();
    o.repeat = r["repeat"].as<unsigned>();
    o.compare = split_list(r["compare"].as<std::string>());
    o.artifact_output = r["artifact-output"].as<std::string>();
    o.compare_baseline = r["compare-baseline"].as<std::string>();
    o.report = r["report"].as<std::string>();
    o.plugin_dir = r["plugin-dir"].as<std::string>();
    o.load_threads = r["load-threads"].as<unsigned>();
    o.pin = r.count("pin") > 0;
    o.sse_interval_ms = r["sse-interval-ms"].as<unsigned>();
    o.sse_burst = r.count("sse-burst") > 0;
    o.echo_body_size = r["echo-body-size"].as<size_t>();
    o.server_args = split_list(r["server-arg"].as<std::string>());
    o.progress = r.count("no-progress") == 0;
    o.url = r["url"].as<std::string>();
    o.target_pid = r["target-pid"].as<int>();
    o.tls = r.count("tls") > 0 || o.url.rfind("https://", 0) == 0;
    o.tls_version = r["tls-version"].as<std::string>();
    o.new_conn = r.count("new-conn") > 0;
    o.tls_resume = r.count("tls-resume") > 0;
    o.h2 = r.count("h2") > 0;
    o.streams = r["streams"].as<unsigned>();
    tls_version_given = r.count("tls-version") > 0;
    streams_given = r.count("streams") > 0;
  } catch (const cxxopts::exceptions::exception& e) {
    *text = e.what();
    return ParseOutcome::Error;
  }
  const char* bad = nullptr;
  if (o.workers == 0) bad = "--workers must be at least 1";
  if (!(o.duration_s > 0)) bad = "--duration must be positive";
  if (o.warmup_s < 0) bad = "--warmup must not be negative";
  if (o.connections == 0) bad = "--connections must be at least 1";
  if (o.pipeline == 0) bad = "--pipeline must be at least 1";
  if (o.rate < 0) bad = "--rate must not be negative";
  if (o.repeat == 0) bad = "--repeat must be at least 1";
  if (o.load_threads == 0) bad = "--load-threads must be at least 1";
  if (o.sse_interval_ms == 0) bad = "--sse-interval-ms must be at least 1";
  for (const std::string& p : o.compare) {
    if (p != "nginx" && p != "h2o") bad = "--compare takes nginx and/or h2o";
  }
  if (!o.url.empty() && !o.compare.empty()) {
    bad = "--url measures one running server: no --compare";
  }
  if (!o.url.empty() && o.url.rfind("http://", 0) != 0 &&
      o.url.rfind("https://", 0) != 0) {
    bad = "--url takes http[s]://IPV4:PORT/PATH";
  }
  if (o.tls && o.url.rfind("http://", 0) == 0) {
    bad = "--tls with --url wants an https:// URL";
  }
  if (o.tls_version != "1.3" && o.tls_version != "1.2") {
    bad = "--tls-version takes 1.3 or 1.2";
  }
  if (o.tls_resume && !(o.tls && o.new_conn)) {
    bad = "--tls-resume needs --tls and --new-conn";
  }
  // h2load keeps `streams` requests in flight per connection, closed loop,
  // over keep-alive connections, and offers TLS as its build does.
  if (o.streams == 0) bad = "--streams must be at least 1";
  if (streams_given && !o.h2) bad = "--streams needs --h2";
  if (o.h2 && o.new_conn) bad = "--new-conn is HTTP/1 only (not with --h2)";
  if (o.h2 && o.pipeline != 1) {
    bad = "--pipeline is HTTP/1 only; with --h2 use --streams";
  }
  if (o.h2 && o.rate > 0) bad = "--rate is not available with --h2";
  if (o.h2 && tls_version_given) {
    bad =
        "--tls-version is not available with --h2 (h2load offers its "
        "own TLS versions; it negotiates TLS 1.3 with every server here)";
  }
  if (bad) {
    *text = bad;
    return ParseOutcome::Error;
  }
  *out = std::move(o);
  return ParseOutcome::Run;
}

}  // namespace pounce::bench
