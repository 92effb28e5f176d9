// A growable byte buffer that keeps its capacity across uses, so that a
// per-loop buffer stops allocating once it has seen the largest response.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace pounce {

// Copies `s` to `p` and returns the end of the copy. An empty view may carry a
// null data(), which memcpy must never see, so it is skipped.
inline char* copy_view(char* p, std::string_view s) {
  if (s.empty()) return p;
  memcpy(p, s.data(), s.size());
  return p + s.size();
}

class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t capacity) { reserve(capacity); }
  ~ByteBuffer() { free(data_); }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& o) noexcept
      : data_(o.data_), len_(o.len_), cap_(o.cap_) {
    o.data_ = nullptr;
    o.len_ = o.cap_ = 0;
  }
  ByteBuffer& operator=(ByteBuffer&& o) noexcept {
    if (this != &o) {
      free(data_);
      data_ = o.data_;
      len_ = o.len_;
      cap_ = o.cap_;
      o.data_ = nullptr;
      o.len_ = o.cap_ = 0;
    }
    return *this;
  }

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return len_; }
  size_t capacity() const { return cap_; }
  bool empty() const { return len_ == 0; }
  std::string_view view() const { return {data_, len_}; }

  void clear() { len_ = 0; }
  // Frees the memory too (idle connections keep nothing).
  void release() {
    free(data_);
    data_ = nullptr;
    len_ = cap_ = 0;
  }

  void reserve(size_t cap) {
    if (cap <= cap_) return;
    size_t want = cap_ ? cap_ : 256;
    while (want < cap) want *= 2;
    char* p = static_cast<char*>(realloc(data_, want));
    if (!p) throw std::bad_alloc();
    data_ = p;
    cap_ = want;
  }

  // Room for `n` more bytes; commit() what was written.
  char* prepare(size_t n) {
    reserve(len_ + n);
    return data_ + len_;
  }
  void commit(size_t n) { len_ += n; }

  void append(const void* p, size_t n) {
    if (n == 0) return;
    memcpy(prepare(n), p, n);
    len_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) {
    *prepare(1) = c;
    ++len_;
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
  void resize(size_t n) {
    reserve(n);
    len_ = n;
  }

 private:
  char* data_ = nullptr;
  size_t len_ = 0;
  size_t cap_ = 0;
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
