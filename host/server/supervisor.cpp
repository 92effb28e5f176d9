#include "server/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/options.h"
#include "log/logger.h"
#include "net/listener.h"

namespace pounce {

namespace {

constexpr uint64_t kFirstBackoffMs = 500;

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 +
         static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

sigset_t forwarded_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::string("SIG") + (abbrev ? abbrev : "?") + " (" +
         std::to_string(sig) + ")";
}

// The exit code of a process that ended with `status`, as a shell reports it.
int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

class Supervisor {
 public:
  Supervisor(Config* config, ServeSockets* sockets)
      : config_(config), sockets_(sockets) {}

  // True in the child (return to main and serve); false in the parent when
  // it is done, with exit_code() set.
  bool run();
  int exit_code() const { return exit_code_; }

 private:
  bool spawn();  // true in the child
  void on_ready_pipe();
  void on_signal(int sig);
  void on_child_exit(int status);
  void close_sockets();
  void finish(int code) {
    done_ = true;
    exit_code_ = code;
  }

  Config* config_;
  ServeSockets* sockets_;
  sigset_t old_mask_{};
  int signal_fd_ = -1;
  pid_t child_ = -1;
  int ready_fd_ = -1;  // read end of the running child's ready pipe
  bool child_ready_ = false;
  bool ever_ready_ = false;  // the startup lines are printed
  bool stopping_ = false;    // SIGTERM/SIGINT: no more restarts
  unsigned stop_signals_ = 0;
  unsigned restarts_ = 0;
  unsigned failed_attempts_ = 0;  // restarts that died before ready, in a row
  uint64_t backoff_ms_ = kFirstBackoffMs;
  uint64_t restart_at_ms_ = 0;  // 0: no restart scheduled
  bool done_ = false;
  int exit_code_ = 0;
};

bool Supervisor::run() {
  // Every signal the parent acts on arrives through signalfd, so nothing
  // runs in a signal handler here, and a signal that comes before the child
  // exists is simply read later.
  sigset_t mask = forwarded_signals();
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, &old_mask_);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) {
    LOG_ERROR("supervisor: signalfd: %s", strerror(errno));
    finish(1);
    return false;
  }
  if (spawn()) return true;
  while (!done_) {
    int timeout = -1;
    if (restart_at_ms_) {
      uint64_t now = now_ms();
      timeout =
          restart_at_ms_ > now ? static_cast<int>(restart_at_ms_ - now) : 0;
    }
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {ready_fd_, POLLIN, 0}};
    int rc = poll(fds, ready_fd_ >= 0 ? 2 : 1, timeout);
    if (rc < 0 && errno != EINTR) {
      LOG_ERROR("supervisor: poll: %s", strerror(errno));
      if (child_ > 0) kill(child_, SIGKILL);
      finish(1);
      break;
    }
    if (ready_fd_ >= 0 && fds[1].revents) on_ready_pipe();
    if (fds[0].revents) {
      signalfd_siginfo si;
      while (read(signal_fd_, &si, sizeof si) == sizeof si) {
        on_signal(static_cast<int>(si.ssi_signo));
        if (done_) break;
      }
    }
    if (!done_ && restart_at_ms_ && child_ < 0 && now_ms() >= restart_at_ms_) {
      restart_at_ms_ = 0;
      if (spawn()) return true;
    }
  }
  close_sockets();
  if (ready_fd_ >= 0) close(ready_fd_);
  close(signal_fd_);
  return false;
}

