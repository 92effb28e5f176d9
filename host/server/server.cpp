#include "server/server.h"
#include "pipeline/admission.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "admin/admin_server.h"
#include "admin/readiness.h"
#include "cli/options.h"
#include "log/log_files.h"
#include "log/log_flusher.h"
#include "log/logger.h"
#include "net/listener.h"
#include "plugin/host_api.h"
#include "tls/context_set.h"
#include "tls/ticket_keys.h"

namespace pounce {

namespace {

constexpr uint64_t kRetireCheckMs = 50;
// After the closing at --reload-timeout, how long the loops get to finish
// the last writes before an old generation is declared leaked.
constexpr uint64_t kRetireGraceMs = 5000;

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

// Set by the early SIGHUP handler, taken once the server is ready. The
// handler may run on any thread (a plugin's init may start threads), hence
// an atomic; lock-free, so async-signal-safe.
std::atomic<bool> g_sighup_while_starting{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void note_sighup(int) {
  g_sighup_while_starting.store(true, std::memory_order_relaxed);
}

}  // namespace

void defer_sighup_until_ready() {
  struct sigaction sa {};
  sa.sa_handler = note_sighup;
  sigemptyset(&sa.sa_mask);
  // Restarted: a plugin's init must not see EINTR because of it.
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
}

void restore_default_sighup() {
  signal(SIGHUP, SIG_DFL);
}

void prepare_process() {
  // A peer that closes early must not kill the process on the next write.
  signal(SIGPIPE, SIG_IGN);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      LOG_WARN("cannot raise the open-file limit to %llu: %s",
               static_cast<unsigned long long>(rl.rlim_max), strerror(errno));
    }
  }
}

Server::Server(Config config, ServeSockets sockets)
    : config_(std::move(config)),
      sockets_(std::move(sockets)),
      supervised_(sockets_.ready_fd >= 0) {
  uv_loop_init(&loop_);
  loop_.data = this;
}

Server::~Server() {
  // First: the admin thread may still ask the loops for their counts.
  admin_.reset();
  workers_.clear();
  uv_loop_close(&loop_);
}

int Server::run() {
  error_sink_ = std::make_unique<log::LogSink>(log::error_file());
  access_sink_ = std::make_unique<log::LogSink>(log::access_file());
  log::ThreadSinks sinks(error_sink_.get(), access_sink_.get());
  prepare_process();

  std::string error;
  // The sockets first (the supervisor opened them already), so that the
  // admin listener answers while the plugins load: live, not yet ready.
  if (!start_listening(&error)) {
    LOG_ERROR("%s", error.c_str());
    log::flush_thread();
    return 1;
  }
  start_admin();
  const unsigned loop_count = config_.workers + config_.async_threads;
  try {
    current_ = Generation::build(config_, next_generation_id_, loop_count,
                                 host_api(), &error);
  } catch (const std::exception& e) {
    error = std::string("cannot load the plugins: ") + e.what();
  } catch (...) {
    error = "cannot load the plugins: an unknown exception";
  }
  if (current_ && !attach_tls(current_.get(), config_, &error)) {
    current_.reset();
  }
  if (current_ && !pipeline::Admission::configure(config_, &error)) {
    current_.reset();
  }
  if (!current_) {
    LOG_ERROR("%s", error.c_str());
    log::flush_thread();
    if (!supervised_) remove_unix_socket_files(&sockets_);
    return 1;
  }
  admin::set_current_generation(current_->id());
  ++next_generation_id_;
  for (const Mount& m : current_->mounts()) {
    if (!m.module) {
      LOG_INFO("serving static files at %s", m.prefix.c_str());
      continue;
    }
    LOG_INFO("mounted %s %s at %s", m.module->name().c_str(),
             m.module->version().c_str(), m.prefix.c_str());
  }
  tasks_.init(&loop_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sighup_);
  sigterm_.data = sigint_.data = sighup_.data = this;
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sighup_, on_signal, SIGHUP);
  uv_signal_init(&loop_, &sigusr1_);
  sigusr1_.data = this;
  uv_signal_start(&sigusr1_, on_signal, SIGUSR1);
  uv_unref(reinterpret_cast<uv_handle_t*>(&sigusr1_));
  unblock_forwarded_signals();  // held back by the supervisor until now
  // From here on libuv has SIGHUP; one noted before is not lost.
  bool sighup_while_starting =
      g_sighup_while_starting.exchange(false, std::memory_order_relaxed);
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;
  uv_timer_init(&loop_, &retire_timer_);
  retire_timer_.data = this;
  uv_timer_init(&loop_, &drain_delay_timer_);
  drain_delay_timer_.data = this;
  uv_timer_init(&loop_, &watchdog_timer_);
  watchdog_timer_.data = this;

  // Every listener and plugin is up; the workers that start next take what
  // waits in the backlog. Ready before the parent hears it: the parent's
  // startup line ("listening on") must not come before /readyz says so.
  admin::set_readiness(admin::Readiness::Ready);
  // Supervised, "ready" goes to the parent before the threads start: a
  // process that may take a request is ready, also when that request kills
  // it (the supervisor then restarts it at once).
  notify_supervisor();
  start_threads();
  if (admin_) {
    admin_->set_loops(all_loops_);
    admin_->set_blocking_pool(blocking_pool_.get());
  }
  print_startup_line();
  notifier_.send("READY=1\nSTATUS=serving generation " +
                 std::to_string(current_->id()));
  start_watchdog();

  log::LogFlusher flusher;
  flusher.start(&loop_);

  phase_ = Phase::Serving;
  if (sighup_while_starting) {
    LOG_INFO("SIGHUP during startup: reloading now that the server is ready");
    on_sighup();
  }

  uv_run(&loop_, UV_RUN_DEFAULT);

  flusher.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigusr1_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Closing the handle restored the default action (exit); a logrotate
  // while the process exits must not change its exit status.
  signal(SIGUSR1, SIG_IGN);
  // Supervised, the parent removes the socket files once no child serves.
  if (!supervised_) remove_unix_socket_files(&sockets_);
  LOG_INFO("stopped");
  return exit_code_;
}

