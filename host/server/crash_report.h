// Crash reports: a fatal signal in the serving process (SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGABRT) writes the signal, the thread, the plugin call
// that was running and a backtrace to stderr, then re-raises the signal with
// its default action, so that a core dump and the supervisor see the real
// cause. See docs/errors.md, "Crash reports".
//
// "Which plugin, which request" is kept in plain per-thread memory: a
// PluginCallScope on the caller's stack, linked from a thread-local pointer.
// Entering and leaving a plugin call costs a few stores, no atomic and no
// system call.
#pragma once

#include <cstdint>
#include <string_view>

namespace pounce {

struct Mount;

namespace crash {

// What a thread is running now; read only by the fatal-signal handler of the
// same thread.
struct PluginCall {
  const Mount* mount;
  const char* hook;  // "on_handle", "init", ...
  const char* method;
  const char* path;
  uint32_t method_len;
  uint32_t path_len;
  const PluginCall* outer;  // the call this one is nested in, if any
};

// initial-exec: the host is an executable, so the thread pointer plus a
// constant offset reaches it (no __tls_get_addr), both in the hot path and
// in the signal handler. constinit: no per-thread initialisation wrapper.
extern constinit thread_local const PluginCall* t_plugin_call
    __attribute__((tls_model("initial-exec")));

// Records a plugin call for the lifetime of the scope. One line at each call
// site: PluginCallScope scope(&mount, "on_handle", method, path);
class PluginCallScope {
 public:
  PluginCallScope(const Mount* mount, const char* hook,
                  std::string_view method = {},
                  std::string_view path = {}) noexcept
      : call_{mount,
              hook,
              method.data(),
              path.data(),
              static_cast<uint32_t>(method.size()),
              static_cast<uint32_t>(path.size()),
              t_plugin_call} {
    t_plugin_call = &call_;
  }
  ~PluginCallScope() { t_plugin_call = call_.outer; }
  PluginCallScope(const PluginCallScope&) = delete;
  PluginCallScope& operator=(const PluginCallScope&) = delete;

 private:
  PluginCall call_;
};

// Installs the handlers for the fatal signals and an alternate signal stack
// for the calling thread (the main thread), and loads the unwinder. Call once
// in the serving process, before any thread starts.
void install_handlers();

// An alternate signal stack for the calling thread, so that a stack overflow
// still reports; every host thread holds one for its whole life. A thread
// that already has one (ASan gives each thread its own) keeps it.
class AltStack {
 public:
  AltStack();
  ~AltStack();
  AltStack(const AltStack&) = delete;
  AltStack& operator=(const AltStack&) = delete;

 private:
  void* mapping_ = nullptr;
  size_t size_ = 0;
};

}  // namespace crash
}  // namespace pounce
