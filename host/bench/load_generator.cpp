#include "bench/load_generator.h"

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "bench/load_thread.h"

namespace pounce::bench {

namespace {

using Clock = std::chrono::steady_clock;

// How long to wait for every connection's first connect attempt before
// starting anyway (the ones that failed keep retrying and count errors).
constexpr auto kConnectWait = std::chrono::seconds(5);
constexpr auto kProgressEvery = std::chrono::milliseconds(250);
// How often to look whether the load threads took a command.
constexpr auto kCommandPoll = std::chrono::microseconds(100);

bool aborted(const std::atomic<bool>* abort) {
  return abort && abort->load(std::memory_order_relaxed);
}

// Sleeps until `until`, reporting progress; returns false when aborted.
bool wait_until(Clock::time_point until, Clock::time_point window_start,
                const std::vector<std::unique_ptr<LoadThread>>& threads,
                const std::function<void(double, uint64_t)>& progress,
                const std::atomic<bool>* abort) {
  for (;;) {
    if (aborted(abort)) return false;
    auto now = Clock::now();
    if (now >= until) return true;
    if (progress) {
      uint64_t done = 0;
      for (auto& t : threads) done += t->progress();
      progress(std::chrono::duration<double>(now - window_start).count(), done);
    }
    std::this_thread::sleep_for(
        std::min<Clock::duration>(kProgressEvery, until - now));
  }
}

}  // namespace

LoadResult LoadGenerator::run(
    const std::function<void(double, uint64_t)>& progress,
    const std::atomic<bool>* abort, const std::function<void(bool)>& window) {
  unsigned threads = config_.threads == 0 ? 1 : config_.threads;
  if (threads > config_.connections) threads = config_.connections;
  std::vector<std::unique_ptr<LoadThread>> pool;
  for (unsigned i = 0; i < threads; ++i) {
    // Spread connections (and the rate) as evenly as integers allow.
    unsigned share = config_.connections / threads +
                     (i < config_.connections % threads ? 1 : 0);
    double rate = config_.rate * share / config_.connections;
    pool.push_back(std::make_unique<LoadThread>(config_, share, rate));
  }
  for (auto& t : pool) t->start();

  auto deadline = Clock::now() + kConnectWait;
  for (auto& t : pool) {
    while (!t->ready() && Clock::now() < deadline && !aborted(abort)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  for (auto& t : pool) {
    while (!t->started()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // The server's figures (CPU time) are read when every load thread has
  // actually opened, and then closed, its window: not when the command was
  // sent, which a busy loop takes up a little later.
  auto when_all = [&](bool (LoadThread::*done)() const) {
    for (auto& t : pool) {
      while (!((*t).*done)()) std::this_thread::sleep_for(kCommandPoll);
    }
  };
  auto start = Clock::now();
  for (auto& t : pool) t->command_begin();
  auto warmup = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config_.warmup_s));
  auto length = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config_.duration_s));
  auto window_start = start + warmup;
  bool ok = true;
  if (config_.warmup_s > 0) {
    ok = wait_until(window_start, window_start, pool, progress, abort);
    for (auto& t : pool) t->command_reset();
  }
  when_all(&LoadThread::window_open);
  if (window) window(true);
  if (ok)
    wait_until(window_start + length, window_start, pool, progress, abort);
  for (auto& t : pool) t->command_stop();
  when_all(&LoadThread::window_closed);
  if (window) window(false);

  LoadResult result;
  result.connected = true;
  double window_sum = 0;
  for (auto& t : pool) {
    t->join();
    result.counters.add(t->counters());
    result.latency.merge(t->latency());
    result.unsent += t->unsent();
    result.connected = result.connected && t->all_connected();
    window_sum += t->window_s();
    if (result.tls.empty()) result.tls = t->tls_facts();
    if (result.tls_error.empty()) result.tls_error = t->tls_error();
    result.window_opened_ns =
        std::max(result.window_opened_ns, t->window_start_ns());
    result.window_closed_ns =
        std::max(result.window_closed_ns, t->window_end_ns());
    if (t->window_s() > 0) {
      result.load_cpu_percent =
          std::max(result.load_cpu_percent, 100 * t->cpu_s() / t->window_s());
    }
  }
  // The threads' windows differ by the microseconds a command takes to
  // reach each loop; their mean is the window.
  result.elapsed_s = window_sum / static_cast<double>(pool.size());
  return result;
}

}  // namespace pounce::bench
