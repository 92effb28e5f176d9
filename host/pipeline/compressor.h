// One response's compression state: a zstd (level 3) or gzip (level 6)
// stream whose context is reused across responses (ARCHITECTURE.md §5).
//
// Streaming contexts are window-limited so that a stream costs little
// memory and a decoder never needs more than the window: zstd windowLog 17
// (128 KiB, advertised in the frame header), gzip windowBits 15 with
// memLevel 8. zstd's match tables are sized to that window too (hashLog
// 15, chainLog 14 instead of level 3's 17 and 16): measured on HTML, 35%
// less memory per stream (1.06 MiB instead of 1.62 MiB) for 0.5% more
// output. Sync bodies use the same settings: one rule, and every response
// we send decodes in 128 KiB.
//
// Output is appended to a caller's ByteBuffer, which is never cleared here.
// Not thread-safe; a Compressor belongs to one loop. Errors are `false`,
// never exceptions (except std::bad_alloc from ByteBuffer); after an error
// the Compressor refuses everything until the next begin().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/byte_buffer.h"
#include "pipeline/accept_encoding.h"

struct ZSTD_CCtx_s;
struct z_stream_s;

namespace pounce::pipeline {

inline constexpr int kZstdLevel = 3;
inline constexpr int kZstdWindowLog = 17;
inline constexpr int kZstdHashLog = 15;
inline constexpr int kZstdChainLog = 14;
inline constexpr int kGzipLevel = 6;
inline constexpr int kGzipWindowBits = 15;
inline constexpr int kGzipMemLevel = 8;

class Compressor {
 public:
  Compressor() = default;
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Starts a new response in coding `c` (Gzip or Zstd; Identity returns
  // false). Reuses the context when it already holds `c`; switching coding
  // frees the other one, so a Compressor holds at most one codec's memory.
  // Returns false when the codec cannot be set up (out of memory).
  bool begin(Coding c);

  // Compresses `in` and flushes (ZSTD_e_flush / Z_SYNC_FLUSH): the bytes
  // appended to `out` decode to everything given so far. An empty `in`
  // appends nothing.
  bool compress_chunk(std::string_view in, ByteBuffer& out);

  // Ends the stream (ZSTD_e_end / Z_FINISH): appends the last block and, for
  // gzip, the trailer. After it, only begin() is accepted.
  bool finish(ByteBuffer& out);

  // begin(c) + the whole body + finish, with no intermediate flush. The zstd
  // frame then records the content size.
  bool compress_whole(Coding c, std::string_view in, ByteBuffer& out);
  // The same in the coding of the last begin().
  bool compress_whole(std::string_view in, ByteBuffer& out);

  Coding coding() const { return coding_; }
  // Bytes of codec state this context holds now: ZSTD_sizeof_CCtx, or what
  // zlib allocated through our zalloc. A zstd context reaches its working
  // size at its first compression, not at begin().
  size_t memory_bytes() const;

  // Frees the codec state (the pool does this to contexts it will not
  // keep). The next begin() sets it up again.
  void reset();

 private:
  enum class State : uint8_t { Idle, Open, Finished, Failed };

  bool zstd_run(std::string_view in, int directive, ByteBuffer& out);
  bool gzip_run(std::string_view in, int flush, ByteBuffer& out);
  static void* zalloc(void* opaque, unsigned items, unsigned size);
  static void zfree(void* opaque, void* p);

  Coding coding_ = Coding::Identity;
  State state_ = State::Idle;
  ZSTD_CCtx_s* zstd_ = nullptr;
  z_stream_s* gzip_ = nullptr;  // initialized with deflateInit2 when set
  size_t gzip_bytes_ = 0;       // live bytes zlib holds through zalloc
};

}  // namespace pounce::pipeline
