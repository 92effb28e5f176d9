// What an async stream and a WebSocket session both keep as owners of a
// plugin's per-connection work: the timers that die with them, and whether
// the plugin is inside one of its own calls into them right now.
#pragma once

#include <cstdint>
#include <vector>

namespace pounce {

class Loop;

// The plugin timers an owner must cancel when it closes. Owning loop only.
class OwnedTimers {
 public:
  void add(uint64_t timer) { ids_.push_back(timer); }
  void remove(uint64_t timer);
  // Stops every timer; their callbacks never run after this.
  void stop_all(Loop* loop);

 private:
  std::vector<uint64_t> ids_;
};

// Counts the plugin's calls in progress (start/write/end/send...), so that
// the host can defer on_close-like hooks until they return: a plugin never
// sees its own state freed under its feet.
class PluginCallDepth {
 public:
  class Scope {
   public:
    explicit Scope(PluginCallDepth& d) : d_(d) { ++d_.depth_; }
    ~Scope() { --d_.depth_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PluginCallDepth& d_;
  };
  bool active() const { return depth_ > 0; }

 private:
  int depth_ = 0;
};

}  // namespace pounce
