// Deterministic inputs and reference decoders for the compression tests.
#pragma once

#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader
#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "pipeline/accept_encoding.h"

namespace pounce::pipeline::testing {

inline uint64_t next_random(uint64_t& s) {  // splitmix64
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// HTML-like text of exactly n bytes: varied tags, attributes and words, so
// the compressor sees realistic redundancy rather than one repeated byte.
inline std::string html_text(size_t n, uint64_t seed) {
  static constexpr std::string_view kWords[] = {
      "server", "stream",  "chunk",  "request", "response", "latency",
      "the",    "of",      "and",    "event",   "pounce",   "compress",
      "window", "context", "client", "header",  "body",     "flush"};
  static constexpr std::string_view kTags[] = {"p", "li", "span", "td", "h2"};
  std::string s;
  s.reserve(n + 128);
  uint64_t r = seed;
  while (s.size() < n) {
    const auto tag = kTags[next_random(r) % 5];
    s += "<div class=\"row item-";
    s += std::to_string(next_random(r) % 100);
    s += "\"><";
    s += tag;
    s += '>';
    const int words = 3 + static_cast<int>(next_random(r) % 12);
    for (int i = 0; i < words; ++i) {
      s += kWords[next_random(r) % 18];
      s += ' ';
    }
    s += "<a href=\"/items/";
    s += std::to_string(next_random(r) % 10000);
    s += "\">more</a></";
    s += tag;
    s += "></div>\n";
  }
  s.resize(n);
  return s;
}

inline std::string binary_bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t r = seed;
  for (char& c : s) c = static_cast<char>(next_random(r));
  return s;
}

// A streaming decoder fed piece by piece, as a client reads the socket.
class Decoder {
 public:
  explicit Decoder(Coding c) : coding_(c) {
    if (c == Coding::Zstd) {
      zstd_ = ZSTD_createDCtx();
      // Refuse frames that need more than the 128 KiB window we promise.
      ZSTD_DCtx_setParameter(zstd_, ZSTD_d_windowLogMax, 17);
    } else {
      inflateInit2(&z_, 15 + 16);  // gzip wrapper only
    }
  }
  ~Decoder() {
    if (zstd_) ZSTD_freeDCtx(zstd_);
    if (coding_ == Coding::Gzip) inflateEnd(&z_);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes everything `in` allows; false on a decoding error. Sets
  // ended() once the frame/stream is complete.
  bool feed(std::string_view in, std::string& out) {
    char buf[4096];
    if (coding_ == Coding::Zstd) {
      ZSTD_inBuffer src{in.data(), in.size(), 0};
      while (true) {
        ZSTD_outBuffer dst{buf, sizeof buf, 0};
        const size_t r = ZSTD_decompressStream(zstd_, &dst, &src);
        if (ZSTD_isError(r)) return false;
        out.append(buf, dst.pos);
        if (r == 0) ended_ = true;
        if (src.pos == src.size && dst.pos < dst.size) return true;
      }
    }
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    while (true) {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      const int r = inflate(&z_, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z_.avail_out);
      if (r == Z_STREAM_END) {
        ended_ = true;
        return z_.avail_in == 0;
      }
      if (r != Z_OK && r != Z_BUF_ERROR) return false;
      if (z_.avail_in == 0 && z_.avail_out != 0) return true;
    }
  }
  bool ended() const { return ended_; }

 private:
  Coding coding_;
  ZSTD_DCtx* zstd_ = nullptr;
  z_stream z_{};
  bool ended_ = false;
};

// Decodes a complete stream in one go; false on error or a truncated stream.
inline bool decode_all(Coding c, std::string_view in, std::string& out) {
  Decoder d(c);
  return d.feed(in, out) && d.ended();
}

}  // namespace pounce::pipeline::testing