void Server::start_admin() {
  if (sockets_.admin_fd < 0) return;
  admin::ProcessFacts facts;
  facts.version = POUNCE_VERSION;
  facts.workers = config_.workers;
  facts.async_threads = config_.async_threads;
  facts.supervisor_restarts = sockets_.restarts;
  facts.supervised = supervised_;
  for (const ServeListener& l : sockets_.listeners) {
    facts.listeners.push_back(l.spec.url(l.port));
  }
  facts.started = started_;
  // The admin server closes the socket with its listener.
  admin_ = std::make_unique<admin::AdminServer>(config_, sockets_.admin_fd,
                                                std::move(facts));
  sockets_.admin_fd = -1;
  admin::add_standard_routes(admin_.get());
  admin_->start();
}

// The watchdog (WatchdogSec= in the unit): pinged at half the interval the
// manager expects, and only while every loop turns. Each round posts a task
// to every loop whose destruction (after it ran, or when a finished loop
// drops it) acknowledges the round on the main thread; a loop stuck in a
// handler never does, and the next tick withholds WATCHDOG=1.
void Server::start_watchdog() {
  const uint64_t usec = notifier_.watchdog_usec();
  if (!notifier_.active() || usec == 0) return;
  const uint64_t interval_ms = usec / 2000 ? usec / 2000 : 1;
  LOG_INFO(
      "systemd watchdog: WATCHDOG=1 every %llu ms while every loop "
      "answers",
      static_cast<unsigned long long>(interval_ms));
  watchdog_on_ = true;
  watchdog_tick();
  uv_timer_start(
      &watchdog_timer_,
      [](uv_timer_t* t) { static_cast<Server*>(t->data)->watchdog_tick(); },
      interval_ms, interval_ms);
}

namespace {

// Acknowledges a watchdog round when destroyed: see start_watchdog().
class WatchdogAck {
 public:
  WatchdogAck(TaskQueue* main, std::function<void()> ack)
      : main_(main), ack_(std::move(ack)) {}
  WatchdogAck(WatchdogAck&& o) noexcept
      : main_(o.main_), ack_(std::move(o.ack_)) {
    o.main_ = nullptr;
  }
  WatchdogAck(const WatchdogAck&) = delete;
  ~WatchdogAck() {
    if (main_) main_->post(std::move(ack_));
  }

 private:
  TaskQueue* main_;
  std::function<void()> ack_;
};

}  // namespace

