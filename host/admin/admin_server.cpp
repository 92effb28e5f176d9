#include "admin/admin_server.h"

#include <pthread.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "http/date_cache.h"
#include "http/error_code.h"
#include "http/head_parser.h"
#include "http/status_text.h"
#include "net/blocking_pool.h"
#include "net/connection.h"
#include "net/event_loop.h"

namespace pounce::admin {

namespace {

// After an error reply, what a lingering close reads and discards at most
// (RFC 9112 §9.6), as on the main listeners.
constexpr size_t kLingerBytes = 64 * 1024;
constexpr uint64_t kLingerMs = 1000;
constexpr uint64_t kGatherCheckMs = 100;

uint64_t steady_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

// Where loops post their answers. Shared with the tasks given to the loops,
// which may outlive the server when a loop drops them late; `queue` is
// cleared by stop(). The mutex guards `queue` only.
struct Mailbox {
  std::mutex mutex;
  TaskQueue* queue = nullptr;
  bool post(Task t) {
    std::lock_guard lock(mutex);
    return queue && queue->post(std::move(t));
  }
};

struct AdminServer::Gathering {
  Snapshot snapshot;
  size_t pending = 0;
  uint64_t deadline_ms = 0;
  bool finished = false;
  std::function<void(const Snapshot&)> done;
};

// One question to one loop, carried by the task posted to it. If the task is
// dropped without running (the loop finished), the destructor answers "not
// responding" at once instead of leaving the gathering to its timeout.
class LoopQuestion {
 public:
  LoopQuestion(std::shared_ptr<Mailbox> mailbox,
               std::shared_ptr<AdminServer::Gathering> g, size_t i)
      : mailbox_(std::move(mailbox)), g_(std::move(g)), i_(i) {}
  LoopQuestion(LoopQuestion&& o) noexcept
      : mailbox_(std::move(o.mailbox_)), g_(std::move(o.g_)), i_(o.i_) {}
  LoopQuestion(const LoopQuestion&) = delete;
  ~LoopQuestion() {
    if (mailbox_) answer(LoopSnapshot{}, false);
  }

  // On the loop's thread.
  void ask(EventLoop* loop) {
    LoopSnapshot s;
    s.draining = loop->draining();
    s.connections = loop->connection_count();
    s.handed_off = loop->handed_off().load(std::memory_order_relaxed);
    s.streams = loop->handles().live(HandleKind::Stream);
    s.websockets = loop->handles().live(HandleKind::WebSocket);
    loop->for_each_connection([&s](Connection* c) {
      if (c->waiting_for_request()) ++s.waiting;
      const size_t k = c->listener();
      if (k >= s.by_listener.size()) s.by_listener.resize(k + 1);
      ++s.by_listener[k];
    });
    answer(s, true);
  }

 private:
  void answer(LoopSnapshot s, bool answered) {
    std::shared_ptr<Mailbox> mailbox = std::move(mailbox_);
    mailbox_.reset();
    mailbox->post([g = g_, i = i_, s, answered]() mutable {
      if (g->finished) return;
      LoopSnapshot& slot = g->snapshot.loops[i];
      s.role = slot.role;
      s.index = slot.index;
      s.answered = answered;
      slot = std::move(s);
      --g->pending;
      // The server finishes it on its next check, or here when complete.
      if (g->pending == 0) {
        g->finished = true;
        g->done(g->snapshot);
      }
    });
  }

  std::shared_ptr<Mailbox> mailbox_;
  std::shared_ptr<AdminServer::Gathering> g_;
  size_t i_;
};

struct AdminServer::Conn {
  AdminServer* server = nullptr;
  uint64_t id = 0;
  uv_tcp_t tcp{};  // TCP or Unix socket: libuv's stream code is the same
  uv_timer_t timer{};
  std::string in;           // bytes not parsed yet
  bool in_head = false;     // a head has begun: --header-timeout runs
  bool busy = false;        // a reply is being gathered: parsing waits
  bool in_handler = false;  // inside the route's handler call
  bool lingering = false;   // after an error reply: discarding input
  bool closing = false;
  bool close_after_write = false;
  size_t discarded = 0;
  int open_handles = 0;
};

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
};

}  // namespace

AdminServer::AdminServer(const Config& config, int fd, ProcessFacts facts)
    : config_(config),
      fd_(fd),
      facts_(std::move(facts)),
      header_storage_(std::make_unique<pounce_header_t[]>(config.max_headers)) {
}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::add_route(std::string path, Handler handler) {
  routes_[std::move(path)] = std::move(handler);
}

