// Maps a plugin instance pointer to its plugin's name, so that host->log can
// prefix a plugin's lines without the plugin passing its name.
#pragma once

#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace pounce {

class InstanceRegistry {
 public:
  void add(void* instance, const std::string& name);
  void remove(void* instance);
  // The name, or "plugin" for an unknown (or NULL) instance.
  std::string name_of(void* instance) const;

 private:
  // Guards names_. Writers are init/shutdown on the main thread; readers are
  // plugin log calls from any thread, which are rare: a shared lock is cheap
  // and never taken on the request path.
  mutable std::shared_mutex mutex_;
  std::unordered_map<void*, std::string> names_;
};

InstanceRegistry& instance_registry();

}  // namespace pounce
