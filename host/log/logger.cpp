#include "log/logger.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// Buffers hold whole lines only, so a drop is counted per newline.
uint64_t count_lines(const char* p, size_t n) {
  uint64_t lines = 0;
  for (const char* end = p + n; p < end; ++lines) {
    const void* nl = memchr(p, '\n', static_cast<size_t>(end - p));
    if (!nl) return lines + 1;  // a line cut short still was a line
    p = static_cast<const char*>(nl) + 1;
  }
  return lines;
}

// A blocking write of one piece, for the writer thread. Someone else may
// have set O_NONBLOCK on the shared description: then wait with poll.
long write_blocking(int fd, const char* data, size_t len) {
  for (;;) {
    ssize_t n = ::write(fd, data, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, -1);
      continue;
    }
    return -1;
  }
}

int ms_until(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

// The queue between the loops and the writer thread of a Thread-mode output.
struct OutputFile::Writer {
  // As much as one loop's sink holds: a stall fills the sinks, not memory.
  static constexpr size_t kQueueCapacity = 256 * 1024;

  explicit Writer(int out_fd) : fd(out_fd) {
    queued.reserve(kQueueCapacity);
    batch.reserve(kQueueCapacity);
  }

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stop || !queued.empty(); });
      if (queued.empty()) return;  // stopped and idle
      batch.swap(queued);
      batch_done = 0;
      writing = true;
      progress.notify_all();  // the queue has room again
      while (batch_done < batch.size()) {
        const char* p = batch.data() + batch_done;
        size_t piece = next_piece(p, batch.size() - batch_done);
        lock.unlock();  // only this thread touches `batch`
        long n = write_blocking(fd, p, piece);
        int e = errno;
        lock.lock();
        if (abandoned) break;  // counted as lost by drain_queue
        if (n < 0) {
          error = e;
          lost += count_lines(batch.data() + batch_done,
                              batch.size() - batch_done) +
                  count_lines(queued.data(), queued.size());
          queued.clear();
          break;
        }
        batch_done += static_cast<size_t>(n);
      }
      batch.clear();
      batch_done = 0;
      writing = false;
      progress.notify_all();
      if (error || abandoned) return;  // nothing more is written
    }
  }

  const int fd;
  // Guards every member below; held by a loop only to copy one flush into
  // `queued`, never across a write.
  std::mutex mutex;
  std::condition_variable wake;      // the thread waits for bytes or stop
  std::condition_variable progress;  // exit drains wait for room or the end
  std::string queued;                // taken from the loops, not yet written
  std::string batch;                 // being written by the thread
  size_t batch_done = 0;
  bool writing = false;
  bool stop = false;
  bool abandoned = false;  // the exit stopped waiting: write nothing more
  int error = 0;           // errno of the write that failed for good
  uint64_t lost = 0;       // lines taken but never written
};

OutputFile::OutputFile(int fd, const char* name) : fd_(fd), name_(name) {
  struct stat st;
  // fstat fails only for a closed descriptor: writes fail too, and the
  // output is reported as failed.
  if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
    return;  // Plain
  }
  if (S_ISSOCK(st.st_mode)) {
    mode_ = Mode::Socket;
    return;
  }
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int reopened = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (reopened >= 0) {
      fd_ = reopened;
      owned_ = true;
      mode_ = Mode::Private;
      return;
    }
  }
  start_writer();
}

OutputFile::OutputFile(int fd, const char* name, Mode mode)
    : fd_(fd), name_(name) {
  if (mode == Mode::Thread) {
    start_writer();
  } else {
    mode_ = mode;
  }
}

namespace {

// The Thread-mode outputs, so that a forked child (the supervisor forks its
// serving processes) gets writer threads of its own: fork copies the queue
// and its mutex, possibly locked, but not the thread. Guarded by
// g_writers_mutex, which is held across fork() (pthread_atfork) so that the
// child finds the list consistent.
std::mutex g_writers_mutex;
std::vector<OutputFile*>& thread_outputs() {
  static auto* outputs = new std::vector<OutputFile*>;
  return *outputs;
}

void lock_writers() {
  g_writers_mutex.lock();
}
void unlock_writers() {
  g_writers_mutex.unlock();
}
void restart_writers_in_child() {
  for (OutputFile* out : thread_outputs()) out->restart_writer_after_fork();
  g_writers_mutex.unlock();
}

}  // namespace

