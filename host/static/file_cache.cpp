#include "static/file_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "pipeline/content_type_rules.h"
#include "static/mime_types.h"
#include "static/open_beneath.h"
#include "static/static_root.h"

namespace pounce::static_files {
namespace {

constexpr uint64_t kRevalidateMs = 1000;

// Opens `rel` if it is a regular file: *kind says what it is otherwise.
// Looked at first through O_PATH, which opens nothing (a device's open may
// act: rewind a tape, hang up a line) and needs no read permission, then
// opened for reading; O_NONBLOCK so that a FIFO swapped in between cannot
// hang the loop, and the second fstat confirms it is the same regular
// file.
int open_regular(const StaticRoot& root, std::string_view rel, struct stat* st,
                 EntryKind* kind) {
  *kind = EntryKind::NotFound;
  int fd = open_beneath(root, rel, O_PATH);
  if (fd < 0) {
    if (fd == -EACCES) *kind = EntryKind::Forbidden;
    return -1;
  }
  struct stat first;
  const int rc = fstat(fd, &first);
  ::close(fd);
  if (rc != 0) return -1;
  if (S_ISDIR(first.st_mode)) {
    *kind = EntryKind::Directory;
    return -1;
  }
  if (!S_ISREG(first.st_mode)) return -1;  // FIFO, device, socket
  fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    if (fd == -EACCES || fd == -EPERM) *kind = EntryKind::Forbidden;
    return -1;
  }
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
      st->st_ino != first.st_ino || st->st_dev != first.st_dev) {
    ::close(fd);
    return -1;
  }
  // Regular files ignore O_NONBLOCK, but a sender should not see it.
  const int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  *kind = EntryKind::File;
  return fd;
}

void describe(int fd, const struct stat& st, Representation* r) {
  r->file = exchange::FileRef(exchange::OpenFile::adopt(fd, st));
  r->etag_len = static_cast<uint8_t>(make_etag(st, r->etag));
  r->mtime_s = st.st_mtim.tv_sec;
  format_http_date(r->mtime_s, r->last_modified);
}

bool same_file(const Representation& a, const Representation& b) {
  if (!a || !b) return !a && !b;
  const struct stat& x = a.file->stat();
  const struct stat& y = b.file->stat();
  return x.st_dev == y.st_dev && x.st_ino == y.st_ino &&
         x.st_size == y.st_size && x.st_mtim.tv_sec == y.st_mtim.tv_sec &&
         x.st_mtim.tv_nsec == y.st_mtim.tv_nsec;
}

bool same_entry(const CacheEntry& a, const CacheEntry& b) {
  if (a.kind != b.kind || !same_file(a.identity, b.identity)) return false;
  for (size_t i = 0; i < static_cast<size_t>(Variant::Count); ++i) {
    if (!same_file(a.variants[i], b.variants[i])) return false;
  }
  return true;
}

}  // namespace

