// Runs the rounds: starts the servers, then for every round, every workload
// and every server (in an order that rotates each round, so that no server
// always runs first, right after a quiet machine, or last, after the others
// heated it) one load-generator run, read against the server's /proc
// figures. Stops the servers at the end, also on SIGINT.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "bench/load_generator.h"
#include "bench/progress.h"
#include "bench/run_record.h"
#include "bench/server_process.h"

namespace pounce::bench {

// One run's figures from what the load generator measured and the server
// CPU microseconds of its window (< 0: unknown): percentiles in µs from the
// ns histogram, rates and CPU per good answer (2xx, expected body).
Sample sample_of(const LoadResult& r, int64_t cpu_us);

class Runner {
 public:
  // `self`: the pounce-host binary; `work_dir`: a private scratch directory
  // for logs and peer configs; `abort`: set by the SIGINT handler.
  Runner(std::string self, std::string plugin_dir, std::string work_dir,
         const std::atomic<bool>* abort);
  ~Runner();

  // Returns false (with a reason) when pounce itself could not start or no
  // workload can run at all; peers that fail are noted and skipped.
  bool run(RunRecord* run, std::string* error);

 private:
  void plan(RunRecord* run);
  bool start_servers(RunRecord* run, std::string* error);
  Sample measure(const RunRecord& run, const std::string& workload,
                 const Target& target, pid_t pid, unsigned round,
                 unsigned order, ProgressLine* progress);
  void note(RunRecord* run, const std::string& text);

  std::string self_;
  std::string plugin_dir_;
  std::string work_dir_;
  const std::atomic<bool>* abort_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;  // as run->targets
};

}  // namespace pounce::bench