void AdminServer::start() {
  uv_loop_init(&loop_);
  loop_.data = this;
  tasks_.init(&loop_);
  mailbox_ = std::make_shared<Mailbox>();
  mailbox_->queue = &tasks_;
  uv_timer_init(&loop_, &gather_timer_);
  gather_timer_.data = this;
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  int rc = uv_tcp_open(&listener_, fd_);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), config_.backlog,
                   on_connection);
  }
  if (rc != 0) LOG_ERROR("admin listener: cannot listen: %s", uv_strerror(rc));
  started_ = true;
  thread_ = start_thread_without_signals([this] { thread_main(); });
}

void AdminServer::thread_main() {
  pthread_setname_np(pthread_self(), "pounce-admin");
  error_sink_ = std::make_unique<log::LogSink>(log::error_file());
  access_sink_ = std::make_unique<log::LogSink>(log::access_file());
  {
    log::ThreadSinks sinks(error_sink_.get(), access_sink_.get());
    flusher_.start(&loop_);
    uv_run(&loop_, UV_RUN_DEFAULT);
    log::flush_thread();
  }
  error_sink_.reset();
  access_sink_.reset();
}

void AdminServer::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    // Answers still on their way from the loops are dropped from now on: a
    // loop may drop its question late, after this object is gone.
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->queue = nullptr;
  }
  tasks_.post([this] {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&gather_timer_), nullptr);
    std::vector<Conn*> open;
    for (auto& [id, c] : conns_) open.push_back(c.get());
    for (Conn* c : open) close_conn(c);
    gatherings_.clear();
    awaiting_loops_.clear();
    flusher_.close();
    tasks_.close();
  });
  if (thread_.joinable()) thread_.join();
  uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks, if any are left
  uv_loop_close(&loop_);
}

void AdminServer::set_loops(std::vector<EventLoop*> loops) {
  tasks_.post([this, loops = std::move(loops)] {
    loops_ = loops;
    // Gatherings that came between readiness and this (the loops start
    // right after the process turns ready) ask them now.
    for (const std::shared_ptr<Gathering>& g : awaiting_loops_) {
      if (!g->finished) ask_loops(g);
    }
    awaiting_loops_.clear();
  });
}

void AdminServer::set_blocking_pool(BlockingPool* pool) {
  tasks_.post([this, pool] { blocking_pool_ = pool; });
}

// ---------------------------------------------------------------------------
// Gathering per-loop snapshots

void AdminServer::fill_facts(Snapshot* s) const {
  s->facts = facts_;
  s->readiness = readiness();
  s->generation = current_generation();
  s->reloads_ok = reloads(true);
  s->reloads_failed = reloads(false);
  if (blocking_pool_) {
    const BlockingPool::Stats b = blocking_pool_->stats();
    s->has_blocking_pool = true;
    s->blocking_queued = b.queued;
    s->blocking_busy = b.busy;
    s->blocking_threads = b.threads;
  }
  s->uptime_seconds = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - facts_.started)
                          .count();
}

std::vector<const metrics::LoopCounters*> AdminServer::loop_counters() const {
  std::vector<const metrics::LoopCounters*> out;
  out.reserve(loops_.size());
  for (const EventLoop* l : loops_) out.push_back(&l->counters());
  return out;
}

void AdminServer::gather(std::function<void(const Snapshot&)> done) {
  auto g = std::make_shared<Gathering>();
  fill_facts(&g->snapshot);
  g->done = std::move(done);
  g->deadline_ms = steady_ms() + kGatherTimeoutMs;
  // The loops as the server makes them: workers, then async loops, each
  // numbered within its kind.
  for (unsigned i = 0; i < facts_.workers + facts_.async_threads; ++i) {
    LoopSnapshot s;
    s.role = i < facts_.workers ? "worker" : "async";
    s.index = i < facts_.workers ? i : i - facts_.workers;
    g->snapshot.loops.push_back(std::move(s));
  }
  g->pending = g->snapshot.loops.size();
  if (loops_.empty() && g->snapshot.readiness == Readiness::Starting) {
    // The plugins are still loading: no loop exists to ask.
    g->finished = true;
    g->done(g->snapshot);
    return;
  }
  gatherings_.push_back(g);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&gather_timer_))) {
    uv_timer_start(&gather_timer_, on_gather_timer, kGatherCheckMs,
                   kGatherCheckMs);
  }
  if (loops_.empty()) {
    awaiting_loops_.push_back(g);
    return;
  }
  ask_loops(g);
}

