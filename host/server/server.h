// The main thread: starts the workers and listeners, owns the plugin
// generations, and turns signals into a reload (SIGHUP) or a graceful
// shutdown (SIGTERM/SIGINT). See ARCHITECTURE.md §1.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cli/config.h"
#include "exchange/task_queue.h"
#include "net/accept_distributor.h"
#include "net/async_loop.h"
#include "net/blocking_pool.h"
#include "net/worker.h"
#include "plugin/generation.h"
#include "server/sd_notify.h"
#include "server/supervisor.h"

namespace pounce {

namespace tls {
class ContextSet;
class TicketKeys;
}  // namespace tls

namespace admin {
class AdminServer;
}  // namespace admin

class Server {
 public:
  // `sockets`: the listening sockets the supervisor opened; without them the
  // server opens its own (--no-supervise).
  explicit Server(Config config, ServeSockets sockets = {});
  ~Server();

  // Runs until shut down. Returns the process exit code.
  int run();

 private:
  // The main thread's lifecycle; every transition happens on the main
  // thread (ARCHITECTURE.md §1 "Plugin generations", §3 "Signals"):
  //
  //   Starting   --ready: listening, loops running-->           Serving
  //                (a SIGHUP while Starting is a reload once Serving)
  //   Serving    --SIGHUP-->                                    Building
  //   Building   --every plugin loaded and initialized-->       Publishing
  //   Building   --any failure or exception, "reload failed"--> Serving
  //   Publishing --every loop switched, "reloaded generation N"--> Serving
  //                (the old generation gets on_draining(RELOAD), retires)
  //   Serving    --SIGTERM/SIGINT-->                            Stopping
  //   Publishing --SIGTERM/SIGINT-->                  StoppingMidPublish
  //   StoppingMidPublish --every loop switched-->               Stopping
  //                (the old generation retires without RELOAD)
  //   Stopping   --every loop finished-->                       Stopped
  //
  // On entering Stopping or StoppingMidPublish, every generation a loop may
  // run (current, being published, retiring) gets on_draining(SHUTDOWN),
  // once; none gets RELOAD after it. A SIGHUP during Building or Publishing
  // is coalesced into one reload once Serving; during Stopping* it is
  // ignored (never the default action, which would end the drain).
  // Building is synchronous: no signal is handled inside it, one that lands
  // there is handled once it has become Publishing or Serving.
  enum class Phase {
    Starting,
    Serving,
    Building,
    Publishing,
    StoppingMidPublish,
    Stopping,
    Stopped,
  };

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
  // SIGTERM/SIGINT: readiness turns 503 at once; the drain begins after
  // --drain-delay (at once without one).
  void begin_stop();
  void begin_shutdown();
  void start_admin();
  void start_watchdog();
  void watchdog_tick();
  void on_worker_finished();
  void on_async_finished();
  void finish_if_done();

  bool stopping() const {
    return phase_ == Phase::StoppingMidPublish || phase_ == Phase::Stopping ||
           phase_ == Phase::Stopped;
  }
  void on_sighup();
  void reload();
  std::unique_ptr<Generation> build_next(Config* next, std::string* error);
  void publish(std::unique_ptr<Generation> next);
  void on_published(uint64_t id);
  void check_retiring();

  Config config_;
  uv_loop_t loop_{};
  TaskQueue tasks_;
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  // SIGUSR1 (reopen the log files): unreferenced, and closed only once the
  // loop has ended, so that logrotate works through a drain too.
  uv_signal_t sigusr1_{};
  uv_timer_t shutdown_timer_{};
  uv_timer_t retire_timer_{};
  std::unique_ptr<log::LogSink> error_sink_;
  std::unique_ptr<log::LogSink> access_sink_;

  ServeSockets sockets_;
  bool supervised_;
  AcceptMode accept_mode_ = AcceptMode::ReusePort;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<AsyncLoop>> async_loops_;
  // Every loop that can run plugin code: workers, then async loops.
  std::vector<EventLoop*> all_loops_;
  std::unique_ptr<AcceptDistributor> distributor_;
  // Runs POUNCE_MODE_BLOCKING handlers for every loop; its threads start on
  // first use.
  std::unique_ptr<BlockingPool> blocking_pool_;
  // When the graceful shutdown must be over (steady clock), for the wait on
  // blocking handlers once the loops are gone.
  std::chrono::steady_clock::time_point shutdown_deadline_{};

  // TLS: the contexts of a generation (https listeners only). The ticket
  // keys outlive generations, so that a reload keeps sessions resumable.
  bool build_tls(const Config& config,
                 std::shared_ptr<const tls::ContextSet>* out,
                 std::string* error);
  bool attach_tls(Generation* g, const Config& config, std::string* error);
  std::shared_ptr<tls::TicketKeys> ticket_keys_;

  std::unique_ptr<Generation> current_;
  std::vector<Retiring> retiring_;
  uint64_t next_generation_id_ = 1;
  Phase phase_ = Phase::Starting;
  bool reload_pending_ = false;  // a SIGHUP while Building or Publishing
  unsigned publish_acks_ = 0;
  std::unique_ptr<Generation> publishing_;

  // Operations (docs/operations.md): the admin listener's thread, the
  // service manager's notifications, the --drain-delay wait, and the
  // watchdog. Main thread only.
  std::unique_ptr<admin::AdminServer> admin_;
  SdNotifier notifier_;
  uv_timer_t drain_delay_timer_{};
  bool drain_delay_active_ = false;
  // WATCHDOG=1 is sent only while every loop answered the previous round
  // of pings posted to it: a loop stuck in a handler stops the pings.
  uv_timer_t watchdog_timer_{};
  bool watchdog_on_ = false;
  uint64_t watchdog_round_ = 0;
  size_t watchdog_pending_ = 0;  // loops yet to answer this round
  bool watchdog_withheld_ = false;
  std::chrono::steady_clock::time_point started_ =
      std::chrono::steady_clock::now();

  unsigned workers_finished_ = 0;  // main thread only (posted by workers)
  unsigned async_finished_ = 0;    // main thread only (posted by async loops)
  int exit_code_ = 0;
};

// Called first in main(): until the server is ready, a SIGHUP (systemctl
// reload, a logrotate hook) is only noted, and becomes a reload once the
// server is ready, instead of the default action (exit 129).
void defer_sighup_until_ready();
// For commands that do not serve (`pounce-host bench`).
void restore_default_sighup();

// Raises RLIMIT_NOFILE to its hard limit and ignores SIGPIPE.
void prepare_process();

}  // namespace pounce
