#include "server/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>

#include "plugin/generation.h"
#include "plugin/plugin_module.h"

namespace pounce::crash {

constinit thread_local const PluginCall* t_plugin_call = nullptr;

namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
// Enough for the handler's frames, backtrace() and backtrace_symbols_fd().
constexpr size_t kAltStackSize = 64 * 1024;
constexpr size_t kMaxShown = 256;  // bytes of a method or path in the report

// Everything below runs in the signal handler: only write(2), no stdio, no
// allocation, no locks.
class Out {
 public:
  void text(const char* s) { bytes(s, strlen(s)); }
  void bytes(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (len_ == sizeof buf_) flush();
      buf_[len_++] = s[i];
    }
  }
  // Request bytes: capped, and anything that is not printable ASCII as '?',
  // so that a hostile path cannot forge lines of the report.
  void shown(const char* s, size_t n) {
    if (!s) return;
    size_t m = n < kMaxShown ? n : kMaxShown;
    for (size_t i = 0; i < m; ++i) {
      char c = s[i];
      bytes(c >= 0x20 && c < 0x7f ? &c : "?", 1);
    }
    if (n > m) text("...");
  }
  void number(uint64_t v) {
    char d[24];
    size_t n = 0;
    do {
      d[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (n) bytes(&d[--n], 1);
  }
  void hex(uintptr_t v) {
    char d[2 + 2 * sizeof v];
    size_t n = 0;
    do {
      d[n++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v);
    text("0x");
    while (n) bytes(&d[--n], 1);
  }
  void flush() {
    size_t off = 0;
    while (off < len_) {
      ssize_t w = write(STDERR_FILENO, buf_ + off, len_ - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    len_ = 0;
  }

 private:
  char buf_[512];
  size_t len_ = 0;
};

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal";
  }
}

// Threads are named "pounce-<role><index>" (EventLoop::thread_main).
void thread_text(Out* out) {
  if (gettid() == getpid()) {
    out->text("the main thread");
    return;
  }
  char name[17] = {};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  constexpr char kPrefix[] = "pounce-";
  if (strncmp(name, kPrefix, sizeof kPrefix - 1) == 0) {
    const char* role = name + sizeof kPrefix - 1;
    size_t role_len = 0;
    while (role[role_len] && (role[role_len] < '0' || role[role_len] > '9')) {
      ++role_len;
    }
    out->bytes(role, role_len);
    if (!(role_len == 6 && memcmp(role, "worker", 6) == 0)) {
      out->text(" thread");
    }
    if (role[role_len]) {
      out->text(" ");
      out->text(role + role_len);
    }
    return;
  }
  out->text("thread \"");
  out->shown(name, strlen(name));
  out->text("\" (not a host thread)");
}

void call_text(Out* out, const PluginCall* call) {
  if (!call || !call->mount) {
    out->text("pounce-host: no plugin call was running on this thread\n");
    return;
  }
  const Mount* m = call->mount;
  out->text("pounce-host: in plugin ");
  const std::string& name = m->module->name();
  out->shown(name.data(), name.size());
  out->text(" (mount ");
  out->shown(m->prefix.data(), m->prefix.size());
  if (m->generation) {
    out->text(", generation ");
    out->number(m->generation->id());
  }
  out->text(", file ");
  const std::string& file = m->module->path();
  out->shown(file.data(), file.size());
  if (m->module->loaded_name() != file) {
    // The private copy that was loaded (a reload may replace the file): the
    // backtrace names its frames by this name.
    const std::string& loaded = m->module->loaded_name();
    out->text(", mapped from ");
    out->shown(loaded.data(), loaded.size());
  }
  out->text("), ");
  out->text(call->hook);
  if (call->method_len || call->path_len) {
    out->text(", request ");
    out->shown(call->method, call->method_len);
    out->text(" ");
    out->shown(call->path, call->path_len);
  }
  out->text("\n");
}

int g_reporting = 0;  // set by the first thread that reports (atomic builtin)

void on_fatal_signal(int sig, siginfo_t* info, void*) {
  if (__atomic_exchange_n(&g_reporting, 1, __ATOMIC_SEQ_CST)) {
    // Another thread is writing its report and will end the process.
    for (;;) pause();
  }
  Out out;
  out.text("pounce-host: fatal signal ");
  out.text(signal_name(sig));
  out.text(" (");
  out.number(static_cast<uint64_t>(sig));
  out.text(")");
  if (sig != SIGABRT && info) {
    out.text(" at address ");
    out.hex(reinterpret_cast<uintptr_t>(info->si_addr));
  }
  out.text(" in ");
  thread_text(&out);
  out.text(", pid ");
  out.number(static_cast<uint64_t>(getpid()));
  out.text("\n");
  call_text(&out, t_plugin_call);
  out.text("pounce-host: backtrace:\n");
  out.flush();
  void* frames[64];
  int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  out.text("pounce-host: end of crash report\n");
  out.flush();
  // SA_RESETHAND restored the default action; the signal stays blocked until
  // this handler returns, then kills the process with its real cause (and a
  // core dump where enabled). A fault would also recur on return.
  raise(sig);
}

}  // namespace

void install_handlers() {
  // The first backtrace() loads libgcc_s (dlopen, malloc): do it now, never
  // in the handler.
  void* frame[1];
  backtrace(frame, 1);
  static AltStack main_thread_stack;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : kFatalSignals) sigaction(sig, &sa, nullptr);
}

AltStack::AltStack() {
  stack_t current;
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
    return;
  }
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t size = kAltStackSize;
  if (size < static_cast<size_t>(SIGSTKSZ) * 4) {
    size = static_cast<size_t>(SIGSTKSZ) * 4;
  }
  size = (size + page - 1) / page * page;
  // One guard page below: an overflow of the handler itself faults instead
  // of writing over other memory. Untouched pages cost no resident memory.
  void* p = mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;
  mprotect(p, page, PROT_NONE);
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(p) + page;
  ss.ss_size = size;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(p, size + page);
    return;
  }
  mapping_ = p;
  size_ = size + page;
}

AltStack::~AltStack() {
  if (!mapping_) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(mapping_, size_);
}

}  // namespace pounce::crash
