#include "log/log_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/logger.h"

namespace pounce::log {

namespace {

constexpr mode_t kFileMode = 0640;

// Set once in main() before any thread starts; read-only afterwards (by the
// main loop's reopen), so no lock is needed.
std::string g_access_path;
std::string g_error_path;

int open_append(const std::string& path) {
  int fd;
  do {
    fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
              kFileMode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

std::string open_error(const char* flag, const std::string& path, int err) {
  return std::string("cannot open ") + flag + " " + path + ": " + strerror(err);
}

// Puts `fd` on `target` (1 or 2) and closes it. dup2 clears FD_CLOEXEC on
// the target: a plugin's child process keeps writing the same log, as it
// did with stdout and stderr.
bool move_onto(int fd, int target) {
  int rc;
  do {
    rc = dup2(fd, target);
  } while (rc < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  errno = err;
  return rc >= 0;
}

}  // namespace

bool open_log_files(const std::string& access_path,
                    const std::string& error_path, std::string* error) {
  int access_fd = -1;
  int error_fd = -1;
  if (!access_path.empty()) {
    access_fd = open_append(access_path);
    if (access_fd < 0) {
      *error = open_error("--access-log-file", access_path, errno);
      return false;
    }
  }
  if (!error_path.empty()) {
    error_fd = open_append(error_path);
    if (error_fd < 0) {
      *error = open_error("--error-log-file", error_path, errno);
      if (access_fd >= 0) close(access_fd);
      return false;
    }
  }
  if (access_fd >= 0 && !move_onto(access_fd, STDOUT_FILENO)) {
    *error =
        std::string("cannot use --access-log-file: dup2: ") + strerror(errno);
    if (error_fd >= 0) close(error_fd);
    return false;
  }
  if (error_fd >= 0 && !move_onto(error_fd, STDERR_FILENO)) {
    *error =
        std::string("cannot use --error-log-file: dup2: ") + strerror(errno);
    return false;
  }
  g_access_path = access_path;
  g_error_path = error_path;
  return true;
}

void reopen_log_files(const char* who) {
  if (g_access_path.empty() && g_error_path.empty()) {
    LOG_INFO("%sSIGUSR1: no --access-log-file or --error-log-file to reopen",
             who);
    return;
  }
  struct Target {
    const char* flag;
    const std::string& path;
    int fd;
  };
  bool all = true;
  for (const Target& t : {Target{"--access-log-file", g_access_path, 1},
                          Target{"--error-log-file", g_error_path, 2}}) {
    if (t.path.empty()) continue;
    int fd = open_append(t.path);
    if (fd < 0 || !move_onto(fd, t.fd)) {
      // The old file stays in use: losing the log is worse than a log that
      // outgrows its rotation.
      LOG_ERROR("%sSIGUSR1: %s; still writing to the file opened before", who,
                open_error(t.flag, t.path, errno).c_str());
      all = false;
    }
  }
  if (all) LOG_INFO("%sSIGUSR1: reopened the log files", who);
}

bool check_log_file(const char* flag, const std::string& path,
                    std::string* error) {
  if (path.empty()) return true;
  // An existing file must open for appending; a new one needs a directory
  // we may create it in. Neither is created or changed here.
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  if (errno == ENOENT) {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : path.substr(0, slash);
    if (::access(dir.c_str(), W_OK | X_OK) == 0) return true;
  }
  *error = open_error(flag, path, errno);
  return false;
}

}  // namespace pounce::log
