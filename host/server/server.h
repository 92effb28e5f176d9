// The main thread: starts the workers and listeners, owns the plugin
// generations, and turns signals into a reload (SIGHUP) or a graceful
// shutdown (SIGTERM/SIGINT). See ARCHITECTURE.md §1.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "async/async_loop.h"
#include "cli/config.h"
#include "net/accept_distributor.h"
#include "net/task_queue.h"
#include "net/worker.h"
#include "plugin/generation.h"
#include "server/supervisor.h"

namespace pounce {

class Server {
 public:
  // `sockets`: the listening sockets the supervisor opened; without them the
  // server opens its own (--no-supervise).
  explicit Server(Config config, ServeSockets sockets = {});
  ~Server();

  // Runs until shut down. Returns the process exit code.
  int run();

 private:
  struct Retiring {
    std::unique_ptr<Generation> generation;
    uint64_t deadline_ms;  // main loop time: close what still pins it
    bool closing_sent = false;
    uint64_t leak_deadline_ms = 0;
  };

  bool start_listening(std::string* error);
  void start_threads();
  void print_startup_line();
  void notify_supervisor();

  static void on_signal(uv_signal_t* s, int signum);
  void begin_shutdown();
  void on_worker_finished();
  void on_async_finished();
  void finish_if_done();

  void reload();
  void publish(std::unique_ptr<Generation> next);
  void on_published(uint64_t id);
  void check_retiring();

  Config config_;
  uv_loop_t loop_{};
  TaskQueue tasks_;
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_timer_t shutdown_timer_{};
  uv_timer_t retire_timer_{};
  std::unique_ptr<log::LogSink> error_sink_;
  std::unique_ptr<log::LogSink> access_sink_;

  ServeSockets sockets_;
  bool supervised_;
  AcceptMode accept_mode_ = AcceptMode::ReusePort;
  std::vector<int> listen_fds_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<AsyncLoop>> async_loops_;
  // Every loop that can run plugin code: workers, then async loops.
  std::vector<EventLoop*> all_loops_;
  std::unique_ptr<AcceptDistributor> distributor_;

  std::unique_ptr<Generation> current_;
  std::vector<Retiring> retiring_;
  uint64_t next_generation_id_ = 1;
  bool reloading_ = false;
  bool reload_pending_ = false;
  unsigned publish_acks_ = 0;
  std::unique_ptr<Generation> publishing_;

  bool shutting_down_ = false;
  unsigned workers_finished_ = 0;  // main thread only (posted by workers)
  unsigned async_finished_ = 0;    // main thread only (posted by async loops)
  int exit_code_ = 0;
};

// Raises RLIMIT_NOFILE to its hard limit and ignores SIGPIPE.
void prepare_process();

}  // namespace pounce
