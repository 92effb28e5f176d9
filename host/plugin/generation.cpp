#include "plugin/generation.h"

#include <algorithm>

#include "log/logger.h"
#include "metrics/host_metrics.h"
#include "plugin/instance_registry.h"
#include "server/crash_report.h"
#include "static/mime_types.h"
#include "static/static_root.h"

namespace pounce {

std::unique_ptr<Generation> Generation::build(const Config& config, uint64_t id,
                                              unsigned loop_count,
                                              const pounce_host_api_t* host,
                                              std::string* error) {
  std::unique_ptr<Generation> g(new Generation());
  g->id_ = id;
  g->loop_count_ = loop_count;
  g->pins_.reset(new LoopPins[loop_count ? loop_count : 1]);

  // One module per distinct path: a .so mounted twice is one handle with two
  // instances.
  for (const PluginSpec& spec : config.plugins) {
    PluginModule* module = nullptr;
    for (auto& m : g->modules_) {
      if (m->path() == spec.path) module = m.get();
    }
    if (!module) {
      std::unique_ptr<PluginModule> loaded =
          PluginModule::load(spec.path, host, error);
      if (!loaded) return nullptr;  // ~Generation unloads what was loaded
      module = loaded.get();
      g->modules_.push_back(std::move(loaded));
    }
    g->mounts_.push_back(
        Mount{spec.prefix, module, nullptr, g.get(),
              metrics::MountTable::instance().intern(spec.prefix)});
  }

  for (Mount& mount : g->mounts_) {
    const std::string& json = config.plugin_config_for(mount.prefix);
    char reason[512] = {};
    pounce_init_args_t args{};
    args.size = sizeof args;
    args.config_json = {json.data(), json.size()};
    args.mount_prefix = {mount.prefix.data(), mount.prefix.size()};
    args.workers = config.workers;
    args.async_threads = config.async_threads;
    args.generation = id;
    args.error = reason;
    args.error_cap = sizeof reason;
    void* instance = nullptr;
    try {
      crash::PluginCallScope scope(&mount, "init");
      instance = mount.module->desc().init(&args);
    } catch (...) {
      snprintf(reason, sizeof reason, "init threw an exception");
    }
    if (!instance) {
      reason[sizeof reason - 1] = '\0';
      *error = "plugin " + mount.module->name() + " at " + mount.prefix +
               ": init failed" + (reason[0] ? ": " : "") + reason;
      return nullptr;  // ~Generation shuts down the instances made so far
    }
    mount.instance = instance;
    instance_registry().add(instance, mount.module->name());
  }

  // Static mounts route like plugins. Opened after every init succeeded,
  // so that a failure here has instances to shut down only through
  // ~Generation, as above.
  for (const StaticSpec& spec : config.statics) {
    std::unique_ptr<static_files::StaticRoot> root =
        static_files::StaticRoot::open(spec.prefix, spec.dir,
                                       config.static_follow_symlinks, error);
    if (!root) return nullptr;
    Mount m{spec.prefix, nullptr, nullptr, g.get(),
            metrics::MountTable::instance().intern(spec.prefix)};
    m.static_root = root.get();
    g->mounts_.push_back(std::move(m));
    g->static_roots_.push_back(std::move(root));
  }
  // The content-type table, read here (the main thread) rather than by the
  // first request on a loop.
  if (!config.statics.empty()) (void)static_files::MimeTypes::global();

  std::stable_sort(g->mounts_.begin(), g->mounts_.end(),
                   [](const Mount& a, const Mount& b) {
                     return a.prefix.size() > b.prefix.size();
                   });
  return g;
}

Generation::~Generation() {
  for (Mount& mount : mounts_) {
    if (!mount.instance) continue;
    if (mount.module->desc().shutdown) {
      try {
        crash::PluginCallScope scope(&mount, "shutdown");
        mount.module->desc().shutdown(mount.instance);
      } catch (...) {
        LOG_ERROR("plugin %s: shutdown threw an exception",
                  mount.module->name().c_str());
      }
    }
    instance_registry().remove(mount.instance);
    mount.instance = nullptr;
  }
  modules_.clear();  // dlclose, after every instance is gone
}

bool Generation::uses_async() const {
  for (const auto& m : modules_) {
    if (m->uses_async()) return true;
  }
  return false;
}

int64_t Generation::pinned() const {
  int64_t sum = 0;
  for (unsigned i = 0; i < loop_count_; ++i) {
    sum += pins_[i].count.load(std::memory_order_acquire);
  }
  // Last: a loop counter read above that shows an owner's pin released
  // makes visible every shared pin taken while that owner was alive.
  return sum + shared_pins_.load(std::memory_order_seq_cst);
}

void Generation::drain(pounce_drain_reason_t reason, uint64_t deadline_ns) {
  for (Mount& mount : mounts_) {
    if (!mount.instance || !mount.module->desc().on_draining) continue;
    try {
      crash::PluginCallScope scope(&mount, "on_draining");
      mount.module->desc().on_draining(mount.instance, reason, deadline_ns);
    } catch (...) {
      LOG_ERROR("plugin %s: on_draining threw an exception",
                mount.module->name().c_str());
    }
  }
}

void Generation::leak_modules() {
  for (auto& m : modules_) m->leak();
}

}  // namespace pounce
