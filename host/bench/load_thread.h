// One load thread: a libuv loop, its share of the connections, and its own
// counters and histogram (merged by LoadGenerator after the run, so that the
// hot path shares nothing between threads).
//
// The controlling thread talks to it only through command_*() (an atomic
// word and a uv_async_t); everything else runs on the loop thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "bench/latency_histogram.h"
#include "bench/load_generator.h"
#include "bench/rate_schedule.h"
#include "bench/ws_client.h"

namespace pounce::bench {

class Connection;

class LoadThread {
 public:
  LoadThread(const LoadConfig& config, unsigned connections, double rate);
  ~LoadThread();
  LoadThread(const LoadThread&) = delete;
  LoadThread& operator=(const LoadThread&) = delete;

  // Controlling thread.
  void start();
  void command_begin();  // start sending
  void command_reset();  // the warm-up ends: forget what was counted
  void command_stop();   // end the window and close everything
  void join();
  // The loop exists and takes commands.
  bool started() const { return started_.load(std::memory_order_acquire); }
  // Every connection made its first connect attempt.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // The loop took the last command_reset() (or command_begin() when there
  // is no warm-up): its window is open.
  bool window_open() const {
    return window_opened_.load(std::memory_order_acquire);
  }
  // The loop took command_stop(): its window is closed and counts no more.
  bool window_closed() const {
    return window_closed_.load(std::memory_order_acquire);
  }
  uint64_t progress() const {
    return progress_.load(std::memory_order_relaxed);
  }

  // Results, valid after join().
  const LoadCounters& counters() const { return counters_; }
  const LatencyHistogram& latency() const { return latency_; }
  double window_s() const { return window_s_; }
  // uv_hrtime() when the measured window opened (after any warm-up) and
  // closed on this thread.
  uint64_t window_start_ns() const { return window_start_; }
  uint64_t window_end_ns() const { return window_end_; }
  uint64_t unsent() const { return unsent_; }
  bool all_connected() const { return all_connected_; }
  // CPU seconds this thread used in the measured window.
  double cpu_s() const { return cpu_s_; }

  // Loop thread, for connections.
  uv_loop_t* loop() { return &loop_; }
  const LoadConfig& config() const { return config_; }
  const sockaddr_in& address() const { return address_; }
  bool begun() const { return begun_; }
  bool stopping() const { return stopping_; }
  LoadCounters& live() { return counters_; }
  void record_latency(uint64_t ns) { latency_.record(ns); }
  // Open loop: a request due at `intended_ns` is given up on at `now`: its
  // latency so far is recorded, so that a stall shows in the tail.
  void abandon(uint64_t intended_ns, uint64_t now) {
    ++counters_.abandoned;
    latency_.record(now > intended_ns ? now - intended_ns : 0);
  }
  void publish_progress() {
    progress_.store(counters_.completed, std::memory_order_relaxed);
  }
  char* read_buffer() { return read_buffer_.data(); }
  // --tls: where SSL_read puts plaintext (one per thread, like the read
  // buffer: a record is handled completely before the next is read).
  char* plain_buffer() { return plain_buffer_.data(); }
  size_t plain_buffer_size() const { return plain_buffer_.size(); }
  // --tls: null when the context could not be made (tls_error() says why).
  const TlsClientContext* tls_context() const { return tls_context_.get(); }
  void note_tls_handshake(const TlsStream& tls);
  void note_tls_error(const std::string& reason);
  // Valid after join().
  const TlsFacts& tls_facts() const { return tls_facts_; }
  const std::string& tls_error() const { return tls_error_; }
  size_t read_buffer_size() const { return read_buffer_.size(); }
  // A connection finished its first connect attempt (either way).
  void first_connect_done(bool ok);

  // Open loop: a connection can take one more request now.
  bool open_loop() const { return config_.rate > 0; }
  void offer_capacity(Connection* c);

 private:
  void run();
  void on_command();
  void begin();
  void stop();
  void dispatch_due();
  void arm_timer();
  void start_staggered();
  static void on_stagger(uv_timer_t* t);
  static void on_async(uv_async_t* h);
  static void on_timer_fd(uv_poll_t* h, int status, int events);

  LoadConfig config_;
  unsigned connection_count_;
  double rate_;
  sockaddr_in address_{};
  uv_loop_t loop_{};
  uv_async_t async_{};
  // Command bits: the controlling thread ORs them in (release) before
  // signalling async_, the loop takes them all at once (acquire).
  std::atomic<int> commands_{0};
  // Set once by the loop thread (release), polled by the controlling thread
  // (acquire): the loop exists / every first connect attempt is done.
  std::atomic<bool> started_{false};
  std::atomic<bool> ready_{false};
  // Set by the loop thread (release) when it opened / closed its measured
  // window, polled by the controlling thread (acquire), which reads the
  // server's CPU time only then, so that both windows cover the same time.
  std::atomic<bool> window_opened_{false};
  std::atomic<bool> window_closed_{false};
  // Completed count for the progress line; relaxed, display only.
  std::atomic<uint64_t> progress_{0};
  std::thread thread_;

  std::vector<std::unique_ptr<Connection>> connections_;
  // config_.stagger_ms: starts connections_[stagger_next_..] over time.
  uv_timer_t stagger_timer_{};
  size_t stagger_next_ = 0;
  WsMessages ws_messages_;  // shared by the WebSocket connections
  std::vector<char> read_buffer_;
  std::vector<char> plain_buffer_;
  std::unique_ptr<TlsClientContext> tls_context_;
  TlsFacts tls_facts_;
  std::string tls_error_;  // the first failure's reason
  unsigned first_connects_ = 0;
  unsigned connected_ = 0;
  bool begun_ = false;
  bool stopping_ = false;
  uint64_t window_start_ = 0;
  uint64_t window_end_ = 0;

  // Open loop.
  RateSchedule schedule_;
  int timer_fd_ = -1;
  uv_poll_t timer_poll_{};
  std::vector<Connection*> with_capacity_;  // LIFO: keeps hot ones busy

  LoadCounters counters_;
  LatencyHistogram latency_;
  double window_s_ = 0;
  uint64_t cpu_start_ns_ = 0;
  double cpu_s_ = 0;
  uint64_t unsent_ = 0;
  bool all_connected_ = false;
};

}  // namespace pounce::bench
