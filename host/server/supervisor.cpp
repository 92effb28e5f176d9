#include "server/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "cli/options.h"
#include "log/log_files.h"
#include "log/logger.h"
#include "net/listener.h"
#include "server/socket_activation.h"

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
  sigaddset(&set, SIGUSR1);  // reopen the log files
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
  // main() ignores SIGUSR1 until a loop handles it; an ignored signal never
  // reaches the signalfd. Blocked, the default action cannot end us.
  signal(SIGUSR1, SIG_DFL);
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
      // Every pending signal first: signalfd hands them over by number, not
      // by arrival (SIGHUP before SIGTERM). A stop that came with a reload
      // is acted on first, and the reload then finds the process stopping.
      int pending[64];
      size_t n = 0;
      signalfd_siginfo si;
      while (n < 64 && read(signal_fd_, &si, sizeof si) == sizeof si) {
        pending[n++] = static_cast<int>(si.ssi_signo);
      }
      std::stable_partition(pending, pending + n, [](int sig) {
        return sig == SIGTERM || sig == SIGINT;
      });
      for (size_t i = 0; i < n && !done_; ++i) on_signal(pending[i]);
    }
    if (!done_ && restart_at_ms_ && child_ < 0 && now_ms() >= restart_at_ms_) {
      restart_at_ms_ = 0;
      if (spawn()) return true;
    }
  }
  close_sockets();
  // The child is gone: nobody serves on the socket files any more.
  remove_unix_socket_files(sockets_);
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
    for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&mask, sig);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    sockets_->ready_fd = ready[1];
    sockets_->restarts = restarts_;
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
  if (sig == SIGUSR1) {
    // Ours first, then the child's: each process holds its own descriptors.
    log::reopen_log_files("supervisor: ");
    if (child_ > 0) kill(child_, SIGUSR1);
    return;
  }
  if (sig == SIGHUP) {
    if (stopping_) {
      // The child drains and would not reload (it says the same); not
      // forwarded, because the kernel hands a child its pending signals
      // lowest number first: sent after SIGTERM, SIGHUP could still be
      // taken before it.
      LOG_INFO("SIGHUP ignored: shutting down");
      return;
    }
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

namespace {

// The address an inherited socket is bound to, as a listener spec (the
// startup line shows where the host really listens).
bool spec_of_socket(int fd, int family, ListenSpec* spec, uint16_t* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return false;
  }
  if (family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&addr);
    const size_t n = len > offsetof(sockaddr_un, sun_path)
                         ? len - offsetof(sockaddr_un, sun_path)
                         : 0;
    std::string path(un->sun_path, strnlen(un->sun_path, n));
    // An abstract socket's name starts with a NUL; shown with '@' as ss(8)
    // and systemd do.
    if (path.empty() && n > 1) {
      path.assign(1, '@');
      path.append(un->sun_path + 1, n - 1);
    }
    spec->unix_path = path.empty() ? "(unnamed)" : path;
    spec->host.clear();
    *port = 0;
    return true;
  }
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    *port = ntohs(in->sin_port);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    *port = ntohs(in6->sin6_port);
  }
  spec->host = text;
  spec->unix_path.clear();
  spec->port = *port;
  return true;
}

// Gives an inherited socket to a listener: its own address for the
// startup line, and `count` descriptors for the workers. Inherited sockets
// were not made with SO_REUSEPORT, so the workers share its accept queue.
bool adopt_inherited(const InheritedSocket& in, ListenSpec spec, unsigned count,
                     ServeListener* out, std::string* error) {
  if (spec.is_unix() != (in.family == AF_UNIX)) {
    *error = "socket activation: --listen " + spec.text() + " was given a " +
             (in.family == AF_UNIX ? "Unix" : "TCP") + " socket (descriptor " +
             std::to_string(in.fd) + ")";
    return false;
  }
  const bool tls = spec.tls;
  uint16_t port = 0;
  if (!spec_of_socket(in.fd, in.family, &spec, &port)) {
    *error = "socket activation: getsockname: " + std::string(strerror(errno));
    return false;
  }
  spec.tls = tls;
  out->spec = std::move(spec);
  out->port = port;
  return share_listen_socket(in.fd, count, &out->fds, error);
}

