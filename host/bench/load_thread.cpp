#include "bench/load_thread.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bench/http_client.h"
#include "bench/load_connection.h"
#include "bench/sse_client.h"

namespace pounce::bench {

namespace {

enum Command : int { kBegin = 1, kReset = 2, kStop = 4 };

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// Open loop: never arm the timer closer than this to now. Requests due in
// the meantime go out together, a little late, and their latency says so
// because it is measured from the intended time.
constexpr uint64_t kMinTimerNs = 20'000;

// Large enough that a read takes a whole pipelined batch of small responses.
constexpr size_t kReadBuffer = 256 * 1024;
// --tls: the plaintext of one SSL_read, at most one record (16 KiB) and
// then some.
constexpr size_t kPlainBuffer = 64 * 1024;

}  // namespace

void LoadCounters::add(const LoadCounters& o) {
  completed += o.completed;
  non_2xx += o.non_2xx;
  wrong_body += o.wrong_body;
  connect_errors += o.connect_errors;
  read_errors += o.read_errors;
  write_errors += o.write_errors;
  protocol_errors += o.protocol_errors;
  abandoned += o.abandoned;
  bytes_read += o.bytes_read;
  response_bytes += o.response_bytes;
  tls_handshakes += o.tls_handshakes;
  tls_resumed += o.tls_resumed;
}

LoadThread::LoadThread(const LoadConfig& config, unsigned connections,
                       double rate)
    : config_(config),
      connection_count_(connections),
      rate_(rate),
      read_buffer_(kReadBuffer) {
  uv_ip4_addr(config_.host.c_str(), config_.port, &address_);
  if (config_.tls) {
    plain_buffer_.resize(kPlainBuffer);
    tls_context_ = TlsClientContext::create(config_.tls_options, &tls_error_);
  }
}

void LoadThread::note_tls_handshake(const TlsStream& tls) {
  ++counters_.tls_handshakes;
  if (tls.resumed()) ++counters_.tls_resumed;
  // Once: every connection of a run talks to the same server with the same
  // context.
  if (tls_facts_.empty()) tls_facts_ = tls.facts();
}

void LoadThread::note_tls_error(const std::string& reason) {
  if (tls_error_.empty()) tls_error_ = reason;
}

LoadThread::~LoadThread() {
  if (thread_.joinable()) thread_.join();
}

void LoadThread::start() {
  thread_ = std::thread(&LoadThread::run, this);
}

void LoadThread::join() {
  if (thread_.joinable()) thread_.join();
}

void LoadThread::command_begin() {
  commands_.fetch_or(kBegin, std::memory_order_release);
  uv_async_send(&async_);
}

void LoadThread::command_reset() {
  commands_.fetch_or(kReset, std::memory_order_release);
  uv_async_send(&async_);
}

void LoadThread::command_stop() {
  commands_.fetch_or(kStop, std::memory_order_release);
  uv_async_send(&async_);
}

void LoadThread::run() {
  if (config_.pin_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config_.pin_cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  uv_loop_init(&loop_);
  // The async handle must exist before the controlling thread may signal
  // it: it waits for started().
  uv_async_init(&loop_, &async_, on_async);
  async_.data = this;
  started_.store(true, std::memory_order_release);
  uv_timer_init(&loop_, &stagger_timer_);
  stagger_timer_.data = this;
  if (open_loop()) {
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    uv_poll_init(&loop_, &timer_poll_, timer_fd_);
    timer_poll_.data = this;
    uv_poll_start(&timer_poll_, UV_READABLE, on_timer_fd);
  }
  if (config_.kind == ClientKind::WebSocket) {
    ws_messages_ = build_ws_messages(config_.ws_message_size);
  }
  for (unsigned i = 0; i < connection_count_; ++i) {
    if (config_.kind == ClientKind::EventStream) {
      connections_.push_back(
          std::make_unique<SseConnection>(*this, config_.request));
    } else if (config_.kind == ClientKind::WebSocket) {
      connections_.push_back(
          std::make_unique<WsConnection>(*this, config_.request, ws_messages_,
                                         config_.pipeline, config_.ws_deflate));
    } else {
      connections_.push_back(std::make_unique<HttpConnection>(
          *this, config_.request, config_.pipeline,
          config_.expected_body ? &*config_.expected_body : nullptr));
    }
  }
  for (auto& c : connections_) c->open();
  if (connection_count_ == 0) ready_.store(true, std::memory_order_release);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Every handle is closed now; the connections can go.
  connections_.clear();
  if (timer_fd_ >= 0) close(timer_fd_);
  uv_loop_close(&loop_);
}

void LoadThread::first_connect_done(bool ok) {
  ++first_connects_;
  if (ok) ++connected_;
  if (first_connects_ == connection_count_) {
    all_connected_ = connected_ == connection_count_;
    ready_.store(true, std::memory_order_release);
  }
}

void LoadThread::on_async(uv_async_t* h) {
  static_cast<LoadThread*>(h->data)->on_command();
}

void LoadThread::on_command() {
  int cmd = commands_.exchange(0, std::memory_order_acquire);
  if ((cmd & kBegin) && !begun_) begin();
  if (cmd & kReset) {
    counters_ = LoadCounters();
    latency_.reset();
    window_start_ = uv_hrtime();
    cpu_start_ns_ = thread_cpu_ns();
    publish_progress();
    window_opened_.store(true, std::memory_order_release);
  }
  if (cmd & kStop) stop();
}

void LoadThread::begin() {
  begun_ = true;
  window_start_ = uv_hrtime();
  cpu_start_ns_ = thread_cpu_ns();
  if (config_.warmup_s <= 0) {
    window_opened_.store(true, std::memory_order_release);
  }
  if (open_loop()) {
    schedule_.start_ns = window_start_;
    schedule_.interval_ns = 1e9 / rate_;
    schedule_.next = 0;
  }
  if (config_.stagger_ms > 0 && connections_.size() > 1) {
    start_staggered();
    uv_timer_start(&stagger_timer_, on_stagger, 1, 1);
  } else {
    for (auto& c : connections_) {
      if (c->is_open()) c->start_traffic();
    }
  }
  if (open_loop()) dispatch_due();
}

void LoadThread::on_stagger(uv_timer_t* t) {
  auto* self = static_cast<LoadThread*>(t->data);
  self->start_staggered();
  if (self->stagger_next_ >= self->connections_.size()) uv_timer_stop(t);
}

void LoadThread::start_staggered() {
  // Connection i starts at i/n of the stagger period after begin().
  const uint64_t elapsed = uv_hrtime() - window_start_;
  const uint64_t period = uint64_t{config_.stagger_ms} * 1'000'000;
  const size_t n = connections_.size();
  const size_t due =
      std::min<size_t>(n, static_cast<size_t>(elapsed * n / period) + 1);
  for (; stagger_next_ < due; ++stagger_next_) {
    Connection& c = *connections_[stagger_next_];
    // One not open yet starts from its connect callback instead.
    if (c.is_open()) c.start_traffic();
  }
}

void LoadThread::stop() {
  if (stopping_) return;
  stopping_ = true;
  uint64_t now = uv_hrtime();
  window_end_ = now;
  window_s_ = static_cast<double>(now - window_start_) / 1e9;
  cpu_s_ = static_cast<double>(thread_cpu_ns() - cpu_start_ns_) / 1e9;
  if (open_loop() && begun_) {
    // Nothing due in the window goes unrecorded: what is in flight, and
    // what was due but never sent (the server was behind), each with its
    // latency up to now.
    for (auto& c : connections_) c->abandon_in_flight(now);
    unsent_ = schedule_.backlog(now);
    for (uint64_t due = schedule_.due(now); schedule_.next < due;) {
      abandon(schedule_.intended(schedule_.next++), now);
    }
  }
  publish_progress();
  window_closed_.store(true, std::memory_order_release);
  for (auto& c : connections_) c->shutdown();
  uv_close(reinterpret_cast<uv_handle_t*>(&stagger_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  if (open_loop()) {
    uv_poll_stop(&timer_poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_poll_), nullptr);
  }
}

void LoadThread::offer_capacity(Connection* c) {
  if (!c->offered && c->has_capacity()) {
    c->offered = true;
    with_capacity_.push_back(c);
  }
  if (begun_ && !stopping_) dispatch_due();
}

void LoadThread::dispatch_due() {
  uint64_t now = uv_hrtime();
  uint64_t due = schedule_.due(now);
  while (schedule_.next < due && !with_capacity_.empty()) {
    Connection* c = with_capacity_.back();
    if (!c->has_capacity()) {
      c->offered = false;
      with_capacity_.pop_back();
      continue;
    }
    c->send_scheduled(schedule_.intended(schedule_.next++));
  }
  arm_timer();
}

void LoadThread::arm_timer() {
  uint64_t now = uv_hrtime();
  if (schedule_.backlog(now) > 0 && with_capacity_.empty()) {
    // Behind schedule with every connection full: the next response makes
    // room and dispatches, so a timer would only spin.
    itimerspec off{};
    timerfd_settime(timer_fd_, 0, &off, nullptr);
    return;
  }
  uint64_t at = schedule_.intended(schedule_.next);
  if (at < now + kMinTimerNs) at = now + kMinTimerNs;
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(at / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(at % 1'000'000'000);
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void LoadThread::on_timer_fd(uv_poll_t* h, int, int) {
  auto* t = static_cast<LoadThread*>(h->data);
  uint64_t expirations;
  while (read(t->timer_fd_, &expirations, sizeof expirations) > 0) {
  }
  if (t->begun_ && !t->stopping_) t->dispatch_due();
}

}  // namespace pounce::bench
