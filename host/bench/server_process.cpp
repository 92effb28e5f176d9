#include "bench/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace pounce::bench {

namespace {

constexpr auto kPoll = std::chrono::milliseconds(10);
constexpr auto kStopGrace = std::chrono::seconds(5);

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

bool ServerProcess::start(const ServerCommand& command, std::string* error) {
  command_ = command;
  std::vector<char*> argv;
  for (const std::string& a : command_.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  int log = open(command_.log_path.c_str(),
                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) {
    *error = "cannot create " + command_.log_path;
    return false;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    *error = "fork failed";
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the parent died already
    if (command_.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(command_.cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log);
  // Also from the parent, so that stop() cannot race the child's setpgid.
  setpgid(pid, pid);
  pid_ = pid;
  reaped_ = false;
  return true;
}

bool ServerProcess::running() {
  if (pid_ <= 0 || reaped_) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

bool ServerProcess::wait_startup_line(std::chrono::milliseconds timeout,
                                      uint16_t* port, std::string* error) {
  const std::string prefix = "pounce-host: listening on ";
  const std::string marker = prefix + command_.url_scheme + "://";
  const std::string other =
      prefix + (command_.url_scheme == "https" ? "http://" : "https://");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string log = read_file(command_.log_path);
    size_t at = log.find(marker);
    if (at == std::string::npos && log.find(other) != std::string::npos &&
        log.find('\n', log.find(other)) != std::string::npos) {
      size_t from = log.find(other);
      *error =
          command_.name + " listens on " +
          log.substr(from + prefix.size(),
                     log.find('\n', from) - from - prefix.size()) +
          ", not " + command_.url_scheme + "://" +
          (command_.url_scheme == "https" ? " (this build does not serve TLS)"
                                          : "");
      return false;
    }
    size_t eol = at == std::string::npos ? at : log.find('\n', at);
    if (eol != std::string::npos) {
      // HOST:PORT up to " (workers=".
      size_t from = at + marker.size();
      std::string rest = log.substr(from, eol - from);
      size_t space = rest.find(' ');
      std::string hostport = rest.substr(0, space);
      size_t colon = hostport.rfind(':');
      if (colon == std::string::npos) {
        *error = "unexpected startup line: " + rest;
        return false;
      }
      *port = static_cast<uint16_t>(atoi(hostport.c_str() + colon + 1));
      return *port != 0;
    }
    if (!running()) {
      *error = command_.name + " exited during start-up:\n" + log_tail();
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      *error = command_.name + " printed no startup line:\n" + log_tail();
      return false;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

bool ServerProcess::wait_port(uint16_t port, std::chrono::milliseconds timeout,
                              std::string* error) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (port_accepts(port)) return true;
    if (!running()) {
      *error = command_.name + " exited during start-up:\n" + log_tail();
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      *error = command_.name + " does not answer on port " +
               std::to_string(port) + ":\n" + log_tail();
      return false;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void ServerProcess::stop() {
  if (pid_ <= 0 || reaped_) return;
  kill(-pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  while (running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kPoll);
  }
  // Also the group: nginx workers outlive a master that was killed.
  kill(-pid_, SIGKILL);
  if (!reaped_) {
    int status;
    waitpid(pid_, &status, 0);
    reaped_ = true;
  }
}

std::string ServerProcess::log_tail(size_t max) const {
  std::string log = read_file(command_.log_path);
  return log.size() > max ? log.substr(log.size() - max) : log;
}

uint16_t pick_free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

bool port_accepts(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace pounce::bench