bool Supervisor::spawn() {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC | O_NONBLOCK) != 0) {
    LOG_ERROR("supervisor: pipe: %s", strerror(errno));
    finish(1);
    return false;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    LOG_ERROR("supervisor: fork: %s", strerror(errno));
    close(ready[0]);
    close(ready[1]);
    // Try again later rather than leave the sockets unserved.
    restart_at_ms_ = now_ms() + backoff_ms_;
    return false;
  }
  if (pid == 0) {
    // A supervisor that is killed outright must not leave a serving process
    // behind that nobody restarts or stops.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // it died before prctl
    // Its own process group: a signal sent to the parent's group (Ctrl-C at
    // a terminal, kill -- -PGID) reaches it once, forwarded by the parent,
    // not twice (a second SIGINT means "exit at once").
    setpgid(0, 0);
    close(signal_fd_);
    close(ready[0]);
    if (ready_fd_ >= 0) close(ready_fd_);
    // SIGCHLD as it was; the forwarded signals blocked until the server's
    // handlers exist (unblock_forwarded_signals).
    sigset_t mask = old_mask_;
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, sig);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    sockets_->ready_fd = ready[1];
    if (restarts_ > 0) {
      if (config_->config_file.empty()) {
        LOG_INFO(
            "worker process restarted (restart %u): loading the plugins as "
            "they are on disk",
            restarts_);
      } else {
        // As a reload would: the plugin entries of the file as it is now.
        Config next;
        bool restart_needed = false;
        std::string error;
        if (!reload_plugin_entries(*config_, &next, &restart_needed, &error)) {
          LOG_ERROR("worker process restart: %s", error.c_str());
          log::flush_fallback();
          _exit(1);
        }
        config_->plugins = next.plugins;
        config_->plugin_configs = next.plugin_configs;
        LOG_INFO(
            "worker process restarted (restart %u): loading the plugins as "
            "they are on disk (%s)",
            restarts_, config_->config_file.c_str());
      }
    }
    return true;
  }
  close(ready[1]);
  child_ = pid;
  ready_fd_ = ready[0];
  child_ready_ = false;
  return false;
}

void Supervisor::on_ready_pipe() {
  char byte;
  ssize_t n = read(ready_fd_, &byte, 1);
  if (n < 0) return;  // EAGAIN, EINTR: nothing yet
  close(ready_fd_);   // one byte, or the end: the child died (SIGCHLD follows)
  ready_fd_ = -1;
  if (n != 1) return;
  child_ready_ = true;
  failed_attempts_ = 0;
  backoff_ms_ = kFirstBackoffMs;
  if (!ever_ready_) {
    ever_ready_ = true;
    if (!stopping_) print_startup_lines(*config_, *sockets_);
  } else {
    LOG_INFO("worker process %d is serving", static_cast<int>(child_));
  }
}

void Supervisor::on_signal(int sig) {
  if (sig == SIGCHLD) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == child_) on_child_exit(status);
      if (done_) return;
    }
    return;
  }
  if (sig == SIGHUP) {
    if (child_ > 0) {
      kill(child_, SIGHUP);  // the in-process reload: no restart
    } else if (restart_at_ms_) {
      LOG_INFO("SIGHUP: restarting the worker process now");
      restart_at_ms_ = now_ms();
    }
    return;
  }
  // SIGTERM or SIGINT: the child drains; the parent follows it out.
  ++stop_signals_;
  if (!stopping_) {
    stopping_ = true;
    restart_at_ms_ = 0;
    // The child holds its own copies: once it closes them in its drain, the
    // sockets are gone and new connections are refused, as without the
    // supervisor.
    close_sockets();
  }
  if (child_ < 0) {
    finish(0);
    return;
  }
  if (sig == SIGINT && stop_signals_ > 1 && !child_ready_) {
    // A child still starting has SIGINT blocked, and a second pending SIGINT
    // merges with the first: end it here.
    kill(child_, SIGKILL);
    finish(130);
    return;
  }
  kill(child_, sig);
}