void Server::watchdog_tick() {
  if (watchdog_pending_ > 0) {
    if (!watchdog_withheld_) {
      watchdog_withheld_ = true;
      LOG_ERROR(
          "systemd watchdog: %zu loop(s) did not answer within the "
          "interval; withholding WATCHDOG=1",
          watchdog_pending_);
    }
    return;
  }
  if (watchdog_withheld_) {
    watchdog_withheld_ = false;
    LOG_WARN("systemd watchdog: every loop answers again");
  }
  notifier_.send("WATCHDOG=1");
  const uint64_t round = ++watchdog_round_;
  watchdog_pending_ = all_loops_.size();
  for (EventLoop* l : all_loops_) {
    WatchdogAck ack(&tasks_, [this, round] {
      if (round == watchdog_round_ && watchdog_pending_ > 0) {
        --watchdog_pending_;
      }
    });
    // A task that is never posted is destroyed here, acknowledging at once.
    l->post([ack = std::move(ack)] {});
  }
}

bool Server::start_listening(std::string* error) {
  if (sockets_.listeners.empty() &&
      !open_serve_sockets(config_, &sockets_, error)) {
    return false;
  }
  accept_mode_ = sockets_.mode;
  return true;
}

void Server::start_threads() {
  std::vector<int> cpus;
  if (config_.cpu_affinity) {
    cpus = allowed_cpus();
    if (cpus.empty()) LOG_WARN("--cpu-affinity: no allowed CPU found");
  }
  size_t next_cpu = 0;
  auto cpu_for_next = [&]() -> int {
    if (cpus.empty()) return -1;
    return cpus[next_cpu++ % cpus.size()];
  };

  const uint64_t per_worker =
      (config_.max_connections + config_.workers - 1) / config_.workers;
  bool reuseport = accept_mode_ == AcceptMode::ReusePort;
  for (unsigned i = 0; i < config_.workers; ++i) {
    std::vector<ListenFd> own;
    if (reuseport) {
      for (size_t k = 0; k < sockets_.listeners.size(); ++k) {
        const ServeListener& l = sockets_.listeners[k];
        own.push_back(ListenFd{l.fds[i], l.spec.tls, l.spec.proxy_protocol,
                               static_cast<uint16_t>(k)});
      }
    }
    auto w = std::make_unique<Worker>(
        config_, i, std::move(own),
        [this](Worker*) { tasks_.post([this] { on_worker_finished(); }); });
    w->set_generation(current_.get());
    w->set_connection_limit(per_worker);
    workers_.push_back(std::move(w));
  }
  for (unsigned i = 0; i < config_.async_threads; ++i) {
    auto a = std::make_unique<AsyncLoop>(
        config_, config_.workers + i, i,
        [this](AsyncLoop*) { tasks_.post([this] { on_async_finished(); }); });
    a->set_generation(current_.get());
    async_loops_.push_back(std::move(a));
  }
  blocking_pool_ = std::make_unique<BlockingPool>(config_.blocking_threads,
                                                  config_.blocking_queue);
  std::vector<AsyncLoop*> pool;
  for (auto& a : async_loops_) pool.push_back(a.get());
  for (auto& w : workers_) {
    w->set_async_loops(pool);
    all_loops_.push_back(w.get());
  }
  for (auto& a : async_loops_) all_loops_.push_back(a.get());
  for (EventLoop* l : all_loops_) l->set_blocking_pool(blocking_pool_.get());
  register_handle_loops({all_loops_.begin(), all_loops_.end()});
  // Pinning order: workers first, then the async threads (--cpu-affinity).
  for (auto& w : workers_) w->start(cpu_for_next());
  for (auto& a : async_loops_) a->start(cpu_for_next());
  if (!reuseport) {
    std::vector<Worker*> targets;
    for (auto& w : workers_) targets.push_back(w.get());
    std::vector<ListenFd> fds;
    for (size_t k = 0; k < sockets_.listeners.size(); ++k) {
      const ServeListener& l = sockets_.listeners[k];
      fds.push_back(ListenFd{l.fds[0], l.spec.tls, l.spec.proxy_protocol,
                             static_cast<uint16_t>(k)});
    }
    distributor_ =
        std::make_unique<AcceptDistributor>(std::move(fds), std::move(targets));
    distributor_->start(-1);
  }
}

void Server::print_startup_line() {
  // Supervised, the parent prints them, once (notify_supervisor).
  if (!supervised_) print_startup_lines(config_, sockets_);
}

