// One response's compression state: zstd, or gzip by two encoders, with
// its contexts reused across responses (ARCHITECTURE.md §5).
//
// gzip (RFC 1952, what "Content-Encoding: gzip" means) is produced by ISA-L
// igzip or libdeflate, never zlib (bench/compress/deflate_bench.cpp,
// docs/performance.md "Response compression"; on a 58 KiB JSON body, CPU
// and bytes against zlib level 1, nginx's default):
// - a stream (begin / compress_chunk / finish): igzip, each chunk ended by
//   a sync flush so that it decodes on arrival. 0.36x zlib's CPU in 16 KiB
//   chunks, 0.68x in 1 KiB ones, but 1.4x in 64-byte ones (its per-block
//   Huffman tables), at about zlib's size. libdeflate cannot stream.
// - a whole body (compress_whole: sync and blocking responses): at level 1
//   igzip too (0.25x the CPU, 0.95x the bytes); at levels 2-9, where a
//   smaller body is asked for, libdeflate at that level in one call
//   (level 1 would be 0.44x, 0.90x).
// zlib is left to WebSocket permessage-deflate (raw deflate with context
// takeover, host/ws/), which neither library offers.
//
// The levels come from --gzip-level (1-9; igzip has levels 1-3, see
// igzip_level()) and --zstd-level.
//
// Streaming contexts are window-limited so that a stream costs little
// memory and a decoder never needs more than the window: zstd windowLog 17
// (128 KiB, advertised in the frame header), gzip a 32 KiB window (igzip's
// default). zstd's match tables are sized to that window too (hashLog
// 15, chainLog 14 instead of level 3's 17 and 16): measured on HTML, 35%
// less memory per stream (1.06 MiB instead of 1.62 MiB) for 0.5% more
// output. Sync bodies use the same zstd settings: one rule, and every
// response we send decodes in 128 KiB.
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
struct isal_zstream;
struct libdeflate_compressor;

namespace pounce::pipeline {

// The defaults of --zstd-level and --gzip-level (nginx's gzip_comp_level).
inline constexpr int kZstdLevel = 3;
inline constexpr int kGzipLevel = 1;
inline constexpr int kZstdWindowLog = 17;
inline constexpr int kZstdHashLog = 15;
inline constexpr int kZstdChainLog = 14;

struct CompressionLevels {
  int gzip = kGzipLevel;  // 1..9, checked by the options parser
  int zstd = kZstdLevel;  // 1..19
};

// igzip's level for a gzip level: igzip has 1 (fastest) to 3. Level 1 maps
// to 1 (on the 58 KiB JSON in 1 KiB sync-flushed chunks its output was 3%
// smaller than zlib level 1's), 2-5 to 2 and 6-9 to 3.
int igzip_level(int gzip_level);

class Compressor {
 public:
  explicit Compressor(CompressionLevels levels = {}) : levels_(levels) {}
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

  // The whole body at once, with no intermediate flush: gzip by igzip (level
  // 1) or libdeflate, zstd as begin(c) + the body + finish, whose frame then
  // records the content size. Only begin() is accepted after it.
  bool compress_whole(Coding c, std::string_view in, ByteBuffer& out);
  // The same in the coding of the last begin() or bind().
  bool compress_whole(std::string_view in, ByteBuffer& out);
  // Sets the coding compress_whole(in, out) uses without setting anything
  // up: a context for whole bodies needs no stream state.
  void bind(Coding c) { coding_ = c; }

  Coding coding() const { return coding_; }
  const CompressionLevels& levels() const { return levels_; }
  // Bytes of codec state this context holds now: ZSTD_sizeof_CCtx, igzip's
  // stream and level buffer, or libdeflate's compressor. A zstd context
  // reaches its working size at its first compression, not at begin().
  size_t memory_bytes() const;

  // Frees the codec state (the pool does this to contexts it will not
  // keep). The next begin() sets it up again.
  void reset();

 private:
  enum class State : uint8_t { Idle, Open, Finished, Failed };

  // Each frees the codec state the coding it prepares does not use, so
  // that a context holds one codec's memory at a time.
  bool prepare_zstd();
  bool prepare_igzip();
  bool prepare_libdeflate();
  void free_zstd();
  void free_igzip();
  void free_libdeflate();

  bool zstd_run(std::string_view in, int directive, ByteBuffer& out);
  bool igzip_run(std::string_view in, bool end, ByteBuffer& out);
  bool libdeflate_whole(std::string_view in, ByteBuffer& out);

  CompressionLevels levels_;
  Coding coding_ = Coding::Identity;
  State state_ = State::Idle;
  ZSTD_CCtx_s* zstd_ = nullptr;
  // A stream: the isal_zstream, followed in the same allocation by the
  // level buffer of igzip_bytes_ - sizeof(isal_zstream) bytes.
  isal_zstream* igzip_ = nullptr;
  size_t igzip_bytes_ = 0;
  libdeflate_compressor* libdeflate_ = nullptr;  // whole bodies, level > 1
  size_t libdeflate_bytes_ = 0;  // what libdeflate allocated for it
};

}  // namespace pounce::pipeline
