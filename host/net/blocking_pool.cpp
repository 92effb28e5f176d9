#include "net/blocking_pool.h"

#include <pthread.h>
#include <uv.h>

#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/event_loop.h"
#include "server/crash_report.h"

namespace pounce {

namespace {
// A recycled job keeps its buffers up to this size: most requests fit, and
// one large upload does not pin its memory to the free list for good.
constexpr size_t kRetainedBytes = 64 * 1024;
}  // namespace

// ---------------------------------------------------------------------------
// BlockingJob

BlockingJob::BlockingJob(size_t max_hdrs, std::shared_ptr<BlockingReturn> r)
    : ret(std::move(r)),
      headers(new pounce_header_t[max_hdrs]),
      trailers(new pounce_header_t[max_hdrs]),
      max_headers(max_hdrs) {}

bool BlockingJob::capture(const char* head_base, size_t head_size,
                          size_t max_header_size, std::string_view body,
                          std::string_view path, std::string_view path_info,
                          const pounce_header_t* trl, size_t trailer_count) {
  // Everything first, the views after: an append may move the buffer.
  bytes.clear();
  bytes.append(head_base, head_size);
  const size_t body_off = bytes.size();
  bytes.append(body);
  const size_t path_off = bytes.size();
  bytes.append(path);
  for (size_t i = 0; i < trailer_count; ++i) {
    bytes.append(trl[i].name.data, trl[i].name.len);
    bytes.append(trl[i].value.data, trl[i].value.len);
  }
  if (bytes.failed()) {
    bytes.release();
    return false;
  }
  char* base = bytes.data();
  // The same bytes parsed before: the head cannot fail now.
  http::ParseResult pr = http::parse_request_head(
      base, head_size, {max_header_size, max_headers}, headers.get(), &head);
  if (pr.status != http::ParseStatus::Complete) return false;
  route_path = std::string_view(base + path_off, path.size());
  size_t off = path_off + path.size();
  for (size_t i = 0; i < trailer_count; ++i) {
    trailers[i].name = {base + off, trl[i].name.len};
    off += trl[i].name.len;
    trailers[i].value = {base + off, trl[i].value.len};
    off += trl[i].value.len;
  }
  fill_view(path.size(), path_info.size(), body.size(), base + body_off,
            trailer_count);
  return true;
}

void BlockingJob::fill_view(size_t path_len, size_t path_info_len,
                            size_t body_len, const char* body_base,
                            size_t trailer_count) {
  req.head = &head;
  req.exchange = nullptr;
  req.peer = &peer;
  req.local = &local;
  std::string_view info = route_path.substr(path_len - path_info_len);
  view.size = sizeof view;
  view.version_major = http_major;
  view.version_minor = head.version_minor;
  view.reserved = 0;
  view.method = {head.method.data(), head.method.size()};
  view.target = {head.target.data(), head.target.size()};
  view.path = {route_path.data(), route_path.size()};
  view.path_info = {info.data(), info.size()};
  view.query = {head.query.data(), head.query.size()};
  view.headers = head.headers;
  view.header_count = head.header_count;
  view.body = {body_base, body_len};
  view.trailers = trailer_count ? trailers.get() : nullptr;
  view.trailer_count = trailer_count;
  view.handle = &req;
}

bool BlockingJob::capture_fields(const http::RequestHead& h,
                                 std::string_view body, std::string_view path,
                                 std::string_view path_info,
                                 const pounce_header_t* trl,
                                 size_t trailer_count) {
  if (h.header_count > max_headers || trailer_count > max_headers) {
    return false;
  }
  // Everything first, the views after: an append may move the buffer.
  bytes.clear();
  auto put = [this](std::string_view v) {
    size_t off = bytes.size();
    bytes.append(v);
    return off;
  };
  const size_t method_off = put(h.method);
  const size_t target_off = put(h.target);
  const size_t path_part_off = put(h.path);
  const size_t query_off = put(h.query);
  const size_t host_off = put(h.host);
  const size_t fields_off = bytes.size();
  for (size_t i = 0; i < h.header_count; ++i) {
    bytes.append(h.headers[i].name.data, h.headers[i].name.len);
    bytes.append(h.headers[i].value.data, h.headers[i].value.len);
  }
  const size_t body_off = put(body);
  const size_t path_off = put(path);
  for (size_t i = 0; i < trailer_count; ++i) {
    bytes.append(trl[i].name.data, trl[i].name.len);
    bytes.append(trl[i].value.data, trl[i].value.len);
  }
  if (bytes.failed()) {
    bytes.release();
    return false;
  }
  char* base = bytes.data();
  head = h;
  head.method = std::string_view(base + method_off, h.method.size());
  head.target = std::string_view(base + target_off, h.target.size());
  head.path = std::string_view(base + path_part_off, h.path.size());
  head.query = std::string_view(base + query_off, h.query.size());
  head.host = std::string_view(base + host_off, h.host.size());
  size_t off = fields_off;
  for (size_t i = 0; i < h.header_count; ++i) {
    headers[i].name = {base + off, h.headers[i].name.len};
    off += h.headers[i].name.len;
    headers[i].value = {base + off, h.headers[i].value.len};
    off += h.headers[i].value.len;
  }
  head.headers = headers.get();
  route_path = std::string_view(base + path_off, path.size());
  off = path_off + path.size();
  for (size_t i = 0; i < trailer_count; ++i) {
    trailers[i].name = {base + off, trl[i].name.len};
    off += trl[i].name.len;
    trailers[i].value = {base + off, trl[i].value.len};
    off += trl[i].value.len;
  }
  fill_view(path.size(), path_info.size(), body.size(), base + body_off,
            trailer_count);
  return true;
}

void BlockingJob::send_early_hints(std::string_view header_lines) {
  // HTTP/1.0 has no interim responses (RFC 9110 §15.2): a 1.0 client would
  // take the 103 for the response.
  if (http_major == 1 && head.version_minor == 0) return;
  // Nobody waits for this request any more (a hint only, as in
  // thread_main).
  if (abandoned.load(std::memory_order_relaxed)) return;
  ret->push_hints(this, header_lines);
}

void BlockingJob::bind(exchange::Exchange& ex, BlockingOwner* who,
                       const Mount& m, GenerationPin route_pin,
                       std::shared_ptr<const tls::SessionInfo> tls_info) {
  mount = &m;
  http_major = ex.http_major();
  view.version_major = http_major;
  view.mount_prefix = {m.prefix.data(), m.prefix.size()};
  view.scheme = ex.https() ? pounce_str_t{"https", 5} : pounce_str_t{"http", 4};
  view.authority = {head.host.data(), head.host.size()};
  const bool has_tls = tls_info != nullptr;
  tls.reset(std::move(tls_info));
  req.tls = has_tls ? &tls : nullptr;
  plugin_name = m.module->name().c_str();
  res.reset(plugin_name, m.metrics_index);
  // Until the job is back on its loop, the code it runs stays loaded (a
  // reload retires the generation only after that).
  pin = std::move(route_pin);
  // Copies: the connection may close while the handler runs. The client
  // is a trusted proxy's word when admission took it.
  peer = ex.client();
  const std::string_view id = ex.request_id();
  memcpy(request_id, id.data(), id.size());
  req.request_id = std::string_view(request_id, id.size());
  if (!ex.local_address(&local)) local.len = 0;
  owner = who;
}

void BlockingJob::recycle() {
  pin.reset();
  // A response_file an abandoned job carried: closed now, not when the
  // job is next used.
  res.file.reset();
  tls.reset();
  owner = nullptr;
  http_major = 1;
  mount = nullptr;
  abandoned.store(false, std::memory_order_relaxed);
  next = nullptr;
  if (bytes.capacity() > kRetainedBytes) {
    bytes.release();
  } else {
    bytes.clear();
  }
  if (res.body.capacity() > kRetainedBytes) res.body.release();
  if (res.headers.capacity() > kRetainedBytes) res.headers.release();
  res.reset("plugin", res.metrics_mount);
}

// ---------------------------------------------------------------------------
// BlockingReturn

bool BlockingReturn::push(BlockingJob* job) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  done_.push_back(job);
  uv_async_send(async_);
  return true;
}

