#include "plugin/plugin_module.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "cli/config.h"
#include "log/logger.h"

namespace pounce {

namespace {

// Copies `src` to a fresh file in the temporary directory; returns its path.
bool copy_to_private_file(const std::string& src, std::string* out,
                          std::string* error) {
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    *error = "cannot open " + src + ": " + strerror(errno);
    return false;
  }
  const char* tmpdir = getenv("TMPDIR");
  std::string base = src.substr(src.find_last_of('/') + 1);
  std::string templ = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") +
                      "/pounce-" + std::to_string(getpid()) + "-XXXXXX-" + base;
  std::vector<char> name(templ.begin(), templ.end());
  name.push_back('\0');
  int suffix = static_cast<int>(base.size() + 1);
  int out_fd = mkostemps(name.data(), suffix, O_CLOEXEC);
  if (out_fd < 0) {
    *error = std::string("cannot create a private copy of ") + src + ": " +
             strerror(errno);
    close(in);
    return false;
  }
  char buf[1 << 16];
  bool ok = true;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out_fd, buf + off, static_cast<size_t>(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        ok = false;
        break;
      }
      off += w;
    }
    if (!ok) break;
  }
  close(in);
  if (close(out_fd) != 0) ok = false;
  if (!ok) {
    *error = "cannot copy " + src + ": " + strerror(errno);
    unlink(name.data());
    return false;
  }
  *out = name.data();
  return true;
}

std::string view_to_string(pounce_str_t s) {
  if (!s.data) return {};
  return std::string(s.data, s.len);
}

}  // namespace

bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (prefix.size() == 1) return true;  // "/"
  if (path.size() < prefix.size()) return false;
  if (path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::unique_ptr<PluginModule> PluginModule::load(const std::string& path,
                                                 const pounce_host_api_t* host,
                                                 std::string* error) {
  std::unique_ptr<PluginModule> m(new PluginModule());
  m->path_ = path;
  if (!copy_to_private_file(path, &m->mapped_path_, error)) return nullptr;
  m->handle_ = dlopen(m->mapped_path_.c_str(), RTLD_NOW | RTLD_LOCAL);
  unlink(m->mapped_path_.c_str());
  if (!m->handle_) {
    const char* why = dlerror();
    *error = "cannot load " + path + ": " + (why ? why : "dlopen failed");
    return nullptr;
  }

  // The ABI record is read before anything of the plugin runs.
  auto* abi = static_cast<const pounce_plugin_abi_t*>(
      dlsym(m->handle_, POUNCE_ABI_SYMBOL));
  if (!abi) {
    *error = path + " is not a Pounce plugin: it does not export " +
             POUNCE_ABI_SYMBOL;
    return nullptr;
  }
  m->abi_ = *abi;
  if (abi->magic != POUNCE_ABI_MAGIC) {
    *error = path + " is not a Pounce plugin: bad ABI magic";
    return nullptr;
  }
  std::string versions = "plugin ABI " + std::to_string(abi->major) + "." +
                         std::to_string(abi->minor) + ", host ABI " +
                         std::to_string(POUNCE_ABI_MAJOR) + "." +
                         std::to_string(POUNCE_ABI_MINOR);
  if (abi->major != POUNCE_ABI_MAJOR) {
    *error = "refusing " + path + ": " + versions +
             " (a different major version is incompatible)";
    return nullptr;
  }
  if (abi->minor > POUNCE_ABI_MINOR) {
    *error = "refusing " + path + ": " + versions +
             " (the plugin needs a newer host)";
    return nullptr;
  }

  auto entry = reinterpret_cast<pounce_plugin_entry_fn>(
      dlsym(m->handle_, POUNCE_ENTRY_SYMBOL));
  if (!entry) {
    *error = path + " does not export " + POUNCE_ENTRY_SYMBOL;
    return nullptr;
  }
  const pounce_plugin_t* desc = entry(host);
  if (!desc) {
    *error = path + ": " + POUNCE_ENTRY_SYMBOL + " returned no descriptor";
    return nullptr;
  }
  // The descriptor of an older minor is shorter: copy what it has, the rest
  // stays zero ("absent"). The fields of 1.0 up to `init` are required.
  constexpr size_t kMinSize =
      offsetof(pounce_plugin_t, init) + sizeof(desc->init);
  if (desc->size < kMinSize) {
    *error = path + ": descriptor size " + std::to_string(desc->size) +
             " is too small";
    return nullptr;
  }
  memcpy(&m->desc_, desc,
         desc->size < sizeof(pounce_plugin_t) ? desc->size
                                              : sizeof(pounce_plugin_t));
  m->desc_.size = desc->size;
  m->name_ = view_to_string(m->desc_.name);
  if (m->name_.empty()) m->name_ = path.substr(path.find_last_of('/') + 1);
  m->version_ = view_to_string(m->desc_.version);

  if (!m->desc_.init) {
    *error = m->name_ + ": the descriptor has no init";
    return nullptr;
  }
  auto valid_mode = [](pounce_mode_t mode) {
    return mode == POUNCE_MODE_SYNC || mode == POUNCE_MODE_ASYNC;
  };
  if (!valid_mode(m->desc_.mode)) {
    *error = m->name_ + ": unknown mode " + std::to_string(m->desc_.mode);
    return nullptr;
  }
  for (size_t i = 0; i < m->desc_.route_count && m->desc_.routes; ++i) {
    const pounce_route_mode_t& r = m->desc_.routes[i];
    RouteMode route;
    if (!normalize_mount_prefix(view_to_string(r.prefix), &route.prefix) ||
        !valid_mode(r.mode)) {
      *error = m->name_ + ": bad route mode entry " + view_to_string(r.prefix);
      return nullptr;
    }
    route.mode = r.mode;
    m->routes_.push_back(std::move(route));
  }
  // Longest prefix first, so that the first match wins.
  std::stable_sort(m->routes_.begin(), m->routes_.end(),
                   [](const RouteMode& a, const RouteMode& b) {
                     return a.prefix.size() > b.prefix.size();
                   });
  bool needs_sync = m->desc_.mode == POUNCE_MODE_SYNC;
  bool needs_async = m->desc_.mode == POUNCE_MODE_ASYNC;
  for (const RouteMode& r : m->routes_) {
    needs_sync |= r.mode == POUNCE_MODE_SYNC;
    needs_async |= r.mode == POUNCE_MODE_ASYNC;
  }
  if (needs_sync && !m->desc_.on_handle) {
    *error = m->name_ + ": sync mode needs on_handle";
    return nullptr;
  }
  if (needs_async && !m->desc_.on_request) {
    *error = m->name_ + ": async mode needs on_request";
    return nullptr;
  }
  return m;
}

PluginModule::~PluginModule() {
  if (!handle_) return;
  if (leaked_) {
    LOG_WARN("plugin %s: keeping %s mapped, code of it may still run",
             name_.c_str(), mapped_path_.c_str());
    return;
  }
  dlclose(handle_);
}

pounce_mode_t PluginModule::mode_for(std::string_view path_info) const {
  if (!routes_.empty()) {
    std::string_view p = path_info.empty() ? std::string_view("/") : path_info;
    for (const RouteMode& r : routes_) {
      if (prefix_matches(r.prefix, p)) return r.mode;
    }
  }
  return desc_.mode;
}

bool PluginModule::uses_async() const {
  if (desc_.mode == POUNCE_MODE_ASYNC || has_websocket()) return true;
  for (const RouteMode& r : routes_) {
    if (r.mode == POUNCE_MODE_ASYNC) return true;
  }
  return false;
}

}  // namespace pounce

namespace pounce {

bool PluginModule::has_async_routes() const {
  if (desc_.mode == POUNCE_MODE_ASYNC) return true;
  for (const RouteMode& r : routes_) {
    if (r.mode == POUNCE_MODE_ASYNC) return true;
  }
  return false;
}

}  // namespace pounce
