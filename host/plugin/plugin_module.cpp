#include "plugin/plugin_module.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <exception>
#include <set>
#include <type_traits>

#include "cli/config.h"
#include "log/logger.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: executable even under vm.memfd_noexec=1
#endif

namespace pounce {

namespace {

// Bounds on what a descriptor may declare. They are far above any real
// plugin and only reject values that are garbage (an uninitialized length,
// (size_t)-1), before a copy of them is attempted.
constexpr size_t kMaxNameLen = 256;
constexpr size_t kMaxRouteCount = 1024;
constexpr size_t kMaxRoutePrefixLen = 4096;

// Names the copies "pounce-<serial>-<file>" so that /proc/self/maps tells
// generations apart. Main thread only (Generation::build).
uint64_t g_copy_serial = 0;

std::string file_name_of(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

std::string errno_text(int err) {
  return strerror(err);
}

// A descriptor for the private copy, and what /proc/self/maps will call it.
struct PrivateCopy {
  int fd = -1;
  std::string mapped_name;
  bool on_disk = false;  // the $TMPDIR fallback: needs an exec mount
};

// A memfd needs no writable, executable directory and vanishes with its
// last reference. Where it is unavailable (old kernel, seccomp,
// vm.memfd_noexec=2), an unlinked file in $TMPDIR does the same, as long
// as that directory allows exec.
bool create_copy_target(const std::string& base, PrivateCopy* out,
                        std::string* error) {
  std::string name = "pounce-" + std::to_string(++g_copy_serial) + "-" + base;
  if (name.size() > 200) name.resize(200);  // memfd names: at most 249 bytes
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  int fd = memfd_create(name.c_str(), flags | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = memfd_create(name.c_str(), flags);
  if (fd >= 0) {
    out->fd = fd;
    out->mapped_name = "/memfd:" + name;
    return true;
  }
  int memfd_errno = errno;
  const char* tmpdir = getenv("TMPDIR");
  std::string dir = tmpdir && *tmpdir ? tmpdir : "/tmp";
  static bool warned = false;  // main thread only
  if (!warned) {
    warned = true;
    LOG_WARN(
        "memfd_create failed (%s): plugin copies are made in %s, which must "
        "allow exec (set TMPDIR to change it)",
        strerror(memfd_errno), dir.c_str());
  }
  std::string templ = dir + "/" + name + ".XXXXXX";
  std::vector<char> path(templ.begin(), templ.end());
  path.push_back('\0');
  fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot create a private copy in " + dir +
             " (memfd_create: " + errno_text(memfd_errno) +
             "): " + errno_text(errno);
    return false;
  }
  // Unlinked at once: nothing that follows, not even a crash in dlopen,
  // can leave it behind.
  unlink(path.data());
  out->fd = fd;
  out->mapped_name = path.data();
  out->on_disk = true;
  return true;
}

bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
         a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

const char* const kSafeDeploy =
    "install plugins by writing a new file and renaming it over the old one "
    "(docs/plugin-guide.md, \"Deploying\")";

// Copies `src` into *copy. The source must not change while it is read:
// a file caught half-way through `cp` or `ld` is refused rather than copied.
bool copy_plugin_file(const std::string& src, PrivateCopy* copy, size_t* copied,
                      std::string* error) {
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    *error = "cannot open " + src + ": " + errno_text(errno);
    return false;
  }
  struct stat before;
  if (fstat(in, &before) != 0 || !S_ISREG(before.st_mode)) {
    *error = src + " is not a regular file";
    close(in);
    return false;
  }
  if (!create_copy_target(file_name_of(src), copy, error)) {
    close(in);
    return false;
  }
  char buf[1 << 16];
  size_t total = 0;
  int err = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(copy->fd, buf + off, static_cast<size_t>(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      off += w;
    }
    if (err) break;
    total += static_cast<size_t>(n);
  }
  struct stat after;
  bool stable = fstat(in, &after) == 0 && same_file_state(before, after) &&
                total == static_cast<size_t>(before.st_size);
  close(in);
  if (err) {
    *error = "cannot copy " + src + ": " + errno_text(err);
    return false;
  }
  if (!stable) {
    *error = src + " changed while it was read (still being written?); " +
             kSafeDeploy;
    return false;
  }
  // The copy is ours alone; the seals make that a guarantee for the mapping
  // (a shrinking file under a mapping is a SIGBUS). Best effort: the
  // $TMPDIR fallback cannot be sealed, and nothing else holds it either.
  if (!copy->on_disk) {
    fcntl(copy->fd, F_ADD_SEALS,
          F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  }
  *copied = total;
  return true;
}

bool read_at(int fd, void* out, size_t len, uint64_t offset) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, static_cast<char*>(out) + done, len - done,
                      static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// dlopen maps every PT_LOAD segment of the file as it is. A segment that
// reaches past the end of a truncated file maps pages with nothing behind
// them, and the first touch of one is a SIGBUS: check the program headers,
// bounded by the file's real size, before dlopen sees the file.
bool check_elf_layout(int fd, size_t size, std::string* why) {
  ElfW(Ehdr) eh;
  if (size < sizeof eh || !read_at(fd, &eh, sizeof eh, 0)) {
    *why = "too short for an ELF header (" + std::to_string(size) + " bytes)";
    return false;
  }
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    *why = "not an ELF file";
    return false;
  }
#if __SIZEOF_POINTER__ == 8
  constexpr unsigned char kClass = ELFCLASS64;
#else
  constexpr unsigned char kClass = ELFCLASS32;
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr unsigned char kData = ELFDATA2LSB;
#else
  constexpr unsigned char kData = ELFDATA2MSB;
#endif
  if (eh.e_ident[EI_CLASS] != kClass || eh.e_ident[EI_DATA] != kData) {
    *why = "an ELF file for another word size or byte order";
    return false;
  }
  if (eh.e_type != ET_DYN) {
    *why = "not a shared object (ELF type " + std::to_string(eh.e_type) + ")";
    return false;
  }
  if (eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 ||
      eh.e_phnum == PN_XNUM) {
    *why = "bad ELF program header table";
    return false;
  }
  const uint64_t table_size =
      static_cast<uint64_t>(eh.e_phnum) * sizeof(ElfW(Phdr));
  if (eh.e_phoff > size || table_size > size - eh.e_phoff) {
    *why = "its program headers end past the end of the file (" +
           std::to_string(size) + " bytes): truncated";
    return false;
  }
  std::vector<ElfW(Phdr)> ph(eh.e_phnum);
  if (!read_at(fd, ph.data(), table_size, eh.e_phoff)) {
    *why = "cannot read its program headers";
    return false;
  }
  unsigned loads = 0;
  for (size_t i = 0; i < ph.size(); ++i) {
    const ElfW(Phdr)& p = ph[i];
    if (p.p_type == PT_LOAD) {
      ++loads;
      if (p.p_filesz > p.p_memsz) {
        *why = "PT_LOAD segment " + std::to_string(i) +
               " is larger in the file than in memory";
        return false;
      }
    }
    // Every segment with bytes in the file, not only PT_LOAD: the loader
    // reads PT_DYNAMIC, notes and the like from the mapping too.
    if (p.p_type == PT_NULL || p.p_filesz == 0) continue;
    if (p.p_offset > size || p.p_filesz > size - p.p_offset) {
      *why = "segment " + std::to_string(i) + " ends at byte " +
             std::to_string(static_cast<uint64_t>(p.p_offset) + p.p_filesz) +
             ", past the end of the file (" + std::to_string(size) +
             " bytes): truncated or still being written";
      return false;
    }
  }
  if (loads == 0) {
    *why = "no PT_LOAD segment";
    return false;
  }
  return true;
}

// The ELF symbol table entry behind an address that dlsym returned, so that
// the size and kind of an exported symbol can be checked before it is used.
const ElfW(Sym) * symbol_entry(const void* addr) {
  Dl_info info;
  void* sym = nullptr;  // dladdr1 stores a const ElfW(Sym)* here
  if (!dladdr1(addr, &info, &sym, RTLD_DL_SYMENT)) return nullptr;
  return static_cast<const ElfW(Sym)*>(sym);
}

// A view the plugin declared: NULL with a length is garbage, and so is a
// length past `max` (an uninitialized or (size_t)-1 field).
bool view_ok(pounce_str_t s, size_t max) {
  if (!s.data) return s.len == 0;
  return s.len <= max;
}

std::string view_to_string(pounce_str_t s) {
  if (!s.data) return {};
  return std::string(s.data, s.len);
}

// A mode is foreign memory: an int32_t since ABI 1.1 (1.0 declared an enum
// of the same width), so any value reads without UB; only the known ones
// pass.
int32_t raw_mode(const pounce_mode_t& mode) {
  static_assert(sizeof(pounce_mode_t) == sizeof(int32_t));
  int32_t v;
  memcpy(&v, &mode, sizeof v);
  return v;
}

bool valid_mode(const pounce_mode_t& mode) {
  auto v = raw_mode(mode);
  return v == POUNCE_MODE_SYNC || v == POUNCE_MODE_ASYNC ||
         v == POUNCE_MODE_BLOCKING;
}

// Names and versions go into log lines: a control byte could forge one.
bool printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
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
  // A reload must never end the process: anything the plugin (or a failed
  // allocation) throws is a refusal like any other.
  try {
    return load_checked(path, host, error);
  } catch (const std::exception& e) {
    *error = "cannot load " + path + ": " + e.what();
  } catch (...) {
    *error = "cannot load " + path + ": an unknown exception";
  }
  return nullptr;
}

std::unique_ptr<PluginModule> PluginModule::load_checked(
    const std::string& path, const pounce_host_api_t* host,
    std::string* error) {
  std::unique_ptr<PluginModule> m(new PluginModule());
  m->path_ = path;
  PrivateCopy copy;
  size_t size = 0;
  bool copied = copy_plugin_file(path, &copy, &size, error);
  // Owned from here on: closed by the destructor on every path.
  m->copy_fd_ = copy.fd;
  m->mapped_path_ = copy.mapped_name;
  if (!copied) return nullptr;
  std::string why;
  if (!check_elf_layout(copy.fd, size, &why)) {
    *error = "cannot load " + path + ": " + why;
    if (why.find("truncated") != std::string::npos) {
      *error += std::string("; ") + kSafeDeploy;
    }
    return nullptr;
  }
  std::string open_path = "/proc/self/fd/" + std::to_string(copy.fd);
  m->loaded_name_ = open_path;
  try {
    m->handle_ = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  } catch (...) {
    // A static constructor of the plugin threw through dlopen.
    *error = "cannot load " + path + ": a static constructor threw";
    return nullptr;
  }
  if (!m->handle_) {
    const char* dl = dlerror();
    std::string why_dl = dl ? dl : "dlopen failed";
    *error = "cannot load " + path + ": " + why_dl;
    if (copy.on_disk &&
        why_dl.find("failed to map segment") != std::string::npos) {
      *error += "; is the temporary directory of " + copy.mapped_name +
                " mounted noexec? Set TMPDIR to a directory that allows exec";
    }
    return nullptr;
  }

  // The ABI record is read before anything of the plugin runs: it must be
  // an object at least as large as the record, not a function or a stub.
  auto* abi = static_cast<const pounce_plugin_abi_t*>(
      dlsym(m->handle_, POUNCE_ABI_SYMBOL));
  if (!abi) {
    *error = path + " is not a Pounce plugin: it does not export " +
             POUNCE_ABI_SYMBOL;
    return nullptr;
  }
  const ElfW(Sym)* abi_sym = symbol_entry(abi);
  if (abi_sym && (ELF64_ST_TYPE(abi_sym->st_info) != STT_OBJECT ||
                  abi_sym->st_size < sizeof(pounce_plugin_abi_t))) {
    *error = path + " is not a Pounce plugin: " + POUNCE_ABI_SYMBOL +
             " is not a " + std::to_string(sizeof(pounce_plugin_abi_t)) +
             "-byte object";
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
  // The record's minor is the oldest host minor the plugin needs.
  if (abi->minor > POUNCE_ABI_MINOR) {
    *error = "refusing " + path + ": " + versions +
             " (the plugin needs a newer host: ABI " +
             std::to_string(abi->major) + "." + std::to_string(abi->minor) +
             " or later)";
    return nullptr;
  }

  void* entry_addr = dlsym(m->handle_, POUNCE_ENTRY_SYMBOL);
  if (!entry_addr) {
    *error = path + " does not export " + POUNCE_ENTRY_SYMBOL;
    return nullptr;
  }
  const ElfW(Sym)* entry_sym = symbol_entry(entry_addr);
  if (entry_sym && ELF64_ST_TYPE(entry_sym->st_info) != STT_FUNC) {
    *error = path + ": " + POUNCE_ENTRY_SYMBOL + " is not a function";
    return nullptr;
  }
  auto entry = reinterpret_cast<pounce_plugin_entry_fn>(entry_addr);
  const pounce_plugin_t* desc = nullptr;
  try {
    desc = entry(host);
  } catch (const std::exception& e) {
    *error = path + ": " + POUNCE_ENTRY_SYMBOL + " threw: " + e.what();
    return nullptr;
  } catch (...) {
    *error = path + ": " + POUNCE_ENTRY_SYMBOL + " threw an exception";
    return nullptr;
  }
  if (!desc) {
    *error = path + ": " + POUNCE_ENTRY_SYMBOL + " returned no descriptor";
    return nullptr;
  }
  if (reinterpret_cast<uintptr_t>(desc) % alignof(pounce_plugin_t) != 0) {
    *error =
        path + ": " + POUNCE_ENTRY_SYMBOL + " returned a misaligned descriptor";
    return nullptr;
  }
  if (!m->adopt_descriptor(*desc, error)) return nullptr;
  return m;
}

// Every field is checked before it is used: a plugin's descriptor is
// foreign memory, and one bad length must be a refused load, not a
// std::length_error or a read of gigabytes.
bool PluginModule::adopt_descriptor(const pounce_plugin_t& desc,
                                    std::string* error) {
  const std::string file = file_name_of(path_);
  // The descriptor of an older minor is shorter: copy what it has, the rest
  // stays zero ("absent"). The fields of 1.0 up to `init` are required. A
  // plugin that needs this minor or an older one sets POUNCE_PLUGIN_SIZE,
  // which is never larger than this host's descriptor.
  constexpr size_t kMinSize =
      offsetof(pounce_plugin_t, init) + sizeof(desc.init);
  if (desc.size < kMinSize || desc.size > sizeof(pounce_plugin_t)) {
    *error = file + ": descriptor size " + std::to_string(desc.size) +
             " is not between " + std::to_string(kMinSize) + " and " +
             std::to_string(sizeof(pounce_plugin_t)) + " (ABI " +
             std::to_string(abi_.major) + "." + std::to_string(abi_.minor) +
             ")";
    return false;
  }
  memcpy(&desc_, &desc, desc.size);

  if (!view_ok(desc_.name, kMaxNameLen)) {
    *error = file + ": bad descriptor name (length " +
             std::to_string(desc_.name.len) + ", at most " +
             std::to_string(kMaxNameLen) + ")";
    return false;
  }
  if (!view_ok(desc_.version, kMaxNameLen)) {
    *error = file + ": bad descriptor version (length " +
             std::to_string(desc_.version.len) + ", at most " +
             std::to_string(kMaxNameLen) + ")";
    return false;
  }
  name_ = view_to_string(desc_.name);
  version_ = view_to_string(desc_.version);
  if (!printable(name_) || !printable(version_)) {
    *error = file + ": the descriptor name or version has control characters";
    return false;
  }
  if (name_.empty()) name_ = file;

  if (!desc_.init) {
    *error = name_ + ": the descriptor has no init";
    return false;
  }
  if (!valid_mode(desc_.mode)) {
    *error = name_ + ": unknown mode " + std::to_string(raw_mode(desc_.mode));
    return false;
  }
  if (desc_.route_count > kMaxRouteCount ||
      (desc_.route_count > 0 && !desc_.routes)) {
    *error = name_ + ": bad route table (" + std::to_string(desc_.route_count) +
             " entries at " + (desc_.routes ? "an address" : "NULL") +
             ", at most " + std::to_string(kMaxRouteCount) + ")";
    return false;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < desc_.route_count; ++i) {
    const pounce_route_mode_t& r = desc_.routes[i];
    RouteMode route;
    if (!view_ok(r.prefix, kMaxRoutePrefixLen) ||
        !normalize_mount_prefix(view_to_string(r.prefix), &route.prefix) ||
        !valid_mode(r.mode)) {
      *error = name_ + ": bad route mode entry " + std::to_string(i);
      if (view_ok(r.prefix, kMaxRoutePrefixLen)) {
        *error += " " + view_to_string(r.prefix);
      }
      return false;
    }
    if (!seen.insert(route.prefix).second) {
      *error = name_ + ": route " + route.prefix + " is listed twice";
      return false;
    }
    route.mode = r.mode;
    routes_.push_back(std::move(route));
  }
  // Longest prefix first, so that the first match wins.
  std::stable_sort(routes_.begin(), routes_.end(),
                   [](const RouteMode& a, const RouteMode& b) {
                     return a.prefix.size() > b.prefix.size();
                   });
  // A blocking handler is on_handle too, only run on the blocking pool.
  bool needs_sync =
      desc_.mode == POUNCE_MODE_SYNC || desc_.mode == POUNCE_MODE_BLOCKING;
  bool needs_async = desc_.mode == POUNCE_MODE_ASYNC;
  for (const RouteMode& r : routes_) {
    needs_sync |= r.mode == POUNCE_MODE_SYNC || r.mode == POUNCE_MODE_BLOCKING;
    needs_async |= r.mode == POUNCE_MODE_ASYNC;
  }
  if (needs_sync && !desc_.on_handle) {
    *error = name_ + ": sync mode needs on_handle";  // blocking mode too
    return false;
  }
  if (needs_async && !desc_.on_request) {
    *error = name_ + ": async mode needs on_request";
    return false;
  }
  return true;
}

PluginModule::~PluginModule() {
  if (handle_ && leaked_) {
    LOG_WARN("plugin %s: keeping %s mapped, code of it may still run",
             name_.c_str(), mapped_path_.c_str());
    return;  // the copy's descriptor too: its path must stay unique
  }
  if (handle_) {
    dlclose(handle_);
    // dlopen matches by path first. Should the module stay loaded after
    // all (a STB_GNU_UNIQUE symbol pins it), its /proc/self/fd/N path must
    // stay taken, or a later copy that gets descriptor N would be handed
    // this old module.
    std::string open_path = "/proc/self/fd/" + std::to_string(copy_fd_);
    if (void* still = dlopen(open_path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
      dlclose(still);
      LOG_WARN(
          "plugin %s: %s stays mapped after dlclose (STB_GNU_UNIQUE "
          "symbols? build with -fno-gnu-unique)",
          name_.c_str(), mapped_path_.c_str());
      return;
    }
  }
  if (copy_fd_ >= 0) close(copy_fd_);
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
