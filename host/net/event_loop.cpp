#include "net/event_loop.h"

#include "net/blocking_pool.h"
#include "net/connection.h"
#include "plugin/generation.h"

namespace pounce {

namespace {
// How long our WebSocket close frame waits for the peer's answer before the
// TCP connection is closed anyway (RFC 6455 §7.1.1 leaves it open).
constexpr uint64_t kWsCloseWaitMs = 5000;
}  // namespace

EventLoop::EventLoop(const Config& config, unsigned index, const char* role)
    : Loop(config, index, role),
      read_buffer_(new char[kReadBufferSize]),
      headers_(new pounce_header_t[config.max_headers]),
      trailers_(new pounce_header_t[config.max_headers]),
      path_buffer_(new char[config.max_header_size + 1]) {
  timeouts_.init(uv(),
                 {config.header_timeout_ms, config.keep_alive_timeout_ms,
                  config.request_timeout_ms, config.write_timeout_ms, 1000,
                  config.request_timeout_ms, kWsCloseWaitMs},
                 on_timeout, this);
  // A head start only: should it fail, the first response grows it.
  (void)out_.reserve(64 * 1024);
  uv_async_init(uv(), &blocking_async_, on_blocking_done);
  blocking_async_.data = this;
  uv_idle_init(uv(), &input_idle_);
  input_idle_.data = this;
  blocking_return_ = std::make_shared<BlockingReturn>(
      reinterpret_cast<uv_async_s*>(&blocking_async_));
}

EventLoop::~EventLoop() {
  join();
  // Jobs still in the pool are not here: they find the return channel
  // closed and free themselves.
  while (BlockingJob* j = job_free_) {
    job_free_ = j->next;
    delete j;
  }
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
    return new BlockingJob(config().max_headers, blocking_return_);
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
  self->blocking_return_->take(&self->blocking_done_, &self->blocking_hints_);
  // Hints first: they were queued before their jobs came back.
  for (BlockingHints& h : self->blocking_hints_) {
    if (h.job->owner) h.job->owner->send_early_hints(h.lines);
  }
  self->blocking_hints_.clear();
  for (BlockingJob* job : self->blocking_done_) {
    if (job->owner) {
      job->owner->finish_blocking(job);  // releases the job
    } else {
      self->release_job(job);  // its owner went away meanwhile
    }
  }
  self->blocking_done_.clear();
}

void EventLoop::on_timeout(TimeoutNode* node, TimeoutKind kind, void*) {
  node->on_timeout(kind);
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
  close_loop_handles();
}

}  // namespace pounce
