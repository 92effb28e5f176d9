// A growable byte buffer that keeps its capacity across uses, so that a
// per-loop buffer stops allocating once it has seen the largest response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

namespace pounce {

// Copies `s` to `p` and returns the end of the copy. An empty view may carry a
// null data(), which memcpy must never see, so it is skipped.
inline char* copy_view(char* p, std::string_view s) {
  if (s.empty()) return p;
  memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Allocation failure is reported, never thrown: buffers grow inside libuv
// callbacks, where an exception would end the process. A failed grow leaves
// the contents as they were and sets failed(), which stays set until clear()
// or release(): a run of appends may be checked once, at its end, and every
// owner checks before it uses what it built.
class ByteBuffer {
 public:
  // No object may be larger (ptrdiff_t must span it).
  static constexpr size_t kMaxSize = PTRDIFF_MAX;

  ByteBuffer() = default;
  // Check failed() (or capacity()) afterwards.
  explicit ByteBuffer(size_t capacity) { (void)reserve(capacity); }
  ~ByteBuffer() { free(data_); }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& o) noexcept
      : data_(o.data_), len_(o.len_), cap_(o.cap_), failed_(o.failed_) {
    o.data_ = nullptr;
    o.len_ = o.cap_ = 0;
    o.failed_ = false;
  }
  ByteBuffer& operator=(ByteBuffer&& o) noexcept {
    if (this != &o) {
      free(data_);
      data_ = o.data_;
      len_ = o.len_;
      cap_ = o.cap_;
      failed_ = o.failed_;
      o.data_ = nullptr;
      o.len_ = o.cap_ = 0;
      o.failed_ = false;
    }
    return *this;
  }

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return len_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return len_ == 0; }
  std::string_view view() const { return {data_, len_}; }
  // A grow failed since the last clear() or release(): what was to be
  // appended then is missing.
  bool failed() const { return failed_; }

  void clear() {
    len_ = 0;
    failed_ = false;
  }
  // Frees the memory too (idle connections keep nothing).
  void release() {
    free(data_);
    data_ = nullptr;
    len_ = cap_ = 0;
    failed_ = false;
  }

  // Capacity for `cap` bytes, growing geometrically. False (and failed())
  // when the memory is not there.
  [[nodiscard]] bool reserve(size_t cap) { return reserve(cap, SIZE_MAX); }
  // The same, but the geometric growth stops at `ceiling`: a buffer that
  // will hold at most that much (a declared body) never gets more.
  [[nodiscard]] bool reserve(size_t cap, size_t ceiling) {
    if (cap <= cap_) return true;
    if (cap > kMaxSize) {
      failed_ = true;
      return false;
    }
    size_t want = cap_ ? cap_ : 256;
    while (want < cap) want = want > kMaxSize / 2 ? cap : want * 2;
    if (want > ceiling) want = ceiling > cap ? ceiling : cap;
    char* p = static_cast<char*>(realloc(data_, want));
    if (!p) {
      failed_ = true;
      return false;
    }
    data_ = p;
    cap_ = want;
    return true;
  }

  // Room for `n` more bytes, or nullptr (and failed()); commit() what was
  // written.
  [[nodiscard]] char* prepare(size_t n) {
    if (n > SIZE_MAX - len_) {
      failed_ = true;
      return nullptr;
    }
    return reserve(len_ + n) ? data_ + len_ : nullptr;
  }
  void commit(size_t n) { len_ += n; }

  // False (nothing appended, failed() set) when the memory is not there.
  bool append(const void* p, size_t n) {
    if (n == 0) return true;
    char* dst = prepare(n);
    if (!dst) return false;
    memcpy(dst, p, n);
    len_ += n;
    return true;
  }
  bool append(std::string_view s) { return append(s.data(), s.size()); }
  bool push_back(char c) {
    char* dst = prepare(1);
    if (!dst) return false;
    *dst = c;
    ++len_;
    return true;
  }

  // Drops the first n bytes.
  void consume(size_t n) {
    if (n >= len_) {
      len_ = 0;
      return;
    }
    memmove(data_, data_ + n, len_ - n);
    len_ -= n;
  }
  // Grows or shrinks to n bytes; growing may fail (false, failed()).
  [[nodiscard]] bool resize(size_t n) {
    if (!reserve(n)) return false;
    len_ = n;
    return true;
  }
  // Shrinks to n bytes (n <= size()); never allocates.
  void truncate(size_t n) {
    if (n < len_) len_ = n;
  }
  // For a caller that took size() as a mark while !failed(), and dropped
  // what it failed to build after it with truncate(mark): the buffer is
  // whole again.
  void forget_failure() { failed_ = false; }
  // Exchanges contents and storage with `o` (no copy): a body handed from
  // one owner to another, each keeping a buffer to reuse.
  void swap(ByteBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(len_, o.len_);
    std::swap(cap_, o.cap_);
    std::swap(failed_, o.failed_);
  }

 private:
  char* data_ = nullptr;
  size_t len_ = 0;
  size_t cap_ = 0;
  bool failed_ = false;
};

// Writes the decimal digits of v to p; returns the number of bytes.
inline size_t format_decimal(char* p, unsigned long long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i) p[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace pounce