void Server::notify_supervisor() {
  if (sockets_.ready_fd < 0) return;
  // Our log lines go out before the parent's startup lines.
  log::flush_thread();
  char ready = 'R';
  ssize_t n = write(sockets_.ready_fd, &ready, 1);
  (void)n;  // a dead parent has killed us already (PR_SET_PDEATHSIG)
  close(sockets_.ready_fd);
  sockets_.ready_fd = -1;
}

void Server::on_signal(uv_signal_t* s, int signum) {
  auto* self = static_cast<Server*>(s->data);
  if (signum == SIGUSR1) {
    log::reopen_log_files("");
    return;
  }
  if (signum == SIGHUP) {
    self->on_sighup();
    return;
  }
  if (signum == SIGINT && (self->stopping() || self->drain_delay_active_)) {
    LOG_WARN("second SIGINT: exiting now");
    log::flush_thread();
    _exit(130);
  }
  if (self->drain_delay_active_) {
    // An operator who signals again does not want to wait.
    LOG_INFO("second SIGTERM: draining now, before the --drain-delay ends");
    uv_timer_stop(&self->drain_delay_timer_);
    self->drain_delay_active_ = false;
    self->begin_shutdown();
    return;
  }
  if (self->stopping()) return;
  LOG_INFO("%s: shutting down gracefully (at most %.1f s)",
           signum == SIGINT ? "SIGINT" : "SIGTERM",
           static_cast<double>(self->config_.shutdown_timeout_ms) / 1000.0);
  self->begin_stop();
}

void Server::begin_stop() {
  // From this moment /readyz and --health-check-path say 503, so that a
  // balancer takes the instance out before it stops accepting.
  admin::set_readiness(admin::Readiness::Draining);
  notifier_.send("STOPPING=1");
  // No reload starts after this (one being published completes).
  reload_pending_ = false;
  if (config_.drain_delay_ms == 0) {
    begin_shutdown();
    return;
  }
  drain_delay_active_ = true;
  LOG_INFO(
      "readiness is now 503; serving new requests for %.1f s more "
      "(--drain-delay) before the drain",
      static_cast<double>(config_.drain_delay_ms) / 1000.0);
  uv_timer_start(
      &drain_delay_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        self->drain_delay_active_ = false;
        LOG_INFO("--drain-delay over: draining");
        self->begin_shutdown();
      },
      config_.drain_delay_ms, 0);
}

void Server::begin_shutdown() {
  switch (phase_) {
    case Phase::Starting:  // signals are handled on the loop only
    case Phase::Building:  // synchronous: no signal is handled inside it
    case Phase::Serving:
      phase_ = Phase::Stopping;
      break;
    case Phase::Publishing:
      phase_ = Phase::StoppingMidPublish;
      break;
    case Phase::StoppingMidPublish:
    case Phase::Stopping:
    case Phase::Stopped:
      return;
  }
  reload_pending_ = false;
  // 1. Stop accepting.
  if (distributor_) distributor_->stop();
  // 2-4. Idle connections close, the rest finish with Connection: close.
  for (EventLoop* l : all_loops_) l->request_drain();
  // Every generation that a loop may run hears SHUTDOWN now, once. The one
  // being published already serves on the loops that switched.
  uint64_t deadline_ns = monotonic_ns() + config_.shutdown_timeout_ms * 1000000;
  shutdown_deadline_ = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(config_.shutdown_timeout_ms);
  if (current_) current_->drain(POUNCE_DRAIN_SHUTDOWN, deadline_ns);
  if (publishing_) publishing_->drain(POUNCE_DRAIN_SHUTDOWN, deadline_ns);
  for (Retiring& r : retiring_) {
    r.generation->drain(POUNCE_DRAIN_SHUTDOWN, deadline_ns);
  }
  // 5. At the deadline, close whatever is left.
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        LOG_WARN("shutdown timeout: closing the connections still open");
        for (EventLoop* l : self->all_loops_) {
          l->post([l] { l->force_close_all(); });
        }
      },
      config_.shutdown_timeout_ms, 0);
}

void Server::on_worker_finished() {
  ++workers_finished_;
  if (workers_finished_ == workers_.size()) {
    // No worker can hand a connection over any more: the async loops may
    // end once their own connections are gone.
    for (auto& a : async_loops_) a->allow_finish();
  }
  finish_if_done();
}

void Server::on_async_finished() {
  ++async_finished_;
  finish_if_done();
}

