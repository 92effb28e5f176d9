// Logging that never blocks a worker and never serialises the workers.
//
// Each loop thread owns a LogSink per stream (errors to stderr, the access
// log to stdout). Lines are appended to the sink's buffer and flushed with a
// non-blocking write from a loop callback (uv_prepare, before the loop
// sleeps). When the reader stalls and the buffer is full, new lines are
// dropped and counted; the count is logged once the reader catches up. When
// the output fails for good (EPIPE), its lines are dropped and counted
// without another write. At exit each sink waits a bounded time for a slow
// reader, and what is still left is reported as dropped.
//
// Threads that own no loop (a plugin's own threads, the accept distributor)
// log through a mutex-protected fallback sink, flushed at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>

namespace pounce::log {

enum class Level : int { Debug = 0, Info = 1, Warn = 2, Error = 3 };

bool parse_level(std::string_view text, Level* out);
std::string_view level_name(Level level);

// The threshold below which lines are not even formatted. Set once at start.
void set_level(Level level);
Level level();
inline bool enabled(Level l);

// One log output (fd 1 or 2) that a loop can write to without ever blocking,
// whatever the descriptor is. How depends on its type:
//  - a regular file or a block device: the original descriptor (a reader
//    cannot stall it, and a second open file description would have its own
//    offset and overwrite what others write, as with 2>&1 into a file);
//  - a socket (systemd's StandardOutput=journal): send(MSG_DONTWAIT), which
//    is non-blocking per call and changes nothing for the other processes
//    that share the socket;
//  - a pipe or a terminal: a private open file description through
//    /proc/self/fd/N with O_NONBLOCK, so the flag does not leak to the shell
//    or parent that shares the original description;
//  - anything else, or a pipe we may not reopen (one created by another user:
//    EACCES): a writer thread of its own takes the bytes through a bounded
//    queue and does the blocking writes. Setting O_NONBLOCK on the shared
//    description instead would make the other writers of that pipe (the
//    shell, a parent, a sibling) see EAGAIN that they do not expect.
// Writes of whole lines up to PIPE_BUF bytes are all or nothing to a pipe and
// to the writer queue, and in practice to a Unix stream socket (Linux queues
// such a send as one buffer or refuses it with EAGAIN), so lines of different
// threads do not interleave.
class OutputFile {
 public:
  enum class Mode { Plain, Socket, Private, Thread };

  // `name` ("stdout", "stderr") names the output in notices.
  OutputFile(int fd, const char* name);
  // Tests force a mode (e.g. Thread on a pipe that could be reopened).
  OutputFile(int fd, const char* name, Mode mode);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Hands over as much as the output takes now: bytes taken, 0 when the
  // reader stalls, or -1 (errno set) when the output failed for good (EPIPE:
  // the reader is gone). Never blocks.
  long write_some(const char* data, size_t len);
  // Exit only: waits until the output may take more bytes, up to `wait_ms`.
  bool wait_writable(int wait_ms);
  // Exit only (Thread mode): waits until the writer thread wrote everything
  // queued, up to `wait_ms`; returns false on timeout or failure and counts
  // the lines left behind as lost.
  bool drain_queue(int wait_ms);

  Mode mode() const { return mode_; }
  const char* name() const { return name_; }
  int fd() const { return fd_; }

  // Returns true to the first caller after the output failed for good, so
  // that the failure is reported once per process, not once per loop.
  bool claim_failure_report();
  // Exit accounting: lines that never reached the reader.
  void add_lost(uint64_t lines) {
    lost_.fetch_add(lines, std::memory_order_relaxed);
  }
  uint64_t lost() const;
  // Set once an exit drain timed out: later drains do not wait again, so a
  // stalled reader costs the exit at most one bounded wait per output.
  bool gave_up() const { return gave_up_.load(std::memory_order_relaxed); }
  void give_up() { gave_up_.store(true, std::memory_order_relaxed); }
  // In a forked child (pthread_atfork): a writer thread of its own.
  void restart_writer_after_fork();
  // Says on stderr, once per output, that the exit waits for its reader:
  // it tells an operator (and a test) why the exit pauses.
  void notice_exit_wait(int wait_ms);

 private:
  struct Writer;
  static std::shared_ptr<Writer> spawn_writer(int fd);
  void start_writer();

