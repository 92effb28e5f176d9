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
  // The main listeners' URLs (real ports), in --listen order: the
  // `listener` label.
  std::vector<std::string> listeners;
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
  // Connections waiting for a request: HTTP/1.1 keep-alive between
  // requests, HTTP/2 with no stream open.
  uint64_t waiting = 0;
  // Open connections by listener (index in --listen order).
  std::vector<uint64_t> by_listener;
};

struct Snapshot {
  ProcessFacts facts;
  Readiness readiness = Readiness::Starting;
  uint64_t generation = 0;
  double uptime_seconds = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  // The blocking pool (POUNCE_MODE_BLOCKING), read when asked; absent
  // before the pool exists.
  bool has_blocking_pool = false;
  uint64_t blocking_queued = 0;     // jobs waiting for a thread
  uint64_t blocking_busy = 0;       // threads running a handler
  uint64_t blocking_threads = 0;    // threads started
  std::vector<LoopSnapshot> loops;  // workers first, then async loops
};

// The /status body.
std::string status_json(const Snapshot& s);
// The /metrics body (Prometheus text format 0.0.4).
std::string metrics_text(const Snapshot& s);

}  // namespace pounce::admin
