#include "host_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace pounce::test {

namespace {

const char* env_or(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v && *v ? v : fallback;
}

std::vector<char*> make_argv(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string host_binary() {
  return env_or("POUNCE_HOST_BIN", POUNCE_HOST_BIN);
}

std::string plugin_path(const std::string& name) {
  return std::string(env_or("POUNCE_PLUGIN_DIR", POUNCE_PLUGIN_DIR)) + "/lib" +
         name + ".so";
}

std::string test_plugin_path(const std::string& name) {
  return std::string(env_or("POUNCE_TEST_PLUGIN_DIR", POUNCE_TEST_PLUGIN_DIR)) +
         "/lib" + name + ".so";
}

size_t count_of(const std::string& haystack, const std::string& needle) {
  if (needle.empty()) return 0;
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::string sanitizer_report(const std::string& output) {
  // The banners each runtime prints first; UBSan's has no banner of its own,
  // only "file:line:col: runtime error: ...".
  static const char* const kMarkers[] = {
      "ERROR: AddressSanitizer",  "ERROR: LeakSanitizer",
      "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer",
      ": runtime error: ",        "ERROR: UndefinedBehaviorSanitizer",
  };
  size_t first = std::string::npos;
  for (const char* m : kMarkers) first = std::min(first, output.find(m));
  if (first == std::string::npos) return {};
  size_t line = output.rfind('\n', first);
  line = line == std::string::npos ? 0 : line + 1;
  constexpr size_t kMax = 8192;  // enough for the stack, short in a log
  return output.substr(line, kMax);
}

HostProcess::HostProcess(HostOptions options)
    : crash_expected_(options.crash_expected) {
  std::vector<std::string> args = std::move(options.args);
  bool has_port = false;
  size_t listens = 0;
  for (const std::string& a : args) {
    has_port |= a == "--port" || a == "--listen";
    listens += a == "--listen";
  }
  args.insert(args.begin(), host_binary());
  args.insert(args.begin(), options.prefix.begin(), options.prefix.end());
  if (!has_port) {
    args.push_back("--port");
    args.push_back("0");
  }
  int out_pipe[2], err_pipe[2];
  bool made;
  if (options.stdout_kind == HostOptions::Stdout::Socket) {
    made = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out_pipe) == 0;
  } else {
    made = pipe2(out_pipe, O_CLOEXEC) == 0;
  }
  if (!made || pipe2(err_pipe, O_CLOEXEC) != 0) return;
  const bool not_reopenable =
      options.stdout_kind == HostOptions::Stdout::PipeNotReopenable;
  if (not_reopenable) fchmod(out_pipe[1], 0);
  int life_pipe[2] = {-1, -1};
  constexpr int kLifeFd = 100;
  if (!options.error_log_file.empty()) {
    if (pipe2(life_pipe, O_CLOEXEC) != 0) return;
    end_sink_ = &life_;
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (life_pipe[1] >= 0) dup2(life_pipe[1], kLifeFd);  // inherited
    if (not_reopenable && geteuid() == 0) {
      // Root bypasses the pipe's mode: become nobody, like the host started
      // with sudo -u by a user whose pipe it writes to.
      if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 ||
          setuid(65534) != 0) {
        _exit(126);
      }
    }
    // Own process group: a test can signal it without touching ctest.
    setpgid(0, 0);
    std::vector<char*> argv = make_argv(args);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (life_pipe[1] >= 0) {
    close(life_pipe[1]);
    life_thread_ =
        std::thread(&HostProcess::reader, this, life_pipe[0], &life_);
  }
  out_fd_ = out_pipe[0];
  if (options.drain_stdout) resume_stdout();
  err_thread_ = std::thread(&HostProcess::reader, this, err_pipe[0], &err_);
  if (!options.error_log_file.empty()) {
    file_thread_ =
        std::thread(&HostProcess::follow_file, this, options.error_log_file);
  }

  // One startup line per listener, in --listen order.
  const std::string marker = "pounce-host: listening on ";
  const size_t lines = options.startup_lines ? options.startup_lines
                       : listens             ? listens
                                             : 1;
  if (!wait_for(&err_, marker, options.startup_timeout, lines)) return;
  std::lock_guard lock(mutex_);
  size_t at = 0;
  for (size_t i = 0; i < lines; ++i) {
    at = err_.find(marker, at) + marker.size();
    size_t end = err_.find(" (workers=", at);
    std::string url = err_.substr(at, end - at);
    listener_urls_.push_back(url);
    listener_ports_.push_back(
        url.rfind("unix:", 0) == 0
            ? 0
            : static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
    at = end;
  }
  port_ = listener_ports_[0];
  started_ = true;
}

pid_t HostProcess::serving_pid() const {
  std::ifstream children("/proc/" + std::to_string(pid_) + "/task/" +
                         std::to_string(pid_) + "/children");
  pid_t child = 0;
  if (children >> child && child > 0) return child;
  return pid_;
}

void HostProcess::resume_stdout() {
  if (out_fd_ < 0 || out_thread_.joinable()) return;
  out_thread_ = std::thread(&HostProcess::reader, this, out_fd_, &out_);
}

void HostProcess::close_stdout() {
  if (out_fd_ < 0 || out_thread_.joinable()) return;
  close(out_fd_);
  out_fd_ = -1;
}

HostProcess::~HostProcess() {
  if (pid_ > 0 && exit_status_ == -2) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (!out_thread_.joinable() && out_fd_ >= 0) close(out_fd_);
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  if (life_thread_.joinable()) life_thread_.join();
  if (file_thread_.joinable()) file_thread_.join();
  std::string report = crash_expected_ ? "" : sanitizer_report(err_);
  if (!report.empty()) {
    ADD_FAILURE() << "pounce-host (pid " << pid_
                  << ") printed a sanitizer report:\n"
                  << report;
  }
}

std::string HostProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HostProcess::reader(int fd, std::string* sink) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard lock(mutex_);
    sink->append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard lock(mutex_);
  if (sink == end_sink_) err_closed_ = true;
  cv_.notify_all();
}

void HostProcess::follow_file(const std::string& path) {
  int fd = -1;
  ino_t inode = 0;
  std::string partial;  // a line not yet complete
  auto drain = [&] {
    char buf[4096];
    for (;;) {
      ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      partial.append(buf, static_cast<size_t>(n));
      const size_t end = partial.rfind('\n');
      if (end == std::string::npos) continue;
      std::lock_guard lock(mutex_);
      err_.append(partial, 0, end + 1);
      partial.erase(0, end + 1);
      cv_.notify_all();
    }
  };
  for (;;) {
    drain();
    // A new file at the path (the old one renamed, the host reopened):
    // what the old one still has first, then the new one.
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && (fd < 0 || st.st_ino != inode)) {
      int next = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (next >= 0) {
        drain();
        if (fd >= 0) close(fd);
        fd = next;
        inode = st.st_ino;
        continue;
      }
    }
    std::unique_lock lock(mutex_);
    // A file has no end-of-stream to wait for: look again shortly, until
    // the process tree is gone (its stderr closed), then read what is left.
    if (cv_.wait_for(lock, std::chrono::milliseconds(5),
                     [&] { return err_closed_; })) {
      lock.unlock();
      drain();
      break;
    }
  }
  if (fd >= 0) close(fd);
}

bool HostProcess::wait_for(std::string* sink, const std::string& needle,
                           std::chrono::milliseconds timeout, size_t count) {
  std::unique_lock lock(mutex_);
  // Once stderr is closed (the process and its children exited) nothing
  // more can arrive: fail at once instead of at the timeout.
  return cv_.wait_for(lock, timeout, [&] {
    return count_of(*sink, needle) >= count || (sink == &err_ && err_closed_);
  }) && count_of(*sink, needle) >= count;
}

bool HostProcess::wait_for_stderr(const std::string& needle,
                                  std::chrono::milliseconds timeout,
                                  size_t count) {
  return wait_for(&err_, needle, timeout, count);
}

bool HostProcess::wait_for_stdout(const std::string& needle,
                                  std::chrono::milliseconds timeout,
                                  size_t count) {
  return wait_for(&out_, needle, timeout, count);
}

std::string HostProcess::stderr_text() {
  std::lock_guard lock(mutex_);
  return err_;
}

std::string HostProcess::stdout_text() {
  std::lock_guard lock(mutex_);
  return out_;
}

void HostProcess::signal(int sig) {
  if (pid_ > 0 && exit_status_ == -2) kill(pid_, sig);
}

bool HostProcess::running() {
  if (pid_ <= 0 || exit_status_ != -2) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = decode_status(status);
    return false;
  }
  return true;
}

int HostProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_status_ != -2) return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = decode_status(status);
      if (out_thread_.joinable()) out_thread_.join();
      if (err_thread_.joinable()) err_thread_.join();
      if (life_thread_.joinable()) life_thread_.join();
      if (file_thread_.joinable()) file_thread_.join();
      return exit_status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    // Polling a child's exit: there is no fd to wait on without a SIGCHLD
    // handler in the test process.
    poll(nullptr, 0, 5);
  }
}

CommandResult run_command(const std::vector<std::string>& argv_in,
                          std::chrono::milliseconds timeout) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return result;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    std::vector<char*> argv = make_argv(argv_in);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      char buf[8192];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.status = decode_status(status);
  std::string report = sanitizer_report(result.err);
  if (!report.empty()) {
    ADD_FAILURE() << argv_in[0] << " printed a sanitizer report:\n" << report;
  }
  return result;
}

}  // namespace pounce::test
