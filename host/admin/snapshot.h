// What the admin listener reports: facts of the process, and of each loop
// as that loop itself reads them on its own thread (admin_server.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "admin/readiness.h"

namespace pounce::admin {

// Fixed for the life of the serving process.
struct ProcessFacts {
  std::string version;
  unsigned workers = 0;
  unsigned async_threads = 0;
  // Restarts of the serving process by the supervisor before this one.
  unsigned supervisor_restarts = 0;
  bool supervised = false;
  std::chrono::steady_clock::time_point started{};
};

// One loop's counts, read on that loop's thread (loop-thread-only fields,
// no shared counter).
struct LoopSnapshot {
  std::string role;  // "worker" or "async"
  unsigned index = 0;
  bool answered = false;  // false: it did not answer in time (busy, stuck)
  bool draining = false;
  uint64_t connections = 0;  // open on this loop
  // Workers: connections they handed to async loops, still open there
  // (counted in those loops' `connections` too).
  int64_t handed_off = 0;
  uint64_t streams = 0;     // async streams open (SSE, chunked, ...)
  uint64_t websockets = 0;  // WebSockets open
};

struct Snapshot {
  ProcessFacts facts;
  Readiness readiness = Readiness::Starting;
  uint64_t generation = 0;
  double uptime_seconds = 0;
  std::vector<LoopSnapshot> loops;  // workers first, then async loops
};

// The /status body.
std::string status_json(const Snapshot& s);
// The /metrics body (Prometheus text format 0.0.4).
std::string metrics_text(const Snapshot& s);

}  // namespace pounce::admin
