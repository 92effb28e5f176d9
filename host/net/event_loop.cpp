#include "net/event_loop.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <cstring>

#include "net/blocking_pool.h"
#include "net/connection.h"
#include "plugin/generation.h"
#include "server/crash_report.h"

namespace pounce {

namespace {
thread_local EventLoop* t_current_loop = nullptr;
// How long our WebSocket close frame waits for the peer's answer before the
// TCP connection is closed anyway (RFC 6455 §7.1.1 leaves it open).
constexpr uint64_t kWsCloseWaitMs = 5000;
}  // namespace

EventLoop* EventLoop::current() {
  return t_current_loop;
}

EventLoop::EventLoop(const Config& config, unsigned index, const char* role)
    : config_(config),
      index_(index),
      role_(role),
      read_buffer_(new char[kReadBufferSize]),
      headers_(new pounce_header_t[config.max_headers]),
      trailers_(new pounce_header_t[config.max_headers]),
      path_buffer_(new char[config.max_header_size + 1]),
      handles_(index),
      ws_message_budget_(config.ws_buffer_budget) {
  uv_loop_init(&loop_);
  loop_.data = this;
  tasks_.init(&loop_);
  log_flusher_.start(&loop_);
  timeouts_.init(&loop_,
                 {config.header_timeout_ms, config.keep_alive_timeout_ms,
                  config.request_timeout_ms, config.write_timeout_ms, 1000,
                  config.request_timeout_ms, kWsCloseWaitMs},
                 on_timeout, this);
  // A head start only: should it fail, the first response grows it.
  (void)out_.reserve(64 * 1024);
  uv_async_init(&loop_, &blocking_async_, on_blocking_done);
  blocking_async_.data = this;
  uv_idle_init(&loop_, &input_idle_);
  input_idle_.data = this;
  blocking_return_ = std::make_shared<BlockingReturn>(
      reinterpret_cast<uv_async_s*>(&blocking_async_));
  // The options parser refused an invalid template already.
  std::string unused;
  auto format = log::AccessFormat::compile(config.access_log_format, &unused);
  if (format && !format->is_default()) access_format_ = std::move(format);
}

EventLoop::~EventLoop() {
  if (thread_.joinable()) thread_.join();
  // Jobs still in the pool are not here: they find the return channel
  // closed and free themselves.
  while (BlockingJob* j = job_free_) {
    job_free_ = j->next;
    delete j;
  }
  uv_loop_close(&loop_);
}

char* EventLoop::tls_read_buffer() {
  // Cleartext-only servers never pay for it.
  if (!tls_read_buffer_) tls_read_buffer_.reset(new char[kReadBufferSize]);
  return tls_read_buffer_.get();
}

void EventLoop::schedule_input(Connection* c) {
  if (c->input_scheduled) return;
  c->input_scheduled = true;
  input_ready_.push_back(c);
  uv_idle_start(&input_idle_, on_input_idle);
}

void EventLoop::cancel_input(Connection* c) {
  if (!c->input_scheduled) return;
  c->input_scheduled = false;
  for (Connection*& p : input_ready_) {
    if (p == c) p = nullptr;
  }
  for (Connection*& p : input_batch_) {
    if (p == c) p = nullptr;
  }
}

void EventLoop::on_input_idle(uv_idle_t* h) {
  auto* l = static_cast<EventLoop*>(h->data);
  l->input_batch_.swap(l->input_ready_);
  uv_idle_stop(&l->input_idle_);  // restarted by what schedules again
  for (size_t i = 0; i < l->input_batch_.size(); ++i) {
    Connection* c = l->input_batch_[i];
    if (!c) continue;  // closed meanwhile
    l->input_batch_[i] = nullptr;
    c->input_scheduled = false;
    c->read_buffered_input();
  }
  l->input_batch_.clear();
}

BlockingJob* EventLoop::acquire_job() {
  if (BlockingJob* j = job_free_) {
    job_free_ = j->next;
    j->next = nullptr;
    return j;
  }
  try {
    return new BlockingJob(config_.max_headers, blocking_return_);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void EventLoop::release_job(BlockingJob* job) {
  job->recycle();
  job->next = job_free_;
  job_free_ = job;
}

void EventLoop::on_blocking_done(uv_async_t* a) {
  auto* self = static_cast<EventLoop*>(a->data);
  self->blocking_return_->take(&self->blocking_done_);
  for (BlockingJob* job : self->blocking_done_) {
    if (job->conn) {
      job->conn->finish_blocking(job);  // releases the job
    } else {
      self->release_job(job);  // its connection closed meanwhile
    }
  }
  self->blocking_done_.clear();
}

void EventLoop::start(int cpu) {
  thread_ = start_thread_without_signals([this, cpu] { thread_main(cpu); });
}

std::thread start_thread_without_signals(std::function<void()> fn) {
  sigset_t block, old;
  sigfillset(&block);
  // Synchronous faults must still reach the thread that caused them.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) {
    sigdelset(&block, sig);
  }
  pthread_sigmask(SIG_BLOCK, &block, &old);
  // Inherits the blocked mask; holds an alternate signal stack, so that a
  // stack overflow still gets its crash report.
  std::thread t([fn = std::move(fn)] {
    crash::AltStack alt_stack;
    fn();
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

void EventLoop::join() {
  if (thread_.joinable()) thread_.join();
}

void EventLoop::thread_main(int cpu) {
  thread_id_ = std::this_thread::get_id();
  t_current_loop = this;
  t_pin_loop = static_cast<int>(index_);  // GenerationPin counts here
  char name[16];
  snprintf(name, sizeof name, "pounce-%s%u", role_, index_);
  pthread_setname_np(pthread_self(), name);
  if (cpu >= 0) pin_current_thread(cpu, name);
  error_sink_ = std::make_unique<log::LogSink>(log::error_file());
  access_sink_ = std::make_unique<log::LogSink>(log::access_file());
  {
    log::ThreadSinks sinks(error_sink_.get(), access_sink_.get());
    on_thread_start();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  // Run the close callbacks of the handles closed last.
  uv_run(&loop_, UV_RUN_DEFAULT);
  error_sink_.reset();
  access_sink_.reset();
}

void EventLoop::on_timeout(TimeoutNode* node, TimeoutKind kind, void*) {
  static_cast<Connection*>(node)->on_timeout(kind);
}

void EventLoop::add_connection(Connection* c) {
  c->loop_prev = nullptr;
  c->loop_next = connections_;
  if (connections_) connections_->loop_prev = c;
  connections_ = c;
  ++connection_count_;
}

void EventLoop::remove_connection(Connection* c) {
  if (c->loop_prev)
    c->loop_prev->loop_next = c->loop_next;
  else
    connections_ = c->loop_next;
  if (c->loop_next) c->loop_next->loop_prev = c->loop_prev;
  c->loop_prev = c->loop_next = nullptr;
  --connection_count_;
}

void EventLoop::for_each_connection(
    const std::function<void(Connection*)>& fn) {
  // Collect first: fn may close connections, which unlinks them later (in
  // the close callback), but never frees them synchronously.
  std::vector<Connection*> all;
  all.reserve(connection_count_);
  for (Connection* c = connections_; c; c = c->loop_next) all.push_back(c);
  for (Connection* c : all) fn(c);
}

void EventLoop::request_drain() {
  drain_requested_.store(true, std::memory_order_relaxed);
  post([this] { begin_drain(); });
}

void EventLoop::begin_drain() {
  if (draining_) return;
  draining_ = true;
  on_drain();
  for_each_connection([](Connection* c) { c->begin_drain(); });
  maybe_finish();
}

void EventLoop::force_close_all() {
  for_each_connection([](Connection* c) { c->force_close(); });
  maybe_finish();
}

void EventLoop::end_streams_of(const Generation* g) {
  for_each_connection([g](Connection* c) { c->end_stream_of(g); });
}

void EventLoop::maybe_finish() {
  if (!draining_ || finished_ || connection_count_ > 0 || !may_finish()) return;
  finished_ = true;
  on_finish();
  close_own_handles();
}

void EventLoop::close_own_handles() {
  // Jobs that came back after their connections closed; later ones free
  // themselves on the pool thread.
  for (BlockingJob* job : blocking_return_->close()) release_job(job);
  uv_close(reinterpret_cast<uv_handle_t*>(&blocking_async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&input_idle_), nullptr);
  timeouts_.close();
  log_flusher_.close();
  tasks_.close();
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  return cpus;
}

void pin_current_thread(int cpu, const char* what) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (rc != 0) {
    LOG_WARN("cannot pin %s to CPU %d: %s; running unpinned", what, cpu,
             strerror(rc));
  } else {
    LOG_DEBUG("pinned %s to CPU %d", what, cpu);
  }
}

}  // namespace pounce