  int fd_;
  bool owned_ = false;
  Mode mode_ = Mode::Plain;
  const char* name_;
  std::shared_ptr<Writer> writer_;  // Thread mode; shared with its thread
  // Flags and counters shared by every thread that logs to this output; each
  // is touched on rare events only (a failure, the exit), never per line.
  std::atomic<bool> failure_reported_{false};
  std::atomic<bool> gave_up_{false};
  std::atomic<bool> wait_noticed_{false};
  std::atomic<uint64_t> lost_{0};
};

OutputFile& error_file();
OutputFile& access_file();

class LogSink {
 public:
  static constexpr size_t kCapacity = 256 * 1024;
  // The longest a sink waits for a stalled reader when it closes at exit.
  static constexpr int kExitWaitMs = 2000;

  explicit LogSink(OutputFile& out);
  // Closes with drain(kExitWaitMs): sinks end with their thread, at exit.
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Reserves room for a line of up to `max` bytes; returns nullptr (and
  // counts a drop) when the buffer is full or the output failed. commit()
  // appends the bytes actually written.
  char* reserve(size_t max);
  void commit(size_t len);
  void append_line(std::string_view line);

  // Writes what the reader takes now. Reports drops once it can. After a
  // hard error (EPIPE) the sink stops writing: its lines are counted as
  // dropped, one per line.
  void flush();
  // Flushes, waiting up to `wait_ms` for a stalled reader (only at exit:
  // this blocks), then counts what is still left as lost on the output.
  void drain(int wait_ms);
  // Nothing more to write now: nothing buffered and no drop count waiting
  // to be reported, or the output failed for good.
  bool empty() const { return failed_ || (len_ == 0 && dropped_ == 0); }
  bool failed() const { return failed_; }
  // Bytes left for later (a pending drop notice counts as one).
  size_t pending() const {
    return failed_ ? 0 : len_ + (dropped_ != 0 ? 1 : 0);
  }
  uint64_t dropped_total() const { return dropped_total_; }
  // After the output failed, returns its errno once, to the sink whose
  // thread should report the failure (see OutputFile::claim_failure_report).
  int take_failure_report();
  OutputFile& output() { return out_; }

 private:
  void fail(int error);
  void count_dropped(uint64_t lines);

  OutputFile& out_;
  char* buf_;
  size_t len_ = 0;
  uint64_t dropped_ = 0;        // lines, since the last report
  uint64_t dropped_total_ = 0;  // lines, for tests and metrics
  bool failed_ = false;
  int failure_to_report_ = 0;
};

// The sinks of the calling thread; set by each loop thread at start
// (ThreadSinks is RAII). Without them, the fallback sinks are used.
struct ThreadSinks {
  ThreadSinks(LogSink* errors, LogSink* access);
  ~ThreadSinks();
  LogSink* prev_errors;
  LogSink* prev_access;
};

// Formats one error-log line: "<ISO-8601 UTC time> <level> <message>\n".
void write(Level level, std::string_view message);
[[gnu::format(printf, 2, 3)]] void writef(Level level, const char* fmt, ...);

// Appends a preformatted access-log line (already newline-terminated).
void access(std::string_view line);
// Appends a line to the error log as it is, without the time and level (the
// startup line, a contract), and flushes it: never blocks, unlike stdio.
void write_plain(std::string_view line);

// Flushes the calling thread's sinks (loop callbacks call this) and reports
// an output that failed for good on the error log. Returns true when nothing
// is left to retry.
bool flush_thread();
// Bytes the calling thread's sinks still hold for a stalled reader (0 when
// nothing is left to retry); the flusher backs off while it does not shrink.
size_t pending_thread();
// At exit, after every loop thread ended: flushes the fallback sinks and the
// writer threads with a bounded wait, then reports on stderr the lines that
// never reached a reader ("N lines dropped").
void finish_at_exit();
// Flushes the fallback sinks without waiting (a child about to _exit).
void flush_fallback();

#define POUNCE_LOG(lvl, ...)                                                  \
  do {                                                                        \
    if (::pounce::log::enabled(lvl)) ::pounce::log::writef(lvl, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) POUNCE_LOG(::pounce::log::Level::Debug, __VA_ARGS__)
#define LOG_INFO(...) POUNCE_LOG(::pounce::log::Level::Info, __VA_ARGS__)
#define LOG_WARN(...) POUNCE_LOG(::pounce::log::Level::Warn, __VA_ARGS__)
#define LOG_ERROR(...) POUNCE_LOG(::pounce::log::Level::Error, __VA_ARGS__)

namespace detail {
// Written once at start-up, before any thread exists; read-only afterwards,
// so relaxed loads suffice.
extern std::atomic<int> g_level;
}  // namespace detail

inline bool enabled(Level l) {
  return static_cast<int>(l) >= detail::g_level.load(std::memory_order_relaxed);
}

}  // namespace pounce::log
