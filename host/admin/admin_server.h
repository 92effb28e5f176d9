// The admin listener (--admin-listen): health, readiness and status of the
// serving process, answered by the host itself and never routed to a plugin
// (docs/operations.md, "Health and status").
//
//   GET /healthz   200 {"status":"ok"} while the process serves (liveness)
//   GET /readyz    200 {"status":"ready","generation":N} once every listener
//                  and plugin is up; 503 {"status":"starting"} before, and
//                  503 {"status":"draining"} from SIGTERM on
//   GET /status    JSON: uptime, version, generation, workers, connections
//                  per loop, streams, WebSockets, supervisor restarts
//   GET /metrics   Prometheus text format 0.0.4 (admin/metrics.h)
//   anything else  404 NO_ROUTE
//
// It runs on a thread and libuv loop of its own, as nginx's and h2o's status
// handlers run apart from the request path in effect: a probe is answered
// while the main thread loads a generation (a reload's init may take
// seconds) and while every worker is busy, and a slow scraper costs the
// workers nothing. It starts before the plugins load, so that a liveness
// probe succeeds (and readiness says "starting") during a slow init.
//
// Requests are parsed by the same HTTP/1.1 head parser with the same
// --max-header-size and --max-headers; a request with a body is refused
// (413), heads time out after --header-timeout, idle connections after
// --keep-alive-timeout, and at most kMaxConnections are open at once.
//
// Per-loop facts (/status, /metrics) are gathered without any counter
// shared per request: the admin thread posts a task to each loop, which
// reads its own loop-thread-only counts and posts them back. A loop that
// does not answer within kGatherTimeoutMs (a handler stuck in a plugin) is
// reported as not responding.
#pragma once

#include <pounce/pounce.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/snapshot.h"
#include "cli/config.h"
#include "exchange/task_queue.h"
#include "log/log_flusher.h"
#include "log/logger.h"
#include "metrics/host_metrics.h"

namespace pounce {

class BlockingPool;
class EventLoop;

namespace admin {

struct Mailbox;
class LoopQuestion;

class AdminServer {
 public:
  static constexpr size_t kMaxConnections = 64;
  static constexpr uint64_t kGatherTimeoutMs = 1000;

  // A reply: status, Content-Type and body.
  struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
  };
  using Respond = std::function<void(Reply)>;
  // A route's handler: runs on the admin thread and calls `respond` once,
  // at once or later (after gather()).
  using Handler = std::function<void(AdminServer&, Respond)>;

  // `fd`: the listening socket (TCP or Unix), which the server closes.
  AdminServer(const Config& config, int fd, ProcessFacts facts);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Registers a route (exact path). Before start().
  void add_route(std::string path, Handler handler);
  void start();
  // Stops the thread and closes every connection. Main thread; idempotent.
  // Call before the loops given to set_loops() are destroyed.
  void stop();

  // The loops /status asks, once they run (main thread).
  void set_loops(std::vector<EventLoop*> loops);
  // The blocking pool /metrics reads (main thread, once it exists; it must
  // outlive stop()).
  void set_blocking_pool(BlockingPool* pool);

  // Admin thread: asks every loop for its snapshot; `done` runs on the
  // admin thread once all answered or kGatherTimeoutMs passed.
  void gather(std::function<void(const Snapshot&)> done);
  // The loops' request counters, for /metrics (admin thread; the cells are
  // read without a lock, metrics::Cell).
  std::vector<const metrics::LoopCounters*> loop_counters() const;

 private:
  struct Conn;
  struct Gathering;
  friend class LoopQuestion;

  void thread_main();
  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* h, size_t size, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_timer(uv_timer_t* t);
  static void on_gather_timer(uv_timer_t* t);
  void process(Conn* c);
  void dispatch(Conn* c, std::string_view method, std::string_view path,
                bool keep_alive);
  void write_reply(Conn* c, const Reply& reply, bool head_only, bool keep_alive,
                   std::string_view error_code);
  void reject(Conn* c, int status, std::string_view code);
  void linger(Conn* c);
  void close_conn(Conn* c);
  void arm(Conn* c, uint64_t ms);
  void ask_loops(const std::shared_ptr<Gathering>& g);
  void fill_facts(Snapshot* s) const;

  const Config& config_;
  int fd_;
  ProcessFacts facts_;
  std::map<std::string, Handler, std::less<>> routes_;
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;

  // Everything below belongs to the admin thread.
  uv_loop_t loop_{};
  TaskQueue tasks_;
  uv_tcp_t listener_{};
  uv_timer_t gather_timer_{};
  log::LogFlusher flusher_;
  std::unique_ptr<log::LogSink> error_sink_;
  std::unique_ptr<log::LogSink> access_sink_;
  std::vector<EventLoop*> loops_;
  BlockingPool* blocking_pool_ = nullptr;
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_conn_id_ = 1;
  std::vector<std::shared_ptr<Gathering>> gatherings_;
  // Gatherings waiting for set_loops() (asked between readiness and it).
  std::vector<std::shared_ptr<Gathering>> awaiting_loops_;
  std::shared_ptr<Mailbox> mailbox_;
  std::unique_ptr<pounce_header_t[]> header_storage_;
};

// The process-wide routes: /healthz, /readyz, /status, /metrics.
void add_standard_routes(AdminServer* server);

}  // namespace admin
}  // namespace pounce