// The listeners are the inherited sockets (systemd's .socket unit):
// - a --listen or --admin-listen entry with ?fd-name=NAME takes the socket
//   named NAME in LISTEN_FDNAMES;
// - the other --listen entries take the remaining sockets in order;
// - without --listen, every remaining socket becomes a listener (https when
//   --tls-cert is given, as the default listener would be): nothing else is
//   bound.
bool open_inherited(const Config& config, std::vector<InheritedSocket> fds,
                    unsigned count, ServeSockets* out, std::string* error) {
  std::vector<bool> taken(fds.size(), false);
  auto by_name = [&](const std::string& name) -> int {
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!taken[i] && fds[i].name == name) {
        taken[i] = true;
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  auto missing = [&](const ListenSpec& spec) {
    std::string names;
    for (const InheritedSocket& s : fds) {
      names += (names.empty() ? "" : ", ") +
               (s.name.empty() ? std::string("(unnamed)") : s.name);
    }
    *error = "socket activation: no inherited socket for " + spec.text() +
             " (passed: " + names + ")";
    return false;
  };
  std::vector<int> chosen(config.listens.size(), -1);
  if (config.listen_from_cli) {
    for (size_t i = 0; i < config.listens.size(); ++i) {
      const ListenSpec& spec = config.listens[i];
      if (spec.fd_name.empty()) continue;
      if ((chosen[i] = by_name(spec.fd_name)) < 0) return missing(spec);
    }
  }
  if (!config.admin_listen.empty() && !config.admin.fd_name.empty()) {
    int i = by_name(config.admin.fd_name);
    if (i < 0) return missing(config.admin);
    uint16_t port = 0;
    ListenSpec spec = config.admin;
    if (spec.is_unix() != (fds[i].family == AF_UNIX) ||
        !spec_of_socket(fds[i].fd, fds[i].family, &spec, &port)) {
      *error = "socket activation: --admin-listen " + config.admin.text() +
               " was given a socket of another kind";
      return false;
    }
    out->admin.spec = spec;
    out->admin.port = port;
    out->admin_fd = fds[i].fd;
  }
  size_t next = 0;
  auto next_free = [&]() -> int {
    while (next < fds.size() && taken[next]) ++next;
    if (next == fds.size()) return -1;
    taken[next] = true;
    return static_cast<int>(next++);
  };
  if (config.listen_from_cli) {
    for (size_t i = 0; i < config.listens.size(); ++i) {
      if (chosen[i] < 0 && (chosen[i] = next_free()) < 0) {
        return missing(config.listens[i]);
      }
      ServeListener l;
      if (!adopt_inherited(fds[chosen[i]], config.listens[i], count, &l,
                           error)) {
        return false;
      }
      out->listeners.push_back(std::move(l));
    }
  } else {
    for (int i; (i = next_free()) >= 0;) {
      ListenSpec spec;
      spec.tls = fds[i].family != AF_UNIX && config.listens[0].tls;
      if (fds[i].family == AF_UNIX) spec.unix_path = "-";
      ServeListener l;
      if (!adopt_inherited(fds[i], spec, count, &l, error)) return false;
      out->listeners.push_back(std::move(l));
    }
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (taken[i]) continue;
    LOG_WARN(
        "socket activation: descriptor %d (%s) matches no --listen "
        "entry; closing it",
        fds[i].fd, fds[i].name.empty() ? "unnamed" : fds[i].name.c_str());
    close(fds[i].fd);
  }
  if (out->listeners.empty()) {
    *error = "socket activation: LISTEN_FDS passed no socket to listen on";
    return false;
  }
  return true;
}

// Opens one configured listener: `count` SO_REUSEPORT sockets for TCP, or
// one Unix socket shared by `count` descriptors.
bool open_listener(const Config& config, const ListenSpec& spec, unsigned count,
                   bool reuseport, ServeSockets* out, ServeListener* l,
                   std::string* error) {
  l->spec = spec;
  if (spec.is_unix()) {
    UnixSocketFile file;
    int fd = open_unix_listener(spec.unix_path, config.uds_mode, config.backlog,
                                &file, error);
    if (fd < 0) return false;
    out->unix_files.push_back(file);
    l->port = 0;
    if (!share_listen_socket(fd, count, &l->fds, error)) {
      close(fd);
      return false;
    }
    return true;
  }
  ListenSockets sockets;
  if (!open_listen_sockets(spec.host, spec.port, config.backlog, count,
                           reuseport, &sockets, error)) {
    return false;
  }
  l->port = sockets.port;
  l->fds = std::move(sockets.fds);
  return true;
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
  std::vector<InheritedSocket> inherited;
  bool ok = take_inherited_sockets(&inherited, error);
  if (ok && !inherited.empty()) {
    LOG_INFO("socket activation: %zu inherited socket%s", inherited.size(),
             inherited.size() == 1 ? "" : "s");
    ok = open_inherited(config, std::move(inherited), count, out, error);
  } else if (ok) {
    for (const ListenSpec& spec : config.listens) {
      if (!spec.fd_name.empty()) {
        *error = "--listen " + spec.text() +
                 ": fd-name needs socket activation (LISTEN_FDS)";
        ok = false;
        break;
      }
      ServeListener l;
      if (!(ok = open_listener(config, spec, count, reuseport, out, &l,
                               error))) {
        break;
      }
      out->listeners.push_back(std::move(l));
    }
  }
  if (ok && out->admin_fd < 0 && !config.admin_listen.empty()) {
    if (!config.admin.fd_name.empty()) {
      *error = "--admin-listen " + config.admin.text() +
               ": fd-name needs socket activation (LISTEN_FDS)";
      ok = false;
    } else {
      ServeListener l;
      ok = open_listener(config, config.admin, 1, false, out, &l, error);
      if (ok) {
        out->admin_fd = l.fds[0];
        out->admin = std::move(l);
        out->admin.fds.clear();
      }
    }
  }
  if (!ok) {
    close_serve_sockets(out);
    remove_unix_socket_files(out);
  }
  return ok;
}

void close_serve_sockets(ServeSockets* sockets) {
  for (ServeListener& l : sockets->listeners) {
    for (int fd : l.fds) close(fd);
  }
  sockets->listeners.clear();
  if (sockets->admin_fd >= 0) close(sockets->admin_fd);
  sockets->admin_fd = -1;
}

void remove_unix_socket_files(ServeSockets* sockets) {
  for (const UnixSocketFile& f : sockets->unix_files) {
    remove_unix_socket_file(f);
  }
  sockets->unix_files.clear();
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
  // Unsupervised, the server has handed admin_fd to the admin thread by
  // now: the configuration says whether there is one.
  if (!config.admin_listen.empty()) {
    char line[512];
    snprintf(line, sizeof line, "pounce-host: admin on %s\n",
             sockets.admin.spec.url(sockets.admin.port).c_str());
    log::write_plain(line);
  }
}

}  // namespace pounce
