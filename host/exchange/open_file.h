// An open regular file that response bodies are sent from: a static file
// (host/static/, through the per-worker open-file cache) or a plugin's
// response_file / stream_write_file (ABI 1.1).
//
// Shared by counted references: the open-file cache holds one, and every
// response that sends a range of the file holds one until its last byte is
// out, so that an entry evicted (or revalidated to a new file) while a slow
// client still reads the old one keeps the old descriptor open. The count
// is a plain integer, not an atomic: a file is used on one loop at a time
// (the cache is per worker; a plugin's descriptor is adopted on the thread
// that called response_file and handed to the loop with the response, the
// hand-off's queue ordering the two).
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace pounce::exchange {

class OpenFile {
 public:
  // Takes ownership of `fd`, with `st` its fstat: the size and identity the
  // responses are framed with. A file that changes size afterwards is
  // detected by the sender (a short read closes the connection).
  static OpenFile* adopt(int fd, const struct stat& st);

  int fd() const { return fd_; }
  const struct stat& stat() const { return st_; }
  uint64_t size() const { return static_cast<uint64_t>(st_.st_size); }

  void ref() { ++refs_; }
  // Closes the descriptor and frees the object with the last reference.
  void unref();

 private:
  OpenFile(int fd, const struct stat& st) : fd_(fd), st_(st) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  int fd_;
  uint32_t refs_ = 1;
  struct stat st_;
};

// One counted reference, moved rather than copied where it can be.
class FileRef {
 public:
  FileRef() = default;
  // Adopts a reference the caller already holds (OpenFile::adopt's).
  explicit FileRef(OpenFile* f) : f_(f) {}
  FileRef(const FileRef& o) : f_(o.f_) {
    if (f_) f_->ref();
  }
  FileRef(FileRef&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FileRef& operator=(FileRef o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~FileRef() {
    if (f_) f_->unref();
  }
  OpenFile* get() const { return f_; }
  OpenFile* operator->() const { return f_; }
  explicit operator bool() const { return f_ != nullptr; }
  void reset() { FileRef().swap(*this); }
  void swap(FileRef& o) noexcept { std::swap(f_, o.f_); }

 private:
  OpenFile* f_ = nullptr;
};

// A piece of a response body: `bytes` (copied when the call that takes the
// part returns), or, when `file` is set, `length` bytes of it from
// `offset`. A multipart/byteranges body is its part headers as bytes and
// its ranges as file parts.
struct BodyPart {
  const char* bytes = nullptr;
  size_t bytes_len = 0;
  OpenFile* file = nullptr;  // the callee takes its own reference
  uint64_t offset = 0;
  uint64_t length = 0;
};

}  // namespace pounce::exchange