void BlockingReturn::push_hints(BlockingJob* job, std::string_view lines) {
  BlockingHints h;
  try {
    h.job = job;
    h.lines.assign(lines);
    std::lock_guard lock(mutex_);
    if (closed_) return;
    hints_.push_back(std::move(h));
    uv_async_send(async_);
  } catch (const std::bad_alloc&) {
    // Hints are advisory: without the memory, this one is not sent.
  }
}

void BlockingReturn::take(std::vector<BlockingJob*>* out,
                          std::vector<BlockingHints>* hints) {
  out->clear();
  hints->clear();
  std::lock_guard lock(mutex_);
  out->swap(done_);
  hints->swap(hints_);
}

std::vector<BlockingJob*> BlockingReturn::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  hints_.clear();  // their connections are gone with the loop
  std::vector<BlockingJob*> left;
  left.swap(done_);
  return left;
}

// ---------------------------------------------------------------------------
// BlockingPool

BlockingPool::BlockingPool(unsigned max_threads, size_t max_queue)
    : max_threads_(max_threads), max_queue_(max_queue) {
  slots_.reserve(max_threads);
}

BlockingPool::~BlockingPool() {
  stop(std::chrono::steady_clock::now());
}

bool BlockingPool::submit(BlockingJob* job) {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  // Idle threads and threads not started yet take a job at once; beyond
  // them, max_queue_ jobs may wait.
  const size_t takers = idle_ + (max_threads_ - slots_.size());
  if (queued_ >= takers + max_queue_) return false;
  job->next = nullptr;
  if (tail_) {
    tail_->next = job;
  } else {
    head_ = job;
  }
  tail_ = job;
  ++queued_;
  if (queued_ > idle_ && slots_.size() < max_threads_) {
    start_thread();
  } else {
    work_cv_.notify_one();
  }
  return true;
}

