// Per-loop compression contexts (compressor_pool.h).
//
// The cap counts contexts, not bytes: a zstd and a gzip stream cost
// different amounts, but a count is what an operator can reason about and
// the worst case (all zstd) is documented next to the default.
#include "pipeline/compressor_pool.h"

#include <utility>

namespace pounce::pipeline {

CompressorPool::CompressorPool(CompressorPoolLimits limits,
                               CompressionLevels levels)
    : limits_(limits), levels_(levels) {
  busy_.reserve(limits_.max_streams);
}

CompressorPool::~CompressorPool() = default;

Compressor& CompressorPool::sync_context(Coding c) {
  if (c == Coding::Identity) c = Coding::Zstd;
  std::unique_ptr<Compressor>& ctx = sync_[slot(c)];
  if (!ctx) {
    ctx = std::make_unique<Compressor>(levels_);
    // Whole bodies need no stream state: compress_whole() sets up its codec.
    ctx->bind(c);
  }
  return *ctx;
}

Compressor* CompressorPool::acquire(Coding c) {
  if (c == Coding::Identity || in_use_ >= limits_.max_streams) return nullptr;
  std::vector<std::unique_ptr<Compressor>>& idle = idle_[slot(c)];
  std::unique_ptr<Compressor> ctx;
  if (!idle.empty()) {
    ctx = std::move(idle.back());
    idle.pop_back();
  } else {
    ctx = std::make_unique<Compressor>(levels_);
  }
  if (!ctx->begin(c)) return nullptr;  // out of memory: ctx is freed
  Compressor* p = ctx.get();
  busy_.push_back(std::move(ctx));
  ++in_use_;
  return p;
}

void CompressorPool::release(Compressor* c) {
  if (!c) return;
  for (size_t i = 0; i < busy_.size(); ++i) {
    if (busy_[i].get() != c) continue;
    std::unique_ptr<Compressor> ctx = std::move(busy_[i]);
    busy_[i] = std::move(busy_.back());
    busy_.pop_back();
    --in_use_;
    const Coding coding = ctx->coding();
    if (coding == Coding::Identity) return;  // never begun: just free it
    std::vector<std::unique_ptr<Compressor>>& idle = idle_[slot(coding)];
    if (idle.size() < limits_.max_idle) idle.push_back(std::move(ctx));
    return;
  }
}

size_t CompressorPool::idle(Coding c) const {
  return c == Coding::Identity ? 0 : idle_[slot(c)].size();
}

size_t CompressorPool::memory_bytes() const {
  size_t n = 0;
  for (const auto& ctx : sync_) {
    if (ctx) n += ctx->memory_bytes();
  }
  for (const auto& list : idle_) {
    for (const auto& ctx : list) n += ctx->memory_bytes();
  }
  for (const auto& ctx : busy_) n += ctx->memory_bytes();
  return n;
}

}  // namespace pounce::pipeline