void FileCache::keep_small(Representation* r) {
  r->small.clear();
  if (capacity_ == 0 || !*r) return;  // nothing is kept: no gain
  const uint64_t size = r->size();
  if (size == 0 || size > kSmallFileMax ||
      small_bytes_ + size > kSmallFileBudget) {
    return;
  }
  r->small.resize(size);
  uint64_t got = 0;
  while (got < size) {
    const ssize_t n = pread(r->file->fd(), r->small.data() + got, size - got,
                            static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<uint64_t>(n);
  }
  // Changed while being read (shorter, or longer than its stat said):
  // sent from the descriptor, where the sender checks as it goes.
  char extra;
  if (got != size ||
      pread(r->file->fd(), &extra, 1, static_cast<off_t>(size)) != 0) {
    r->small.clear();
    r->small.shrink_to_fit();
  }
}

void FileCache::account(const CacheEntry& e, int sign) {
  uint64_t n = e.identity.small.size();
  for (const auto& v : e.variants) n += v.small.size();
  if (sign > 0) {
    small_bytes_ += n;
  } else {
    small_bytes_ -= n;
  }
}

uint64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 +
         static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void FileCache::fill(const StaticRoot& root, std::string_view rel,
                     bool variants, CacheEntry* e) {
  ++fills_;
  e->identity = Representation();
  for (auto& v : e->variants) v = Representation();
  e->content_type = {};
  e->compressible_type = false;
  struct stat st;
  const int fd = open_regular(root, rel, &st, &e->kind);
  if (fd < 0) return;
  describe(fd, st, &e->identity);
  keep_small(&e->identity);
  e->content_type = MimeTypes::global().for_name(rel);
  e->compressible_type = pipeline::is_compressible_type(e->content_type);
  if (!variants) return;
  for (size_t i = 0; i < static_cast<size_t>(Variant::Count); ++i) {
    variant_rel_.assign(rel);
    variant_rel_ += kVariantSuffix[i];
    struct stat vst;
    EntryKind kind;
    const int vfd = open_regular(root, variant_rel_, &vst, &kind);
    if (vfd < 0) continue;
    // A variant older than its file was made from an earlier version of
    // it: serving it would answer with stale content.
    if (vst.st_mtim.tv_sec < st.st_mtim.tv_sec ||
        (vst.st_mtim.tv_sec == st.st_mtim.tv_sec &&
         vst.st_mtim.tv_nsec < st.st_mtim.tv_nsec)) {
      ::close(vfd);
      continue;
    }
    describe(vfd, vst, &e->variants[i]);
    keep_small(&e->variants[i]);
  }
}

const CacheEntry* FileCache::lookup(const StaticRoot& root,
                                    std::string_view rel, bool variants,
                                    uint64_t now_ms) {
  if (capacity_ == 0) {
    fill(root, rel, variants, &uncached_);
    return &uncached_;
  }
  key_.clear();
  const uint64_t id = root.id();
  key_.append(reinterpret_cast<const char*>(&id), sizeof id);
  key_.push_back(variants ? 'v' : '-');
  key_.append(rel);
  auto it = map_.find(key_);
  if (it != map_.end()) {
    auto node = it->second;
    if (node != lru_.begin()) lru_.splice(lru_.begin(), lru_, node);
    CacheEntry& e = *node;
    if (now_ms - e.checked_ms < kRevalidateMs) return &e;
    // Once a second: open again, and keep the old descriptors when nothing
    // changed (their pages are warm, and responses under way share them).
    fill(root, rel, variants, &uncached_);
    if (uncached_.kind != EntryKind::File &&
        uncached_.kind != EntryKind::Directory) {
      account(e, -1);
      map_.erase(it);
      lru_.erase(node);
      return &uncached_;
    }
    if (!same_entry(e, uncached_)) {
      account(e, -1);
      e.kind = uncached_.kind;
      e.identity = std::move(uncached_.identity);
      for (size_t i = 0; i < static_cast<size_t>(Variant::Count); ++i) {
        e.variants[i] = std::move(uncached_.variants[i]);
      }
      e.content_type = uncached_.content_type;
      e.compressible_type = uncached_.compressible_type;
      e.compressible_type = uncached_.compressible_type;
      account(e, +1);
    }
    uncached_.identity = Representation();
    for (auto& v : uncached_.variants) v = Representation();
    e.checked_ms = now_ms;
    return &e;
  }
  fill(root, rel, variants, &uncached_);
  // Only what exists is kept: a flood of names that do not would only push
  // the useful entries out.
  if (uncached_.kind != EntryKind::File &&
      uncached_.kind != EntryKind::Directory) {
    return &uncached_;
  }
  if (lru_.size() >= capacity_) {
    account(lru_.back(), -1);
    map_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.emplace_front();
  CacheEntry& e = lru_.front();
  e.key = key_;
  e.kind = uncached_.kind;
  e.identity = std::move(uncached_.identity);
  for (size_t i = 0; i < static_cast<size_t>(Variant::Count); ++i) {
    e.variants[i] = std::move(uncached_.variants[i]);
  }
  e.content_type = uncached_.content_type;
  e.compressible_type = uncached_.compressible_type;
  e.checked_ms = now_ms;
  account(e, +1);
  map_.emplace(e.key, lru_.begin());
  return &e;
}

FileCache& FileCache::for_this_thread(size_t capacity) {
  // One per loop thread, never shared: the loop's requests are its only
  // users. Freed (descriptors closed) when the thread ends.
  thread_local std::unique_ptr<FileCache> cache;
  if (!cache) cache = std::make_unique<FileCache>(capacity);
  return *cache;
}

}  // namespace pounce::static_files