void Supervisor::on_child_exit(int status) {
  // It may have said it was ready just before it died.
  if (ready_fd_ >= 0) on_ready_pipe();
  bool was_ready = child_ready_;
  child_ = -1;
  child_ready_ = false;
  if (ready_fd_ >= 0) {
    close(ready_fd_);
    ready_fd_ = -1;
  }
  if (stopping_) {
    finish(exit_code_of(status));
    return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    // Only a shutdown ends it cleanly (a signal sent to the child itself).
    LOG_INFO("worker process exited with status 0; stopping");
    finish(0);
    return;
  }
  if (WIFSIGNALED(status)) {
    // A contract (ARCHITECTURE.md §7): tools and tests look for this line.
    LOG_ERROR("worker process exited on signal %s",
              signal_text(WTERMSIG(status)).c_str());
  } else {
    LOG_ERROR("worker process exited with status %d", exit_code_of(status));
  }
  if (!ever_ready_) {
    // Its own message says why (a plugin's init failed, ...); restarting
    // would fail the same way.
    LOG_ERROR("the worker process failed at startup; not restarting");
    finish(exit_code_of(status) ? exit_code_of(status) : 1);
    return;
  }
  ++restarts_;
  if (was_ready) {
    // At once, every time: a request that crashes its process must not buy
    // an attacker a pause in service. The backlog holds new connections.
    LOG_WARN("restarting the worker process (restart %u)", restarts_);
    restart_at_ms_ = now_ms();
    return;
  }
  // A restart that died before it served: a crash loop at startup.
  ++failed_attempts_;
  uint64_t delay = backoff_ms_;
  uint64_t max = config_->restart_backoff_max_ms;
  if (delay > max) delay = max;
  backoff_ms_ = delay * 2 > max ? max : delay * 2;
  LOG_WARN(
      "worker process died before it was ready; restarting it in %.1f s "
      "(attempt %u, restart %u)",
      static_cast<double>(delay) / 1000.0, failed_attempts_ + 1, restarts_);
  restart_at_ms_ = now_ms() + delay;
}

void Supervisor::close_sockets() {
  close_serve_sockets(sockets_);
}

}  // namespace

bool open_serve_sockets(const Config& config, ServeSockets* out,
                        std::string* error) {
  AcceptMode mode = config.accept_mode;
  if (mode == AcceptMode::Auto) {
    mode =
        reuseport_supported() ? AcceptMode::ReusePort : AcceptMode::Distributor;
  }
  bool reuseport = mode == AcceptMode::ReusePort;
  unsigned count = reuseport ? config.workers : 1;
  out->mode = mode;
  for (const ListenSpec& spec : config.listens) {
    ListenSockets sockets;
    if (!open_listen_sockets(spec.host, spec.port, config.backlog, count,
                             reuseport, &sockets, error)) {
      close_serve_sockets(out);
      return false;
    }
    ServeListener l;
    l.spec = spec;
    l.port = sockets.port;
    l.fds = std::move(sockets.fds);
    out->listeners.push_back(std::move(l));
  }
  return true;
}

void close_serve_sockets(ServeSockets* sockets) {
  for (ServeListener& l : sockets->listeners) {
    for (int fd : l.fds) close(fd);
  }
  sockets->listeners.clear();
}

std::optional<int> supervise(Config* config, ServeSockets* sockets) {
  std::string error;
  if (!open_serve_sockets(*config, sockets, &error)) {
    LOG_ERROR("%s", error.c_str());
    return 1;
  }
  Supervisor supervisor(config, sockets);
  if (supervisor.run()) return std::nullopt;
  return supervisor.exit_code();
}

void unblock_forwarded_signals() {
  sigset_t set = forwarded_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void print_startup_lines(const Config& config, const ServeSockets& sockets) {
  // A contract (ARCHITECTURE.md §3): scripts and tests wait for these
  // lines. Through the error sink, after the lines before them: a blocking
  // stdio write would stall the main loop behind a slow stderr reader.
  for (const ServeListener& l : sockets.listeners) {
    char line[512];
    snprintf(line, sizeof line, "pounce-host: listening on %s (workers=%u)\n",
             l.spec.url(l.port).c_str(), config.workers);
    log::write_plain(line);
  }
}

}  // namespace pounce