void AdminServer::ask_loops(const std::shared_ptr<Gathering>& g) {
  for (size_t i = 0; i < loops_.size() && i < g->snapshot.loops.size(); ++i) {
    EventLoop* l = loops_[i];
    // A loop that has finished drops the task: the question's destructor
    // then answers for it.
    l->post([q = LoopQuestion(mailbox_, g, i), l]() mutable { q.ask(l); });
  }
}

void AdminServer::on_gather_timer(uv_timer_t* t) {
  auto* self = static_cast<AdminServer*>(t->data);
  const uint64_t now = steady_ms();
  auto& list = self->gatherings_;
  for (size_t i = 0; i < list.size();) {
    std::shared_ptr<Gathering> g = list[i];
    if (!g->finished && now >= g->deadline_ms) {
      // The loops that did not answer are reported as not responding.
      g->finished = true;
      g->done(g->snapshot);
    }
    if (g->finished) {
      list.erase(list.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  if (list.empty()) uv_timer_stop(t);
}

// ---------------------------------------------------------------------------
// Connections

void AdminServer::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<AdminServer*>(server->data);
  if (status < 0) return;  // out of descriptors: libuv retries
  auto owned = std::make_unique<Conn>();
  Conn* c = owned.get();
  c->server = self;
  c->id = self->next_conn_id_++;
  uv_tcp_init(&self->loop_, &c->tcp);
  uv_timer_init(&self->loop_, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  self->conns_.emplace(c->id, std::move(owned));
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    self->close_conn(c);
    return;
  }
  if (self->conns_.size() > kMaxConnections) {
    // Probes open one connection at a time; more than this is a client
    // gone wrong, and each would cost a buffer.
    LOG_DEBUG("admin listener: over %zu connections; closing a new one",
              kMaxConnections);
    self->close_conn(c);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  // As on the main listeners, a connection's first head is timed from the
  // accept.
  c->in_head = true;
  self->arm(c, self->config_.header_timeout_ms);
}

void AdminServer::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  // One buffer for the whole thread: a read is copied into its
  // connection's `in` at once, before the next read of any connection.
  static thread_local char storage[16 * 1024];
  *buf = uv_buf_init(storage, sizeof storage);
}

void AdminServer::arm(Conn* c, uint64_t ms) {
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

void AdminServer::on_timer(uv_timer_t* t) {
  auto* c = static_cast<Conn*>(t->data);
  AdminServer* self = c->server;
  if (c->lingering || c->busy) {
    self->close_conn(c);
    return;
  }
  if (c->in_head && !c->in.empty()) {
    self->reject(c, 408, http::error_name(http::ErrorCode::HeaderTimeout));
    return;
  }
  self->close_conn(c);  // idle, or nothing ever arrived: a silent close
}

void AdminServer::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  AdminServer* self = c->server;
  if (nread < 0) {
    self->close_conn(c);
    return;
  }
  if (c->lingering) {
    c->discarded += static_cast<size_t>(nread);
    if (c->discarded > kLingerBytes) self->close_conn(c);
    return;
  }
  c->in.append(buf->base, static_cast<size_t>(nread));
  if (!c->in_head && !c->in.empty()) {
    c->in_head = true;
    self->arm(c, self->config_.header_timeout_ms);
  }
  self->process(c);
}

void AdminServer::process(Conn* c) {
  while (!c->busy && !c->lingering && !c->closing && !c->close_after_write) {
    if (c->in.empty()) {
      c->in_head = false;
      arm(c, config_.keep_alive_timeout_ms);
      return;
    }
    http::RequestHead head;
    http::ParseResult pr =
        http::parse_request_head(c->in.data(), c->in.size(),
                                 {config_.max_header_size, config_.max_headers},
                                 header_storage_.get(), &head);
    if (pr.status == http::ParseStatus::Incomplete) {
      // The parser counts the head against --max-header-size as it grows;
      // what it skips (empty lines before a request line) is bounded here.
      if (c->in.size() > 2 * config_.max_header_size) {
        reject(c, 431, http::error_name(http::ErrorCode::HeadersTooLarge));
      }
      return;
    }
    if (pr.status == http::ParseStatus::Error) {
      reject(c, http::error_status(pr.error), http::error_name(pr.error));
      return;
    }
    // No endpoint takes a body: refuse one rather than read it.
    if (head.body_kind == http::BodyKind::Chunked ||
        (head.body_kind == http::BodyKind::ContentLength &&
         head.content_length > 0)) {
      reject(c, 413, http::error_name(http::ErrorCode::BodyTooLarge));
      return;
    }
    const bool head_only = head.method == "HEAD";
    const bool keep_alive = head.keep_alive;
    std::string method(head.method);
    std::string path(head.path);
    c->in.erase(0, head.head_size);
    c->in_head = false;
    uv_timer_stop(&c->timer);
    if (method != "GET" && !head_only) {
      Reply r{405, "application/json", "{\"error\":\"method not allowed\"}\n"};
      write_reply(c, r, false, keep_alive, {});
      continue;
    }
    auto route = routes_.find(path);
    if (route == routes_.end()) {
      // NO_ROUTE keeps the connection open, as on the main listeners.
      Reply r{404, "application/json", "{\"error\":\"not found\"}\n"};
      write_reply(c, r, head_only, keep_alive,
                  http::error_name(http::ErrorCode::NoRoute));
      continue;
    }
    // Until the reply is written, the connection reads nothing more: what
    // a client pipelines behind a slow /status waits in the kernel.
    c->busy = true;
    c->in_handler = true;
    route->second(*this, [this, id = c->id, head_only, keep_alive](Reply r) {
      auto it = conns_.find(id);
      if (it == conns_.end()) return;  // the client left meanwhile
      Conn* conn = it->second.get();
      if (conn->closing) return;
      conn->busy = false;
      write_reply(conn, r, head_only, keep_alive, {});
      // A reply given at once continues the loop below; a later one
      // resumes reading and parsing here.
      if (conn->in_handler || conn->closing || conn->close_after_write) return;
      uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->tcp), on_alloc,
                    on_read);
      process(conn);
    });
    c->in_handler = false;
    if (c->busy) uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
  }
}

