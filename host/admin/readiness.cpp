#include "admin/readiness.h"

#include <atomic>
#include <cstdio>

namespace pounce::admin {

namespace {

// Written by the main thread at each transition, read by the admin thread
// and by workers answering --health-check-path: single values that guard
// nothing else, so relaxed ordering suffices. Touched per probe, never per
// ordinary request.
std::atomic<Readiness> g_readiness{Readiness::Starting};
std::atomic<uint64_t> g_generation{0};
// Reloads by outcome: written by the main thread once per reload, read by
// scrapes; plain counters that guard nothing else.
std::atomic<uint64_t> g_reloads_ok{0};
std::atomic<uint64_t> g_reloads_failed{0};

}  // namespace

void set_readiness(Readiness r) {
  g_readiness.store(r, std::memory_order_relaxed);
}

void set_current_generation(uint64_t id) {
  g_generation.store(id, std::memory_order_relaxed);
}

void count_reload(bool ok) {
  (ok ? g_reloads_ok : g_reloads_failed)
      .fetch_add(1, std::memory_order_relaxed);
}

uint64_t reloads(bool ok) {
  return (ok ? g_reloads_ok : g_reloads_failed).load(std::memory_order_relaxed);
}

Readiness readiness() {
  return g_readiness.load(std::memory_order_relaxed);
}

uint64_t current_generation() {
  return g_generation.load(std::memory_order_relaxed);
}

size_t ready_answer(char* buf, size_t cap, int* status) {
  int n = 0;
  switch (readiness()) {
    case Readiness::Ready:
      *status = 200;
      n = snprintf(buf, cap, "{\"status\":\"ready\",\"generation\":%llu}\n",
                   static_cast<unsigned long long>(current_generation()));
      break;
    case Readiness::Starting:
      *status = 503;
      n = snprintf(buf, cap, "{\"status\":\"starting\"}\n");
      break;
    case Readiness::Draining:
      *status = 503;
      n = snprintf(buf, cap, "{\"status\":\"draining\"}\n");
      break;
  }
  if (n < 0) return 0;
  return static_cast<size_t>(n) < cap ? static_cast<size_t>(n) : cap - 1;
}

}  // namespace pounce::admin
