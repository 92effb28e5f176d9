// The open-file cache: one per loop thread (no locks), bounded, least
// recently used first out. An entry holds what answering a request for
// the file needs without a system call: the open descriptor, its stat,
// the ETag and Last-Modified texts, the Content-Type, and the
// precompressed variants beside it. It is checked against the file system
// again (opened and compared) at most once a second, so a changed file is
// served within a second of the change; a response already under way
// keeps the descriptor it started with (exchange/open_file.h).
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "exchange/open_file.h"
#include "static/etag.h"
#include "static/http_date.h"

namespace pounce::static_files {

class StaticRoot;

// One file as sent: the file itself, or one of its precompressed variants.
struct Representation {
  exchange::FileRef file;  // null: absent
  // The whole content of a small file (kSmallFileMax), read when it was
  // opened: sent from memory with the head, in one write and one TCP
  // segment, where a sendfile would cost a system call and a second
  // segment. Empty for larger files, or when the cache's budget for them
  // (kSmallFileBudget) is spent: those are sent from `file`.
  std::string small;
  char etag[kMaxEtagLen];
  uint8_t etag_len = 0;
  char last_modified[kHttpDateLen];
  int64_t mtime_s = 0;

  explicit operator bool() const { return static_cast<bool>(file); }
  uint64_t size() const { return file->size(); }
  std::string_view etag_view() const { return {etag, etag_len}; }
  std::string_view last_modified_view() const {
    return {last_modified, kHttpDateLen};
  }
};

// The precompressed codings, in the order they are preferred when the
// client weighs them the same (the smallest first).
enum class Variant : uint8_t { Zstd, Br, Gzip, Count };
constexpr const char* kVariantSuffix[] = {".zst", ".br", ".gz"};
constexpr const char* kVariantCoding[] = {"zstd", "br", "gzip"};

enum class EntryKind : uint8_t {
  File,
  Directory,
  NotFound,   // missing, outside the directory, or not a regular file
  Forbidden,  // the host may not read it (EACCES)
};

struct CacheEntry {
  std::string key;
  EntryKind kind = EntryKind::NotFound;
  Representation identity;
  Representation variants[static_cast<size_t>(Variant::Count)];
  std::string_view content_type;  // from MimeTypes::global(), never freed
  // Whether the type may be compressed on the fly
  // (pipeline::is_compressible_type), decided once per fill.
  bool compressible_type = false;
  uint64_t checked_ms = 0;
  bool has_variant() const {
    for (const auto& v : variants) {
      if (v) return true;
    }
    return false;
  }
};

// Files up to this size are kept in memory too (Representation::small)...
constexpr uint64_t kSmallFileMax = 16 * 1024;
// ...up to this many bytes per cache (per loop thread).
constexpr uint64_t kSmallFileBudget = 8 * 1024 * 1024;

class FileCache {
 public:
  // `capacity` 0: nothing is kept; every lookup opens the file.
  explicit FileCache(size_t capacity) : capacity_(capacity) {}
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // The entry for `rel` below `root`, at `now_ms` (a monotonic clock). With
  // `variants`, the precompressed files beside a regular file are looked
  // for too. The pointer is valid until the next lookup.
  const CacheEntry* lookup(const StaticRoot& root, std::string_view rel,
                           bool variants, uint64_t now_ms);

  size_t size() const { return lru_.size(); }
  // Bytes of small files held in memory (at most kSmallFileBudget).
  uint64_t small_bytes() const { return small_bytes_; }
  // Opens and stats done so far (hits cost none): for the tests.
  uint64_t fills() const { return fills_; }

  // This thread's cache, made on first use with `capacity` (the loop
  // threads each get their own).
  static FileCache& for_this_thread(size_t capacity);

 private:
  void fill(const StaticRoot& root, std::string_view rel, bool variants,
            CacheEntry* e);
  // Reads a small file into r->small while the budget allows.
  void keep_small(Representation* r);
  // Adds (+1) or removes (-1) an entry's small files from the budget.
  void account(const CacheEntry& e, int sign);

  size_t capacity_;
  uint64_t fills_ = 0;
  uint64_t small_bytes_ = 0;   // of the entries in lru_
  std::list<CacheEntry> lru_;  // most recent first
  // Keys view the entries' own `key` strings (list nodes do not move).
  std::unordered_map<std::string_view, std::list<CacheEntry>::iterator> map_;
  std::string key_;          // the key being looked up, reused
  std::string variant_rel_;  // rel + a variant's suffix, reused
  CacheEntry uncached_;      // the answer when nothing is kept
};

// Current monotonic time in milliseconds (coarse: the revalidation interval
// is a second).
uint64_t monotonic_ms();

}  // namespace pounce::static_files