void AdminServer::write_reply(Conn* c, const Reply& reply, bool head_only,
                              bool keep_alive, std::string_view error_code) {
  if (c->closing) return;
  thread_local http::DateCache date;
  date.update(uv_now(&loop_));
  auto* w = new WriteReq;
  std::string& d = w->data;
  d.reserve(256 + reply.body.size());
  d += http::status_line(reply.status);
  d += date.date_header();
  d += "Server: pounce\r\nContent-Type: ";
  d += reply.content_type;
  d += "\r\nContent-Length: ";
  d += std::to_string(reply.body.size());
  // Probes and scrapes must see the state of now, never a cached one.
  d += "\r\nCache-Control: no-store\r\n";
  if (reply.status == 405) d += "Allow: GET, HEAD\r\n";
  if (!error_code.empty()) {
    d += "X-Pounce-Error: ";
    d += error_code;
    d += "\r\n";
  }
  if (!keep_alive) d += "Connection: close\r\n";
  d += "\r\n";
  if (!head_only) d += reply.body;
  if (!keep_alive) c->close_after_write = true;
  uv_buf_t buf = uv_buf_init(d.data(), static_cast<unsigned>(d.size()));
  w->req.data = c;
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                    [](uv_write_t* req, int status) {
                      auto* wr = reinterpret_cast<WriteReq*>(req);
                      auto* conn = static_cast<Conn*>(req->data);
                      delete wr;
                      if (status < 0 || conn->closing) return;
                      if (conn->close_after_write && !conn->lingering) {
                        conn->server->close_conn(conn);
                      }
                    });
  if (rc != 0) {
    delete w;
    close_conn(c);
  }
}

void AdminServer::reject(Conn* c, int status, std::string_view code) {
  LOG_WARN("admin listener: rejected a request: %d %.*s", status,
           static_cast<int>(code.size()), code.data());
  Reply r{status, "application/json",
          "{\"error\":\"" + std::string(code) + "\"}\n"};
  write_reply(c, r, false, false, code);
  linger(c);
}

void AdminServer::linger(Conn* c) {
  if (c->closing) return;
  // Send the reply, shut the write side, then read and discard what the
  // client still sends, bounded: closing with unread input would reset the
  // connection and could destroy the reply (RFC 9112 §9.6).
  c->lingering = true;
  c->in.clear();
  c->in.shrink_to_fit();
  auto* req = new uv_shutdown_t;
  req->data = c;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c->tcp),
                  [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
    close_conn(c);
    return;
  }
  arm(c, kLingerMs);
}

void AdminServer::close_conn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  auto on_closed = [](uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    if (--conn->open_handles == 0) {
      conn->server->conns_.erase(conn->id);
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_closed);
}

}  // namespace pounce::admin
