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
  // Loads `path`. The file is copied into a memfd (or, where memfd_create
  // is unavailable, an already-unlinked file in $TMPDIR), checked, and opened
  // through /proc/self/fd/N with RTLD_NOW | RTLD_LOCAL. The copy's descriptor
  // stays open while the module is loaded, so that every loaded copy has its
  // own path: dlopen would otherwise hand back the already-loaded module on a
  // reload. Nothing is left on disk on any path, the copy cannot change
  // under its mapping, and a file caught half-written is refused before it
  // is mapped. Never throws: every failure, including an exception from the
  // plugin's entry, is nullptr with *error naming the reason.
  static std::unique_ptr<PluginModule> load(const std::string& path,
                                            const pounce_host_api_t* host,
                                            std::string* error);

  // dlclose()s the module, unless leak() was called.
  ~PluginModule();
  PluginModule(const PluginModule&) = delete;
  PluginModule& operator=(const PluginModule&) = delete;

  const std::string& path() const { return path_; }
  // The copy that is mapped, as /proc/self/maps names it (without the
  // " (deleted)" suffix), e.g. "/memfd:pounce-3-libhello.so".
  const std::string& mapped_path() const { return mapped_path_; }
  // The name it was dlopen()ed by, e.g. "/proc/self/fd/17": the one that
  // dladdr(), and so a backtrace, shows for its code.
  const std::string& loaded_name() const { return loaded_name_; }
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
  static std::unique_ptr<PluginModule> load_checked(
      const std::string& path, const pounce_host_api_t* host,
      std::string* error);
  // Validates the plugin's descriptor and keeps a copy of it.
  bool adopt_descriptor(const pounce_plugin_t& desc, std::string* error);

  std::string path_;
  std::string mapped_path_;
  std::string loaded_name_;
  void* handle_ = nullptr;
  int copy_fd_ = -1;  // the copy, kept open while mapped (see load())
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