std::shared_ptr<OutputFile::Writer> OutputFile::spawn_writer(int fd) {
  auto writer = std::make_shared<Writer>(fd);
  // The writer thread takes no signal: they belong to the main loop.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread thread;
  try {
    thread = std::thread([w = writer] {
      pthread_setname_np(pthread_self(), "pounce-logout");
      w->run();
    });
  } catch (const std::exception&) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Detached: at exit it may still be blocked on a reader that never reads;
  // the process ends without it (after finish_at_exit's wait).
  thread.detach();
  return writer;
}

void OutputFile::start_writer() {
  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] {
    pthread_atfork(lock_writers, unlock_writers, restart_writers_in_child);
  });
  try {
    writer_ = spawn_writer(fd_);
    mode_ = Mode::Thread;
    std::lock_guard lock(g_writers_mutex);
    thread_outputs().push_back(this);
  } catch (const std::exception&) {
    // No thread (out of memory or threads): blocking writes are all that is
    // left.
    writer_.reset();
    mode_ = Mode::Plain;
  }
}

void OutputFile::restart_writer_after_fork() {
  // The parent's writer belongs to the parent: its mutex may be locked by a
  // thread that does not exist here, and its queue is the parent's to
  // write. Leave it be (never destroyed: destroying a locked mutex is
  // undefined) and start afresh.
  static_cast<void>(new std::shared_ptr<Writer>(std::move(writer_)));
  try {
    writer_ = spawn_writer(fd_);
  } catch (const std::exception&) {
    writer_.reset();
    mode_ = Mode::Plain;
  }
}

OutputFile::~OutputFile() {
  if (mode_ == Mode::Thread) {
    std::lock_guard lock(g_writers_mutex);
    auto& all = thread_outputs();
    all.erase(std::remove(all.begin(), all.end(), this), all.end());
  }
  if (writer_) {
    std::lock_guard lock(writer_->mutex);
    writer_->stop = true;
    writer_->wake.notify_one();
  }
  if (owned_) close(fd_);
}

