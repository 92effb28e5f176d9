// The compression contexts of one event loop (ARCHITECTURE.md §5 "Memory").
//
// - Sync responses share one context per coding, reused for every response
//   the loop serves (sync_context).
// - Streamed responses each hold a context from a capped pool for their
//   whole life (acquire/release). Past the cap acquire() returns nullptr and
//   the caller sends that response uncompressed; it never refuses it.
// - Released contexts are kept warm, up to `max_idle` per coding, so that a
//   steady stream rate allocates nothing; beyond that they are freed.
//
// Measured (bench/compress, ctx_KiB): a streaming context holds about
// 1.06 MiB for zstd (level 3, windowLog 17) and 165 KiB for gzip (igzip
// level 1: its stream and "small" level buffer) once it has compressed a
// chunk. A sync context for gzip is the same igzip state at level 1, and
// libdeflate's compressor (653 KiB) at levels 2-9.
//
// Single-threaded: the pool and its contexts belong to the loop that owns
// it. A context still acquired when the pool dies is freed with it.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "pipeline/compressor.h"

namespace pounce::pipeline {

struct CompressorPoolLimits {
  // Streaming contexts in use at once, all codings together. At worst (all
  // zstd) 64 streams hold about 68 MiB per loop; all gzip, about 10.5 MiB.
  size_t max_streams = 64;
  // Released contexts kept for reuse, per coding.
  size_t max_idle = 4;
};

class CompressorPool {
 public:
  // Every context the pool makes compresses at `levels`.
  explicit CompressorPool(CompressorPoolLimits limits = {},
                          CompressionLevels levels = {});
  ~CompressorPool();
  CompressorPool(const CompressorPool&) = delete;
  CompressorPool& operator=(const CompressorPool&) = delete;

  // The loop's context for whole sync bodies in coding `c` (Gzip or Zstd),
  // created on first use. Use compress_whole(); it is free again as soon as
  // that returns. Identity is a caller bug; it gets the zstd one.
  Compressor& sync_context(Coding c);

  // A streaming context for one response, already begun in coding `c`.
  // nullptr past max_streams, for Identity, or when the codec cannot be set
  // up: send the response uncompressed.
  Compressor* acquire(Coding c);
  // Gives a context from acquire() back at the end of its response (ended,
  // aborted or failed; the next acquire() begins it afresh).
  void release(Compressor* c);

  size_t in_use() const { return in_use_; }
  size_t idle(Coding c) const;
  const CompressorPoolLimits& limits() const { return limits_; }
  // Everything the pool holds: sync, idle and in-use contexts.
  size_t memory_bytes() const;

 private:
  static size_t slot(Coding c) { return c == Coding::Zstd ? 0 : 1; }

  CompressorPoolLimits limits_;
  CompressionLevels levels_;
  size_t in_use_ = 0;
  std::unique_ptr<Compressor> sync_[2];
  std::vector<std::unique_ptr<Compressor>> idle_[2];
  // The pool owns every context, handed out or not; one still acquired
  // when the pool dies is freed with it.
  std::vector<std::unique_ptr<Compressor>> busy_;
};

}  // namespace pounce::pipeline
