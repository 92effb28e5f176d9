#include "plugin/instance_registry.h"

#include <mutex>

namespace pounce {

void InstanceRegistry::add(void* instance, const std::string& name) {
  std::unique_lock lock(mutex_);
  names_[instance] = name;
}

void InstanceRegistry::remove(void* instance) {
  std::unique_lock lock(mutex_);
  names_.erase(instance);
}

std::string InstanceRegistry::name_of(void* instance) const {
  std::shared_lock lock(mutex_);
  auto it = names_.find(instance);
  return it == names_.end() ? std::string("plugin") : it->second;
}

InstanceRegistry& instance_registry() {
  static InstanceRegistry registry;
  return registry;
}

}  // namespace pounce
