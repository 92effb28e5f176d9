#include "bench/bench_main.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bench/artifact.h"
#include "bench/baseline.h"
#include "bench/options.h"
#include "bench/runner.h"
#include "bench/svg_report.h"
#include "bench/table.h"

namespace pounce::bench {

namespace {

// Exit codes, documented in docs/benchmarking.md.
constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;       // bad options, or nothing could run
constexpr int kExitErrors = 3;      // pounce answered with errors
constexpr int kExitRegression = 4;  // --compare-baseline failed
// A server answered non-2xx or a wrong body: a pounce/peer ratio of that
// workload does not count.
constexpr int kExitRatioVoid = 5;
constexpr int kExitInterrupted = 130;

// Set by the SIGINT handler, polled by the runner between and during runs.
std::atomic<bool> g_abort{false};

void on_signal(int) {
  g_abort.store(true);
}

std::string resolve(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return path;
  std::string out = real;
  free(real);
  return out;
}

// A scratch directory for logs and peer configs, removed afterwards.
class WorkDir {
 public:
  WorkDir() {
    char tmpl[] = "/tmp/pounce-bench.XXXXXX";
    if (mkdtemp(tmpl)) path_ = tmpl;
  }
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return out.good();
}

}  // namespace

int bench_main(int argc, char** argv, const char* self_path) {
  BenchOptions options;
  std::string text;
  switch (parse_bench_options(argc, argv, &options, &text)) {
    case ParseOutcome::Exit:
      fputs(text.c_str(), stdout);
      return kExitOk;
    case ParseOutcome::Error:
      fprintf(stderr, "pounce-host bench: %s\n(see pounce-host bench --help)\n",
              text.c_str());
      return kExitUsage;
    case ParseOutcome::Run:
      break;
  }

  // A peer that resets a connection must not kill the client with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string self = resolve(self_path);
  std::string plugin_dir = options.plugin_dir.empty()
                               ? dir_of(self) + "/../plugins"
                               : options.plugin_dir;
  plugin_dir = resolve(plugin_dir);

  // Read the baseline first: a typo should fail in a second, not after a
  // ten-minute run.
  nlohmann::json baseline;
  if (!options.compare_baseline.empty()) {
    std::string error;
    if (!read_json_file(options.compare_baseline, &baseline, &error)) {
      fprintf(stderr, "pounce-host bench: --compare-baseline: %s\n",
              error.c_str());
      return kExitUsage;
    }
  }

  WorkDir work;
  if (work.path().empty()) {
    fprintf(stderr, "pounce-host bench: cannot create a directory in /tmp\n");
    return kExitUsage;
  }
  RunRecord run;
  run.options = options;
  std::string error;
  {
    Runner runner(self, plugin_dir, work.path(), &g_abort);
    if (!runner.run(&run, &error)) {
      fprintf(stderr, "pounce-host bench: %s\n", error.c_str());
      return g_abort.load() ? kExitInterrupted : kExitUsage;
    }
  }

  fputs(render_table(run).c_str(), stdout);
  fflush(stdout);

  nlohmann::json artifact = make_artifact(run, self);
  bool regression = false;
  if (!options.compare_baseline.empty()) {
    BaselineVerdict v = compare_with_baseline(baseline, artifact);
    v.record["file"] = options.compare_baseline;
    artifact["baseline"] = v.record;
    regression = !v.ok;
    std::string verdict = v.record["verdict"];
    fprintf(stderr, "pounce-host bench: baseline %s (rule %s): %s\n",
            options.compare_baseline.c_str(),
            v.record["rule"].get<std::string>().c_str(), verdict.c_str());
    for (const auto& c : v.record["checks"]) {
      fprintf(stderr, "  %s%s%s: %.3f -> %.3f (%+.1f%%)%s\n",
              c.value("workload", "").c_str(), c.contains("peer") ? " vs " : "",
              c.value("peer", "").c_str(), c["baseline"].get<double>(),
              c["current"].get<double>(), c["change"].get<double>() * 100,
              c["regression"].get<bool>() ? "  REGRESSION" : "");
    }
  }
  if (!options.artifact_output.empty() &&
      !write_json_file(options.artifact_output, artifact, &error)) {
    fprintf(stderr, "pounce-host bench: %s\n", error.c_str());
    return kExitUsage;
  }
  if (!options.report.empty()) {
    std::string title =
        "pounce-host bench: " +
        artifact["config"]["workload"].get<std::string>() + " (" +
        artifact["git_sha"].get<std::string>().substr(0, 12) + ")";
    if (!write_text(options.report, render_svg(run, title))) {
      fprintf(stderr, "pounce-host bench: cannot write %s\n",
              options.report.c_str());
      return kExitUsage;
    }
  }

  if (run.aborted) return kExitInterrupted;
  if (artifact["summary"]["pounce_errors"].get<bool>()) {
    fprintf(stderr,
            "pounce-host bench: pounce answered with errors: its figures do "
            "not count\n");
    return kExitErrors;
  }
  if (regression) return kExitRegression;
  if (!artifact["summary"]["ratios_do_not_count"].empty()) {
    fprintf(stderr,
            "pounce-host bench: a server answered non-2xx or wrong bodies: "
            "the pounce/peer ratios marked DOES NOT COUNT are no evidence\n");
    return kExitRatioVoid;
  }
  return kExitOk;
}

}  // namespace pounce::bench
