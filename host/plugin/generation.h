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

class Generation;

struct Mount {
  std::string prefix;  // normalized
  PluginModule* module;
  void* instance;
  Generation* generation;
};

// A pin count owned by one loop. Only that loop's thread changes `count`, so
// a pin costs no atomic read-modify-write; the atomic only lets the main
// thread read it when it checks whether an old generation is free. Padded to
// a cache line so that loops never share one.
struct alignas(64) LoopPins {
  std::atomic<int64_t> count{0};
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

  // Pins, for async streams and WebSockets that keep a generation for their
  // connection's life. Called on loop `loop_index` only.
  void pin(unsigned loop_index) {
    auto& c = pins_[loop_index].count;
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void unpin(unsigned loop_index) {
    auto& c = pins_[loop_index].count;
    c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_release);
  }
  // Sum over loops; meaningful once no loop can pin it any more.
  int64_t pinned() const;

  // Calls on_draining on every instance (main thread).
  void drain(pounce_drain_reason_t reason, uint64_t deadline_ns);

  // Keeps the code of every module mapped forever (something may still run).
  void leak_modules();

 private:
  Generation() = default;

  uint64_t id_ = 0;
  std::vector<std::unique_ptr<PluginModule>> modules_;
  std::vector<Mount> mounts_;  // longest prefix first
  std::unique_ptr<LoopPins[]> pins_;
  unsigned loop_count_ = 0;
};

}  // namespace pounce