void BlockingPool::start_thread() {
  auto slot = std::make_unique<Slot>();
  slot->index = static_cast<unsigned>(slots_.size());
  Slot* s = slot.get();
  ++idle_;  // see thread_main
  // The thread takes mutex_ first thing: it starts once submit() returns.
  s->thread = start_thread_without_signals([this, s] { thread_main(s); });
  slots_.push_back(std::move(slot));
}

BlockingPool::Stats BlockingPool::stats() {
  std::lock_guard lock(mutex_);
  Stats out;
  out.queued = queued_;
  out.threads = static_cast<unsigned>(slots_.size());
  for (const auto& s : slots_) {
    if (s->running && !s->exited) ++out.busy;
  }
  return out;
}

void BlockingPool::thread_main(Slot* slot) {
  char name[16];
  snprintf(name, sizeof name, "pounce-block%u", slot->index);
  pthread_setname_np(pthread_self(), name);
  // idle_ counts the threads that will look at the queue before they sleep:
  // waiting ones, ones just started (start_thread counted this one), and
  // ones on their way back from a job. A loop that submits the next request
  // of a connection as soon as it has this thread's answer then finds this
  // thread counted, instead of starting another one or refusing the request.
  std::unique_lock lock(mutex_);
  for (;;) {
    while (!head_ && !stopping_) work_cv_.wait(lock);
    if (!head_) break;  // stopping, and nothing queued
    BlockingJob* job = head_;
    head_ = job->next;
    if (!head_) tail_ = nullptr;
    --queued_;
    --idle_;
    // Once stopping, no loop waits for a job any more: drop, do not run.
    const bool run =
        !stopping_ && !job->abandoned.load(std::memory_order_relaxed);
    slot->running = run ? job : nullptr;
    lock.unlock();
    if (run) run_handler(job);
    lock.lock();
    slot->running = nullptr;
    ++idle_;
    lock.unlock();
    if (!job->ret->push(job)) {
      // The loop is gone; so is the connection. The pin is released on the
      // shared counter (this thread runs no loop).
      delete job;
    }
    lock.lock();
  }
  slot->exited = true;
  exit_cv_.notify_all();
}

void BlockingPool::run_handler(BlockingJob* job) {
  const Mount& mount = *job->mount;
  pounce_response& res = job->res;
  int rc = 0;
  try {
    crash::PluginCallScope scope(&mount, "on_handle", job->head.method,
                                 job->route_path);
    res.hints = job;
    rc = mount.module->desc().on_handle(mount.instance, &job->view, &res);
  } catch (...) {
    // As on a worker (Connection::call_sync): exceptions must not cross
    // the C ABI, and must not take the host down.
    LOG_ERROR("plugin %s: exception escaped on_handle; answering 500",
              job->plugin_name);
    rc = -1;
  }
  res.hints = nullptr;
  if (rc != 0 && res.error == http::ErrorCode::None) {
    if (rc != -1) {
      LOG_ERROR("plugin %s: on_handle returned %d; answering 500",
                job->plugin_name, rc);
    }
    res.error = http::ErrorCode::PluginError;
  }
}

size_t BlockingPool::stop(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  work_cv_.notify_all();
  auto all_exited = [this] {
    for (const auto& s : slots_) {
      if (!s->exited) return false;
    }
    return true;
  };
  exit_cv_.wait_until(lock, deadline, all_exited);
  size_t abandoned = 0;
  for (auto& s : slots_) {
    if (!s->thread.joinable()) continue;
    if (s->exited) {
      lock.unlock();
      s->thread.join();
      lock.lock();
      continue;
    }
    // Joining would hang the exit for as long as the handler blocks.
    const char* plugin = s->running ? s->running->plugin_name : "?";
    LOG_ERROR(
        "plugin %s: blocking handler still running at the shutdown deadline; "
        "abandoning thread pounce-block%u",
        plugin, s->index);
    s->thread.detach();
    ++abandoned;
  }
  return abandoned;
}

}  // namespace pounce