long OutputFile::write_some(const char* data, size_t len) {
  switch (mode_) {
    case Mode::Thread: {
      Writer& w = *writer_;
      std::lock_guard lock(w.mutex);
      if (w.error) {
        errno = w.error;
        return -1;
      }
      if (w.abandoned) return 0;  // after the exit's wait: left to count
      // All or nothing, like a pipe write of up to PIPE_BUF bytes. A piece
      // larger than the whole queue (one huge line) goes alone.
      if (w.queued.size() + len > Writer::kQueueCapacity && !w.queued.empty())
        return 0;
      w.queued.append(data, len);
      w.wake.notify_one();
      return static_cast<long>(len);
    }
    case Mode::Socket:
      for (;;) {
        ssize_t n = send(fd_, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
      }
    case Mode::Plain:
    case Mode::Private:
      break;
  }
  for (;;) {
    ssize_t n = ::write(fd_, data, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

bool OutputFile::wait_writable(int wait_ms) {
  if (mode_ == Mode::Thread) {
    Writer& w = *writer_;
    std::unique_lock lock(w.mutex);
    return w.progress.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] {
      return w.error != 0 || w.queued.size() <= Writer::kQueueCapacity / 2;
    });
  }
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    pollfd p{fd_, POLLOUT, 0};
    int rc = poll(&p, 1, ms_until(deadline));
    if (rc > 0) return true;  // writable, or an error the next write reports
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

void OutputFile::notice_exit_wait(int wait_ms) {
  if (wait_noticed_.exchange(true, std::memory_order_relaxed)) return;
  // Straight to stderr, best effort: a line through a sink would wait behind
  // the very lines that wait for the reader.
  char line[160];
  int n = snprintf(line, sizeof line,
                   "pounce-host: waiting up to %d ms for the %s log reader to "
                   "take the buffered lines\n",
                   wait_ms, name_);
  error_file().write_some(line, static_cast<size_t>(n));
}

bool OutputFile::drain_queue(int wait_ms) {
  if (mode_ != Mode::Thread) return true;
  Writer& w = *writer_;
  std::unique_lock lock(w.mutex);
  if (!w.queued.empty() || w.writing) {
    lock.unlock();  // the notice may go through this very queue
    notice_exit_wait(wait_ms);
    lock.lock();
  }
  bool done = w.progress.wait_for(
      lock, std::chrono::milliseconds(wait_ms),
      [&] { return w.error != 0 || (w.queued.empty() && !w.writing); });
  if (w.error) return false;
  if (!done) {
    // The thread keeps writing while the process ends; what it has not
    // written yet is counted as lost now, and taken out of the queue.
    w.lost += count_lines(w.batch.data() + w.batch_done,
                          w.batch.size() - w.batch_done) +
              count_lines(w.queued.data(), w.queued.size());
    w.queued.clear();
    // At most the piece being written still lands; the rest is not written
    // after it was reported lost.
    w.abandoned = true;
  }
  return done;
}

uint64_t OutputFile::lost() const {
  uint64_t n = lost_.load(std::memory_order_relaxed);
  if (writer_) {
    std::lock_guard lock(writer_->mutex);
    n += writer_->lost;
  }
  return n;
}

bool OutputFile::claim_failure_report() {
  return !failure_reported_.exchange(true, std::memory_order_relaxed);
}

OutputFile& error_file() {
  // Never destroyed: a writer thread may still use it while the process
  // exits.
  static OutputFile* file = new OutputFile(STDERR_FILENO, "stderr");
  return *file;
}

OutputFile& access_file() {
  static OutputFile* file = new OutputFile(STDOUT_FILENO, "stdout");
  return *file;
}

// ---------------------------------------------------------------------------

LogSink::LogSink(OutputFile& out)
    : out_(out), buf_(static_cast<char*>(malloc(kCapacity))) {
  if (!buf_) abort();
}

LogSink::~LogSink() {
  drain(kExitWaitMs);
  free(buf_);
}

void LogSink::count_dropped(uint64_t lines) {
  dropped_ += lines;
  dropped_total_ += lines;
}

char* LogSink::reserve(size_t max) {
  if (!failed_ && kCapacity - len_ < max) flush();
  if (failed_ || kCapacity - len_ < max) {
    count_dropped(1);
    return nullptr;
  }
  return buf_ + len_;
}

void LogSink::commit(size_t len) {
  len_ += len;
}

void LogSink::append_line(std::string_view line) {
  // A line cut short by its producer still ends with a newline, or it would
  // run into the next one.
  bool newline = !line.empty() && line.back() == '\n';
  size_t size = line.size() + (newline ? 0 : 1);
  char* p = reserve(size);
  if (!p) return;
  copy_view(p, line);
  if (!newline) p[line.size()] = '\n';
  commit(size);
}

void LogSink::fail(int error) {
  // The reader is gone for good (EPIPE, or the descriptor is broken):
  // retrying would spin. Every line buffered or still to come is dropped
  // and counted; the failure is reported once on the error log.
  count_dropped(count_lines(buf_, len_));
  len_ = 0;
  failed_ = true;
  if (out_.claim_failure_report()) failure_to_report_ = error ? error : EIO;
}

int LogSink::take_failure_report() {
  int e = failure_to_report_;
  failure_to_report_ = 0;
  return e;
}

void LogSink::flush() {
  if (failed_) return;
  size_t done = 0;
  while (done < len_) {
    long n = out_.write_some(buf_ + done, next_piece(buf_ + done, len_ - done));
    if (n < 0) {
      int e = errno;
      memmove(buf_, buf_ + done, len_ - done);
      len_ -= done;
      fail(e);
      return;
    }
    if (n == 0) break;  // the reader stalls: keep the rest for later
    done += static_cast<size_t>(n);
  }
  if (done > 0) {
    memmove(buf_, buf_ + done, len_ - done);
    len_ -= done;
  }
  if (dropped_ > 0 && len_ == 0) {
    uint64_t reported = dropped_;
    int n = snprintf(buf_, kCapacity,
                     "pounce-host: log reader stalled, %llu lines dropped\n",
                     static_cast<unsigned long long>(reported));
    len_ = static_cast<size_t>(n);
    dropped_ = 0;
    long w = out_.write_some(buf_, len_);
    if (w < 0) {
      int e = errno;
      len_ = 0;  // the notice is not a line of the log: only its count is
      dropped_ = reported;
      fail(e);
      return;
    }
    memmove(buf_, buf_ + w, len_ - static_cast<size_t>(w));
    len_ -= static_cast<size_t>(w);
  }
}

void LogSink::drain(int wait_ms) {
  flush();
  if (!empty() && wait_ms > 0 && !out_.gave_up()) {
    out_.notice_exit_wait(wait_ms);
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (!empty()) {
      int left = ms_until(deadline);
      if (left == 0 || !out_.wait_writable(left)) {
        out_.give_up();
        break;
      }
      flush();
    }
  }
  if (!failed_) count_dropped(count_lines(buf_, len_));
  len_ = 0;
  out_.add_lost(dropped_);
  dropped_ = 0;
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
  flush_thread();
  t_errors = prev_errors;
  t_access = prev_access;
}

namespace {

// Reports an output that failed for good, once per process, on the error
// log of the calling thread. Called outside g_fallback_mutex: the report is
// itself a log line.
void report_failure(LogSink* sink) {
  if (!sink) return;
  if (int e = sink->take_failure_report()) {
    writef(Level::Error,
           "log output %s failed (%s): its lines are dropped from now on",
           sink->output().name(), strerror(e));
  }
}

void report_fallback_failures() {
  const char* names[2];
  int errors[2];
  {
    std::lock_guard lock(g_fallback_mutex);
    names[0] = fallback_errors().output().name();
    errors[0] = fallback_errors().take_failure_report();
    names[1] = fallback_access().output().name();
    errors[1] = fallback_access().take_failure_report();
  }
  // After the lock: writef takes it again.
  for (int i = 0; i < 2; ++i) {
    if (errors[i]) {
      writef(Level::Error,
             "log output %s failed (%s): its lines are dropped from now on",
             names[i], strerror(errors[i]));
    }
  }
}

}  // namespace

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  va_list none{};
  if (t_errors) {
    emit(t_errors, level, nullptr, none, message);
    return;
  }
  bool failed;
  {
    std::lock_guard lock(g_fallback_mutex);
    emit(&fallback_errors(), level, nullptr, none, message);
    fallback_errors().flush();
    failed = fallback_errors().failed();
  }
  if (failed) report_fallback_failures();
}

void writef(Level level, const char* fmt, ...) {
  if (!enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  if (t_errors) {
    emit(t_errors, level, fmt, ap, {});
    va_end(ap);
    return;
  }
  bool failed;
  {
    std::lock_guard lock(g_fallback_mutex);
    emit(&fallback_errors(), level, fmt, ap, {});
    fallback_errors().flush();
    failed = fallback_errors().failed();
  }
  va_end(ap);
  if (failed) report_fallback_failures();
}

void access(std::string_view line) {
  if (t_access) {
    t_access->append_line(line);
    return;
  }
  bool failed;
  {
    std::lock_guard lock(g_fallback_mutex);
    fallback_access().append_line(line);
    fallback_access().flush();
    failed = fallback_access().failed();
  }
  if (failed) report_fallback_failures();
}

void write_plain(std::string_view line) {
  if (t_errors) {
    t_errors->append_line(line);
    flush_thread();
    return;
  }
  bool failed;
  {
    std::lock_guard lock(g_fallback_mutex);
    fallback_errors().append_line(line);
    fallback_errors().flush();
    failed = fallback_errors().failed();
  }
  if (failed) report_fallback_failures();
}

bool flush_thread() {
  if (t_errors) t_errors->flush();
  if (t_access) t_access->flush();
  if ((t_errors && t_errors->failed()) || (t_access && t_access->failed())) {
    report_failure(t_errors);
    report_failure(t_access);
    if (t_errors) t_errors->flush();
  }
  return (!t_errors || t_errors->empty()) && (!t_access || t_access->empty());
}

void flush_fallback() {
  std::lock_guard lock(g_fallback_mutex);
  fallback_errors().flush();
  fallback_access().flush();
}

size_t pending_thread() {
  return (t_errors ? t_errors->pending() : 0) +
         (t_access ? t_access->pending() : 0);
}

void finish_at_exit() {
  {
    std::lock_guard lock(g_fallback_mutex);
    fallback_errors().drain(LogSink::kExitWaitMs);
    fallback_access().drain(LogSink::kExitWaitMs);
  }
  OutputFile* outputs[2] = {&access_file(), &error_file()};
  for (OutputFile* out : outputs) {
    if (out->gave_up()) continue;
    if (!out->drain_queue(LogSink::kExitWaitMs)) out->give_up();
  }
  // Whatever never reached a reader is said once, on stderr, best effort:
  // if stderr is the stalled output, nobody can be told.
  bool said = false;
  for (OutputFile* out : outputs) {
    uint64_t lost = out->lost();
    if (lost == 0) continue;
    char line[160];
    int n = snprintf(line, sizeof line,
                     "pounce-host: %s: %llu lines dropped (the log reader was "
                     "too slow or gone)\n",
                     out->name(), static_cast<unsigned long long>(lost));
    error_file().write_some(line, static_cast<size_t>(n));
    said = true;
  }
  if (said && !error_file().gave_up()) error_file().drain_queue(200);
}

}  // namespace pounce::log