void Server::finish_if_done() {
  if (phase_ == Phase::Stopped || !stopping() ||
      workers_finished_ < workers_.size() ||
      async_finished_ < async_loops_.size()) {
    return;
  }
  for (auto& w : workers_) w->join();
  for (auto& a : async_loops_) a->join();
  // A blocking handler may outlive its connection (closed at the shutdown
  // deadline, or at --request-timeout): it gets until the same deadline.
  if (blocking_pool_ && blocking_pool_->stop(shutdown_deadline_) > 0) {
    // Its code and memory may still be in use: unloading them, or freeing
    // the pool its thread runs in, would crash it. The process exits anyway.
    LOG_ERROR(
        "exiting with blocking handlers still running; plugins stay loaded");
    (void)blocking_pool_.release();
    if (current_) current_->leak_modules();
    if (publishing_) publishing_->leak_modules();
    for (Retiring& r : retiring_) r.generation->leak_modules();
    (void)current_.release();
    (void)publishing_.release();
    for (Retiring& r : retiring_) (void)r.generation.release();
  }
  // Every loop is gone: nothing can run plugin code any more.
  phase_ = Phase::Stopped;
  publishing_.reset();
  retiring_.clear();
  current_.reset();
  uv_timer_stop(&shutdown_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&shutdown_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_delay_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_timer_), nullptr);
  // Nothing is left for it to ask, and its thread must end before the
  // loops it knows are destroyed.
  if (admin_) admin_->stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&retire_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sighup_), nullptr);
  // Closing the handle restored the default action (exit 129); a SIGHUP
  // while the process exits must not change its exit status.
  signal(SIGHUP, SIG_IGN);
  tasks_.close();
}

// ---------------------------------------------------------------------------
// Hot reload (ARCHITECTURE.md §1 "Plugin generations")

void Server::on_sighup() {
  if (drain_delay_active_) {
    LOG_INFO("SIGHUP ignored: shutting down");
    return;
  }
  switch (phase_) {
    case Phase::Serving:
      reload();
      return;
    case Phase::Starting:
    case Phase::Building:
    case Phase::Publishing:
      // Coalesced: one more reload once this one is done.
      reload_pending_ = true;
      return;
    case Phase::StoppingMidPublish:
    case Phase::Stopping:
    case Phase::Stopped:
      LOG_INFO("SIGHUP ignored: shutting down");
      return;
  }
}

void Server::reload() {
  phase_ = Phase::Building;
  notifier_.reloading();
  std::string error;
  Config next;
  std::unique_ptr<Generation> gen;
  // All or nothing, and never fatal: whatever the load path throws is a
  // failed reload, and the current generation keeps serving.
  try {
    gen = build_next(&next, &error);
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "an unknown exception";
  }
  if (!gen) {
    LOG_ERROR("reload failed: %s", error.c_str());
    admin::count_reload(false);
    // Still serving the current generation.
    notifier_.send("READY=1\nSTATUS=reload failed; serving generation " +
                   std::to_string(current_->id()));
    phase_ = Phase::Serving;
    if (reload_pending_) {
      reload_pending_ = false;
      reload();
    }
    return;
  }
  ++next_generation_id_;
  config_.plugins = next.plugins;
  config_.plugin_configs = next.plugin_configs;
  config_.statics = next.statics;
  phase_ = Phase::Publishing;
  publish(std::move(gen));
}

std::unique_ptr<Generation> Server::build_next(Config* next,
                                               std::string* error) {
  bool restart_needed = false;
  if (!reload_plugin_entries(config_, next, &restart_needed, error)) {
    return nullptr;
  }
  if (restart_needed) {
    LOG_WARN("%s changes settings other than plugins; restart to apply them",
             config_.config_file.c_str());
  }
  // Certificates first: reading files is cheap, loading plugins is not.
  std::shared_ptr<const tls::ContextSet> tls;
  if (!build_tls(*next, &tls, error)) return nullptr;
  std::unique_ptr<Generation> g = Generation::build(
      *next, next_generation_id_, config_.workers + config_.async_threads,
      host_api(), error);
  if (g) g->set_tls_contexts(std::move(tls));
  return g;
}

bool Server::attach_tls(Generation* g, const Config& config,
                        std::string* error) {
  std::shared_ptr<const tls::ContextSet> tls;
  if (!build_tls(config, &tls, error)) return false;
  g->set_tls_contexts(std::move(tls));
  return true;
}

