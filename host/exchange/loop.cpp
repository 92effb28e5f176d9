#include "exchange/loop.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <cstring>

#include "plugin/generation.h"
#include "server/crash_report.h"

namespace pounce {

namespace {
thread_local Loop* t_current_loop = nullptr;
}  // namespace

Loop* Loop::current() {
  return t_current_loop;
}

Loop::Loop(const Config& config, unsigned index, const char* role)
    : config_(config),
      index_(index),
      role_(role),
      handles_(index),
      compressors_({}, {.gzip = config.gzip_level, .zstd = config.zstd_level}),
      ws_message_budget_(config.ws_buffer_budget) {
  uv_loop_init(&loop_);
  loop_.data = this;
  tasks_.init(&loop_);
  log_flusher_.start(&loop_);
  // The options parser refused an invalid template already.
  std::string unused;
  auto format = log::AccessFormat::compile(config.access_log_format, &unused);
  if (format && !format->is_default()) access_format_ = std::move(format);
}

Loop::~Loop() {
  if (thread_.joinable()) thread_.join();
  uv_loop_close(&loop_);
}

void Loop::close_loop_handles() {
  log_flusher_.close();
  tasks_.close();
}

void Loop::start(int cpu) {
  thread_ = start_thread_without_signals([this, cpu] { thread_main(cpu); });
}

std::thread start_thread_without_signals(std::function<void()> fn) {
  sigset_t block, old;
  sigfillset(&block);
  // Synchronous faults must still reach the thread that caused them.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) {
    sigdelset(&block, sig);
  }
  pthread_sigmask(SIG_BLOCK, &block, &old);
  // Inherits the blocked mask; holds an alternate signal stack, so that a
  // stack overflow still gets its crash report.
  std::thread t([fn = std::move(fn)] {
    crash::AltStack alt_stack;
    fn();
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

void Loop::join() {
  if (thread_.joinable()) thread_.join();
}

void Loop::thread_main(int cpu) {
  thread_id_ = std::this_thread::get_id();
  t_current_loop = this;
  t_pin_loop = static_cast<int>(index_);  // GenerationPin counts here
  char name[16];
  snprintf(name, sizeof name, "pounce-%s%u", role_, index_);
  pthread_setname_np(pthread_self(), name);
  if (cpu >= 0) pin_current_thread(cpu, name);
  error_sink_ = std::make_unique<log::LogSink>(log::error_file());
  access_sink_ = std::make_unique<log::LogSink>(log::access_file());
  {
    log::ThreadSinks sinks(error_sink_.get(), access_sink_.get());
    on_thread_start();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  // Run the close callbacks of the handles closed last.
  uv_run(&loop_, UV_RUN_DEFAULT);
  error_sink_.reset();
  access_sink_.reset();
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  return cpus;
}

void pin_current_thread(int cpu, const char* what) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (rc != 0) {
    LOG_WARN("cannot pin %s to CPU %d: %s; running unpinned", what, cpu,
             strerror(rc));
  } else {
    LOG_DEBUG("pinned %s to CPU %d", what, cpu);
  }
}

}  // namespace pounce
