// One loaded plugin shared object: dlopen, the ABI check, the entry call and
// a size-aware copy of the plugin's descriptor (ARCHITECTURE.md §2 "Entry").
#pragma once

#include <pounce/pounce.h>

#include <memory>
#include <string>
#include <vector>

namespace pounce {

struct RouteMode {
  std::string prefix;  // relative to the mount, normalized ("/stream")
  pounce_mode_t mode;
};

class PluginModule {
 public:
  // Loads `path`. A private copy of the file is made under $TMPDIR (or /tmp)
  // and opened with RTLD_NOW | RTLD_LOCAL, then unlinked: dlopen would
  // otherwise hand back the already-loaded copy of the same path and inode
  // on a reload, and a copy also survives the original being overwritten in
  // place. Returns nullptr with *error naming the reason.
  static std::unique_ptr<PluginModule> load(const std::string& path,
                                            const pounce_host_api_t* host,
                                            std::string* error);

  // dlclose()s the module, unless leak() was called.
  ~PluginModule();
  PluginModule(const PluginModule&) = delete;
  PluginModule& operator=(const PluginModule&) = delete;

  const std::string& path() const { return path_; }
  // The unlinked copy that is mapped, as /proc/self/maps shows it.
  const std::string& mapped_path() const { return mapped_path_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const pounce_plugin_abi_t& abi() const { return abi_; }
  // Fields the plugin's older descriptor lacks are zero (NULL).
  const pounce_plugin_t& desc() const { return desc_; }
  const std::vector<RouteMode>& routes() const { return routes_; }

  bool has_websocket() const {
    return desc_.on_ws_open || desc_.on_ws_message || desc_.on_ws_close;
  }
  // The mode of a request whose path below the mount is `path_info`.
  pounce_mode_t mode_for(std::string_view path_info) const;
  bool uses_async() const;
  // Plain HTTP requests of some route are declared async.
  bool has_async_routes() const;

  // Keeps the code mapped forever: something may still run it.
  void leak() { leaked_ = true; }

 private:
  PluginModule() = default;

  std::string path_;
  std::string mapped_path_;
  void* handle_ = nullptr;
  pounce_plugin_abi_t abi_{};
  pounce_plugin_t desc_{};
  std::string name_;
  std::string version_;
  std::vector<RouteMode> routes_;
  bool leaked_ = false;
};

// True when `path` equals `prefix` or continues it at a segment boundary.
// Both are normalized; prefix "/" matches every path.
bool prefix_matches(std::string_view prefix, std::string_view path);

}  // namespace pounce
