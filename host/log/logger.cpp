#include "log/logger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

#include "http/byte_buffer.h"

namespace pounce::log {

namespace detail {
// The threshold every thread reads before formatting a line; set at startup
// and on reload. Relaxed: a line logged at the old level is harmless.
std::atomic<int> g_level{static_cast<int>(Level::Info)};
}  // namespace detail

bool parse_level(std::string_view text, Level* out) {
  if (text == "debug")
    *out = Level::Debug;
  else if (text == "info")
    *out = Level::Info;
  else if (text == "warn" || text == "warning")
    *out = Level::Warn;
  else if (text == "error")
    *out = Level::Error;
  else
    return false;
  return true;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "?";
}

void set_level(Level l) {
  detail::g_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

Level level() {
  return static_cast<Level>(detail::g_level.load(std::memory_order_relaxed));
}

// ---------------------------------------------------------------------------

OutputFile::OutputFile(int fd) : fd_(fd), owned_(false) {
  // Only pipes and terminals can stall a writer. A regular file is written
  // through the original descriptor: a second description would have its own
  // offset and overwrite what others write (as with 2>&1 into a file).
  struct stat st;
  if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
    return;
  }
  // A new open file description gets its own O_NONBLOCK flag, so the flag
  // does not leak to the shell or parent that shares the original one.
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int reopened = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (reopened >= 0) {
    fd_ = reopened;
    owned_ = true;
    return;
  }
  // Could not reopen: use the descriptor as it is and accept that a stalled
  // reader may block the writer.
}

OutputFile::~OutputFile() {
  if (owned_) close(fd_);
}

long OutputFile::write_some(const char* data, size_t len) {
  for (;;) {
    ssize_t n = ::write(fd_, data, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

OutputFile& error_file() {
  static OutputFile file(STDERR_FILENO);
  return file;
}

OutputFile& access_file() {
  static OutputFile file(STDOUT_FILENO);
  return file;
}

// ---------------------------------------------------------------------------

LogSink::LogSink(OutputFile& out)
    : out_(out), buf_(static_cast<char*>(malloc(kCapacity))) {
  if (!buf_) abort();
}

LogSink::~LogSink() {
  flush();
  free(buf_);
}

char* LogSink::reserve(size_t max) {
  if (kCapacity - len_ < max) {
    flush();
    if (kCapacity - len_ < max) {
      ++dropped_;
      ++dropped_total_;
      return nullptr;
    }
  }
  return buf_ + len_;
}

void LogSink::commit(size_t len) {
  len_ += len;
}

void LogSink::append_line(std::string_view line) {
  char* p = reserve(line.size());
  if (!p) return;
  copy_view(p, line);
  commit(line.size());
}

namespace {

// Writes of at most PIPE_BUF bytes to a pipe are atomic (POSIX): all or
// nothing, never interleaved with another thread's write to the same pipe.
// So a flush goes out in pieces of whole lines up to that size, and a line
// of one worker never lands in the middle of another's.
constexpr size_t kAtomicWrite = PIPE_BUF;

// The length of the next piece of p[0..n), which holds whole lines.
size_t next_piece(const char* p, size_t n) {
  if (n <= kAtomicWrite) return n;
  const void* nl = memrchr(p, '\n', kAtomicWrite);
  if (nl) return static_cast<size_t>(static_cast<const char*>(nl) - p) + 1;
  // One line longer than PIPE_BUF cannot be atomic anyway: write it whole.
  nl = memchr(p, '\n', n);
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) + 1 : n;
}

}  // namespace

void LogSink::flush() {
  size_t done = 0;
  while (done < len_) {
    long n = out_.write_some(buf_ + done, next_piece(buf_ + done, len_ - done));
    if (n < 0) {  // the reader is gone for good: discard, count as dropped
      ++dropped_;
      ++dropped_total_;
      done = len_;
      break;
    }
    if (n == 0) break;  // the reader stalls: keep the rest for later
    done += static_cast<size_t>(n);
  }
  if (done > 0) {
    memmove(buf_, buf_ + done, len_ - done);
    len_ -= done;
  }
  if (dropped_ > 0 && len_ == 0) {
    char line[128];
    int n = snprintf(line, sizeof line,
                     "pounce-host: log reader stalled, %llu lines dropped\n",
                     static_cast<unsigned long long>(dropped_));
    dropped_ = 0;
    append_line(std::string_view(line, static_cast<size_t>(n)));
    long w = out_.write_some(buf_, len_);
    if (w > 0) {
      memmove(buf_, buf_ + w, len_ - static_cast<size_t>(w));
      len_ -= static_cast<size_t>(w);
    }
  }
}

// ---------------------------------------------------------------------------

namespace {

thread_local LogSink* t_errors = nullptr;
thread_local LogSink* t_access = nullptr;

// The fallback for threads without a loop. Guarded by g_fallback_mutex: it
// serialises only those rare threads, never a worker.
std::mutex g_fallback_mutex;
LogSink& fallback_errors() {
  static LogSink sink(error_file());
  return sink;
}
LogSink& fallback_access() {
  static LogSink sink(access_file());
  return sink;
}

size_t format_prefix(char* p, Level level) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  int n =
      snprintf(p, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
               t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
               t.tm_sec, ts.tv_nsec / 1000000, level_name(level).data());
  return static_cast<size_t>(n);
}

constexpr size_t kMaxLine = 4096;

void emit(LogSink* sink, Level level, const char* fmt, va_list ap,
          std::string_view plain) {
  char* p = sink->reserve(kMaxLine);
  if (!p) return;
  size_t n = format_prefix(p, level);
  size_t room = kMaxLine - n - 1;
  size_t body;
  if (fmt) {
    int w = vsnprintf(p + n, room + 1, fmt, ap);
    body = w < 0 ? 0 : static_cast<size_t>(w);
    if (body > room) body = room;
  } else {
    body = plain.size() < room ? plain.size() : room;
    if (body != 0) memcpy(p + n, plain.data(), body);
  }
  // A log line is one line: a plugin's message must not forge another.
  for (size_t i = n; i < n + body; ++i) {
    if (p[i] == '\n' || p[i] == '\r') p[i] = ' ';
  }
  n += body;
  p[n++] = '\n';
  sink->commit(n);
}

}  // namespace

ThreadSinks::ThreadSinks(LogSink* errors, LogSink* access)
    : prev_errors(t_errors), prev_access(t_access) {
  t_errors = errors;
  t_access = access;
}

ThreadSinks::~ThreadSinks() {
  if (t_errors) t_errors->flush();
  if (t_access) t_access->flush();
  t_errors = prev_errors;
  t_access = prev_access;
}

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  va_list none{};
  if (t_errors) {
    emit(t_errors, level, nullptr, none, message);
    return;
  }
  std::lock_guard lock(g_fallback_mutex);
  emit(&fallback_errors(), level, nullptr, none, message);
  fallback_errors().flush();
}

void writef(Level level, const char* fmt, ...) {
  if (!enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  if (t_errors) {
    emit(t_errors, level, fmt, ap, {});
  } else {
    std::lock_guard lock(g_fallback_mutex);
    emit(&fallback_errors(), level, fmt, ap, {});
    fallback_errors().flush();
  }
  va_end(ap);
}

void access(std::string_view line) {
  if (t_access) {
    t_access->append_line(line);
    return;
  }
  std::lock_guard lock(g_fallback_mutex);
  fallback_access().append_line(line);
  fallback_access().flush();
}

bool flush_thread() {
  bool done = true;
  if (t_errors) {
    t_errors->flush();
    done &= t_errors->empty();
  }
  if (t_access) {
    t_access->flush();
    done &= t_access->empty();
  }
  return done;
}

void flush_fallback() {
  std::lock_guard lock(g_fallback_mutex);
  fallback_errors().flush();
  fallback_access().flush();
}

}  // namespace pounce::log
