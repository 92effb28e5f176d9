// Logging that never blocks a worker and never serialises the workers.
//
// Each loop thread owns a LogSink per stream (errors to stderr, the access
// log to stdout). Lines are appended to the sink's buffer and flushed with a
// non-blocking write from a loop callback (uv_prepare, before the loop
// sleeps). When the reader stalls and the buffer is full, new lines are
// dropped and counted; the count is logged once the reader catches up.
//
// Threads that own no loop (a plugin's own threads, the accept distributor)
// log through a mutex-protected fallback sink, flushed at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace pounce::log {

enum class Level : int { Debug = 0, Info = 1, Warn = 2, Error = 3 };

bool parse_level(std::string_view text, Level* out);
std::string_view level_name(Level level);

// The threshold below which lines are not even formatted. Set once at start.
void set_level(Level level);
Level level();
inline bool enabled(Level l);

// A non-blocking output file: a fresh open file description of fd 1 or 2
// (through /proc/self/fd), so that O_NONBLOCK does not leak to the shell or
// the parent that shares the original description.
class OutputFile {
 public:
  explicit OutputFile(int fd);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  // Writes as much as the reader takes now; returns bytes written or -1 on a
  // hard error. Never blocks.
  long write_some(const char* data, size_t len);
  int fd() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

OutputFile& error_file();
OutputFile& access_file();

class LogSink {
 public:
  static constexpr size_t kCapacity = 256 * 1024;

  explicit LogSink(OutputFile& out);
  ~LogSink();
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Reserves room for a line of up to `max` bytes; returns nullptr (and
  // counts a drop) when the buffer is full. commit() appends the bytes
  // actually written.
  char* reserve(size_t max);
  void commit(size_t len);
  void append_line(std::string_view line);

  // Writes what the reader takes now. Reports drops once it can.
  void flush();
  // Nothing buffered and no drop count waiting to be reported.
  bool empty() const { return len_ == 0 && dropped_ == 0; }
  uint64_t dropped_total() const { return dropped_total_; }

 private:
  OutputFile& out_;
  char* buf_;
  size_t len_ = 0;
  uint64_t dropped_ = 0;        // since the last report
  uint64_t dropped_total_ = 0;  // for tests and metrics
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

// Flushes the calling thread's sinks (loop callbacks call this). Returns
// true when nothing is left behind.
bool flush_thread();
// Flushes the fallback sinks; used at exit.
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