bool Server::build_tls(const Config& config,
                       std::shared_ptr<const tls::ContextSet>* out,
                       std::string* error) {
  out->reset();
  if (!config.any_tls()) return true;
  if (!ticket_keys_ && config.tls_session_tickets) {
    ticket_keys_ =
        std::make_shared<tls::TicketKeys>(config.tls_ticket_rotation_ms);
  }
  std::vector<std::string> warnings;
  *out = tls::ContextSet::build(config, ticket_keys_, &warnings, error,
                                config.http2);
  for (const std::string& w : warnings) LOG_WARN("%s", w.c_str());
  return *out != nullptr;
}

void Server::publish(std::unique_ptr<Generation> next) {
  // Each worker swaps its pointer between two callbacks, so no request of
  // that worker straddles the swap; the old generation is retired once every
  // worker has acknowledged.
  publishing_ = std::move(next);
  publish_acks_ = 0;
  Generation* g = publishing_.get();
  uint64_t id = g->id();
  for (EventLoop* l : all_loops_) {
    bool posted = l->post([this, l, g, id] {
      l->set_generation(g);
      tasks_.post([this, id] { on_published(id); });
    });
    if (!posted) tasks_.post([this, id] { on_published(id); });
  }
}

void Server::on_published(uint64_t id) {
  if (!publishing_ || publishing_->id() != id) return;
  if (++publish_acks_ < all_loops_.size()) return;
  std::unique_ptr<Generation> old = std::move(current_);
  current_ = std::move(publishing_);
  LOG_INFO("reloaded generation %llu", static_cast<unsigned long long>(id));
  admin::count_reload(true);
  if (phase_ == Phase::StoppingMidPublish) {
    // Both generations heard SHUTDOWN in begin_shutdown: the old one only
    // waits for its pins now, within the shutdown's own deadline.
    phase_ = Phase::Stopping;
    if (old) {
      retiring_.push_back(Retiring{
          std::move(old), uv_now(&loop_) + config_.shutdown_timeout_ms});
      check_retiring();
    }
    return;
  }
  phase_ = Phase::Serving;
  admin::set_current_generation(id);
  // After STOPPING=1 (a SIGTERM during --drain-delay), never ready again.
  if (!drain_delay_active_) {
    notifier_.send("READY=1\nSTATUS=serving generation " + std::to_string(id));
  }
  if (old) {
    uint64_t deadline_ns = monotonic_ns() + config_.reload_timeout_ms * 1000000;
    old->drain(POUNCE_DRAIN_RELOAD, deadline_ns);
    retiring_.push_back(
        Retiring{std::move(old), uv_now(&loop_) + config_.reload_timeout_ms});
    check_retiring();
  }
  if (reload_pending_) {
    reload_pending_ = false;
    reload();
  }
}

void Server::check_retiring() {
  for (size_t i = 0; i < retiring_.size();) {
    Retiring& r = retiring_[i];
    if (r.generation->pinned() == 0) {
      // shutdown() of each instance, then dlclose.
      LOG_INFO("unloaded generation %llu",
               static_cast<unsigned long long>(r.generation->id()));
      retiring_.erase(retiring_.begin() + static_cast<long>(i));
      continue;
    }
    if (!r.closing_sent && uv_now(&loop_) >= r.deadline_ms) {
      // Streams get a final chunk, WebSockets close 1001; the loops unpin as
      // their connections end.
      r.closing_sent = true;
      r.leak_deadline_ms = uv_now(&loop_) + kRetireGraceMs;
      LOG_WARN(
          "generation %llu still pinned at --reload-timeout; closing its "
          "connections",
          static_cast<unsigned long long>(r.generation->id()));
      const Generation* g = r.generation.get();
      for (EventLoop* l : all_loops_) {
        l->post([l, g] { l->end_streams_of(g); });
      }
    } else if (r.closing_sent && uv_now(&loop_) >= r.leak_deadline_ms) {
      // Something still holds it: unmapping code that may run is worse than
      // leaking it.
      LOG_ERROR(
          "generation %llu still pinned %llu ms after closing its "
          "connections; leaking it",
          static_cast<unsigned long long>(r.generation->id()),
          static_cast<unsigned long long>(kRetireGraceMs));
      r.generation.release();
      retiring_.erase(retiring_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  if (!retiring_.empty()) {
    uv_timer_start(
        &retire_timer_,
        [](uv_timer_t* t) { static_cast<Server*>(t->data)->check_retiring(); },
        kRetireCheckMs, 0);
  }
}

}  // namespace pounce
