// A plugin generation: the set of plugins loaded together, their instances
// (one per mount) and the routing table. Built and retired on the main
// thread; read-only for the loops while it is current (ARCHITECTURE.md §1
// "Plugin generations").
#pragma once

#include <pounce/pounce.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config.h"
#include "plugin/plugin_module.h"

namespace pounce {

namespace tls {
class ContextSet;
}
namespace static_files {
class StaticRoot;
}

class Generation;

struct Mount {
  std::string prefix;    // normalized
  PluginModule* module;  // null for a static mount
  void* instance;        // null for a static mount
  Generation* generation;
  // The prefix's label index in the request metrics (metrics::MountTable).
  uint16_t metrics_index = 0;
  // A --static mount: the host serves its files (static/handler.h) where a
  // plugin's on_handle would be called.
  const static_files::StaticRoot* static_root = nullptr;
};

// A pin count owned by one loop. Only that loop's thread changes `count`, so
// a pin costs no atomic read-modify-write; the atomic only lets the main
// thread read it when it checks whether an old generation is free. Padded to
// a cache line so that loops never share one.
struct alignas(64) LoopPins {
  std::atomic<int64_t> count{0};
};

// The loop index of the calling thread for pins (see GenerationPin), or -1 on
// threads that run no loop (main, plugin threads). Set once by each loop
// thread before it runs anything.
inline constinit thread_local int t_pin_loop = -1;

// Ownership of one pin of a generation: the generation's code stays mapped
// (and its shutdown() waits) while the object exists. Move-only, so that each
// pin has exactly one release, on every path, including the ones that forget.
//
// A pin counts on the counter of the thread that takes it and is released on
// the counter of the thread that drops it: only the sum is meaningful. On a
// loop thread that is the loop's own counter (no atomic read-modify-write, as
// cheap as a plain increment); elsewhere a shared atomic counter.
class GenerationPin {
 public:
  GenerationPin() = default;
  explicit GenerationPin(Generation* g);
  ~GenerationPin() { reset(); }
  GenerationPin(GenerationPin&& o) noexcept : g_(o.g_) { o.g_ = nullptr; }
  GenerationPin& operator=(GenerationPin&& o) noexcept {
    if (this != &o) {
      reset();
      g_ = o.g_;
      o.g_ = nullptr;
    }
    return *this;
  }
  GenerationPin(const GenerationPin&) = delete;
  GenerationPin& operator=(const GenerationPin&) = delete;

  // Pins `g` for a thread that learned of it from a handle it does not own
  // (a call from another thread): always on the shared counter, with
  // sequentially consistent ordering, so that the main thread, once it saw
  // the owner's own pin released, also sees this one (HandleTable::
  // pin_generation checks the handle again after pinning).
  static GenerationPin shared(Generation* g);

  Generation* get() const { return g_; }
  explicit operator bool() const { return g_ != nullptr; }
  void reset();

 private:
  Generation* g_ = nullptr;
};

class Generation {
 public:
  // Loads every plugin of `config`, then calls init for every mount. All or
  // nothing: on any failure, the instances made so far are shut down, the
  // modules unloaded, and nullptr returned with *error set.
  static std::unique_ptr<Generation> build(const Config& config, uint64_t id,
                                           unsigned loop_count,
                                           const pounce_host_api_t* host,
                                           std::string* error);
  ~Generation();  // shuts down instances, then unloads the modules

  uint64_t id() const { return id_; }

  // The mount for a normalized path, longest prefix first, on segment
  // boundaries; nullptr when none matches. *path_info is the rest of the path.
  const Mount* route(std::string_view path, std::string_view* path_info) const {
    for (const Mount& m : mounts_) {
      if (prefix_matches(m.prefix, path)) {
        *path_info = m.prefix.size() == 1 ? path : path.substr(m.prefix.size());
        return &m;
      }
    }
    return nullptr;
  }

  const std::vector<Mount>& mounts() const { return mounts_; }
  const std::vector<std::unique_ptr<PluginModule>>& modules() const {
    return modules_;
  }
  bool uses_async() const;

  // The TLS contexts new handshakes use while this generation is current
  // (null without an https listener). Built with the generation, so that a
  // reload swaps certificates and plugins together, all or nothing. Set
  // once, before the generation is published.
  const std::shared_ptr<const tls::ContextSet>& tls_contexts() const {
    return tls_contexts_;
  }
  void set_tls_contexts(std::shared_ptr<const tls::ContextSet> set) {
    tls_contexts_ = std::move(set);
  }

  // Pins held now: every GenerationPin of this generation (streams,
  // WebSockets, hand-offs, and each deferred call into its code: posted
  // callbacks, timers). Main thread; exact once the generation is no loop's
  // current one any more (see GenerationPin::shared for calls from other
  // threads).
  int64_t pinned() const;

  // Calls on_draining on every instance (main thread).
  void drain(pounce_drain_reason_t reason, uint64_t deadline_ns);

  // Keeps the code of every module mapped forever (something may still run).
  void leak_modules();

 private:
  friend class GenerationPin;
  Generation() = default;

  std::shared_ptr<const tls::ContextSet> tls_contexts_;

  void pin_here() {
    const int i = t_pin_loop;
    if (i >= 0 && static_cast<unsigned>(i) < loop_count_) {
      auto& c = pins_[i].count;
      c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      shared_pins_.fetch_add(1, std::memory_order_seq_cst);
    }
  }
  void unpin_here() {
    const int i = t_pin_loop;
    if (i >= 0 && static_cast<unsigned>(i) < loop_count_) {
      auto& c = pins_[i].count;
      c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_release);
    } else {
      shared_pins_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  uint64_t id_ = 0;
  std::vector<std::unique_ptr<PluginModule>> modules_;
  std::vector<Mount> mounts_;  // longest prefix first
  // The directories of the static mounts, opened once per generation.
  std::vector<std::unique_ptr<static_files::StaticRoot>> static_roots_;
  std::unique_ptr<LoopPins[]> pins_;
  unsigned loop_count_ = 0;
  // Pins taken or dropped by threads that run no loop, and pins of calls
  // from other threads (GenerationPin::shared). Read last by pinned().
  alignas(64) std::atomic<int64_t> shared_pins_{0};
};

inline GenerationPin::GenerationPin(Generation* g) : g_(g) {
  if (g_) g_->pin_here();
}

inline GenerationPin GenerationPin::shared(Generation* g) {
  GenerationPin p;
  if (g) {
    g->shared_pins_.fetch_add(1, std::memory_order_seq_cst);
    p.g_ = g;
  }
  return p;
}

inline void GenerationPin::reset() {
  if (g_) {
    g_->unpin_here();
    g_ = nullptr;
  }
}

}  // namespace pounce
