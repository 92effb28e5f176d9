// zstd and gzip behind one small interface (compressor.h).
//
// Notes:
// - zstd: parameters are set once per context and survive
//   ZSTD_CCtx_reset(ZSTD_reset_session_only), so begin() is a cheap reset.
//   With ZSTD_e_flush every chunk ends a block, so the decoder can emit it.
//   Without a pledged size the frame header carries a Window_Descriptor of
//   2^17; compress_whole() pledges the size (first call is ZSTD_e_end), so
//   its header carries the content size instead and the window is at most
//   min(2^17, size).
// - gzip: windowBits 15 + 16 selects the gzip wrapper (RFC 1952), which is
//   what "Content-Encoding: gzip" means; deflateReset() keeps the 256 KiB of
//   window and hash memory. Z_SYNC_FLUSH ends each chunk with an empty stored
//   block (00 00 FF FF), byte-aligned, so an inflater emits everything.
// - zlib counts its memory through our zalloc/zfree; each block carries its
//   size in a header, since zfree is not told the size.
#include "pipeline/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace pounce::pipeline {
namespace {

// The largest slice handed to zlib at once (avail_in is 32-bit).
constexpr size_t kZlibSlice = size_t{1} << 30;
// Output room beyond a bound: block/flush markers, zstd frame header.
constexpr size_t kSlack = 64;
constexpr size_t kHeader = alignof(std::max_align_t);

ZSTD_CCtx* new_zstd_context() {
  ZSTD_CCtx* z = ZSTD_createCCtx();
  if (!z) return nullptr;
  // The level chooses every parameter not pinned here; pinned ones stick.
  const std::pair<ZSTD_cParameter, int> params[] = {
      {ZSTD_c_compressionLevel, kZstdLevel},
      {ZSTD_c_windowLog, kZstdWindowLog},
      {ZSTD_c_hashLog, kZstdHashLog},
      {ZSTD_c_chainLog, kZstdChainLog},
  };
  for (const auto& [param, value] : params) {
    if (ZSTD_isError(ZSTD_CCtx_setParameter(z, param, value))) {
      ZSTD_freeCCtx(z);
      return nullptr;
    }
  }
  return z;
}

}  // namespace

void* Compressor::zalloc(void* opaque, unsigned items, unsigned size) {
  const size_t n = static_cast<size_t>(items) * size;  // no overflow: 64-bit
  auto* p = static_cast<unsigned char*>(malloc(n + kHeader));
  if (!p) return Z_NULL;
  *reinterpret_cast<size_t*>(p) = n;
  static_cast<Compressor*>(opaque)->gzip_bytes_ += n;
  return p + kHeader;
}

void Compressor::zfree(void* opaque, void* ptr) {
  if (!ptr) return;
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  static_cast<Compressor*>(opaque)->gzip_bytes_ -=
      *reinterpret_cast<size_t*>(p);
  free(p);
}

Compressor::~Compressor() {
  reset();
}

void Compressor::reset() {
  if (zstd_) {
    ZSTD_freeCCtx(zstd_);
    zstd_ = nullptr;
  }
  if (gzip_) {
    deflateEnd(gzip_);
    delete gzip_;
    gzip_ = nullptr;
  }
  state_ = State::Idle;
}

bool Compressor::begin(Coding c) {
  state_ = State::Failed;
  switch (c) {
    case Coding::Zstd:
      if (gzip_) reset();
      if (zstd_) {
        if (ZSTD_isError(ZSTD_CCtx_reset(zstd_, ZSTD_reset_session_only))) {
          return false;
        }
      } else {
        zstd_ = new_zstd_context();
        if (!zstd_) return false;
      }
      break;
    case Coding::Gzip:
      if (zstd_) reset();
      if (gzip_) {
        if (deflateReset(gzip_) != Z_OK) return false;
      } else {
        gzip_ = new (std::nothrow) z_stream{};
        if (!gzip_) return false;
        gzip_->zalloc = &Compressor::zalloc;
        gzip_->zfree = &Compressor::zfree;
        gzip_->opaque = this;
        if (deflateInit2(gzip_, kGzipLevel, Z_DEFLATED, kGzipWindowBits + 16,
                         kGzipMemLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
          delete gzip_;
          gzip_ = nullptr;
          return false;
        }
      }
      break;
    case Coding::Identity:
      return false;
  }
  coding_ = c;
  state_ = State::Open;
  return true;
}

bool Compressor::zstd_run(std::string_view in, int directive, ByteBuffer& out) {
  static const char kEmpty = 0;
  ZSTD_inBuffer src{in.empty() ? &kEmpty : in.data(), in.size(), 0};
  size_t room = ZSTD_compressBound(in.size()) + kSlack;
  while (true) {
    char* dst_p = out.prepare(room);
    if (!dst_p) return false;  // no memory: the caller sends it plain
    ZSTD_outBuffer dst{dst_p, room, 0};
    const size_t left = ZSTD_compressStream2(
        zstd_, &dst, &src, static_cast<ZSTD_EndDirective>(directive));
    out.commit(dst.pos);
    if (ZSTD_isError(left)) return false;
    // With e_flush and e_end the call returns only once the input is
    // consumed and flushed (0) or the output is full (bytes still to go).
    if (left == 0 && src.pos == src.size) return true;
    room = std::max(left, size_t{4096});
  }
}

bool Compressor::gzip_run(std::string_view in, int flush, ByteBuffer& out) {
  z_stream* z = gzip_;
  const char* p = in.data();
  size_t rest = in.size();
  do {
    const size_t slice = std::min(rest, kZlibSlice);
    rest -= slice;
    const int mode = rest == 0 ? flush : Z_NO_FLUSH;
    z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
    z->avail_in = static_cast<uInt>(slice);
    p += slice;
    size_t room = deflateBound(z, slice) + kSlack;
    while (true) {
      room = std::min(room, size_t{UINT_MAX});
      char* dst = out.prepare(room);
      if (!dst) return false;  // no memory: the caller sends it plain
      z->next_out = reinterpret_cast<Bytef*>(dst);
      z->avail_out = static_cast<uInt>(room);
      const int r = deflate(z, mode);
      out.commit(room - z->avail_out);
      if (r == Z_STREAM_END) return true;  // only after Z_FINISH
      if (r != Z_OK && r != Z_BUF_ERROR) return false;
      // Done with this slice once zlib stopped short of filling the output
      // (zlib's rule for a complete flush) with no input left. Z_FINISH is
      // done only at Z_STREAM_END.
      if (z->avail_out != 0 && z->avail_in == 0 && mode != Z_FINISH) break;
      if (r == Z_BUF_ERROR && z->avail_out != 0) return false;  // no progress
      room = 4096;
    }
  } while (rest != 0);
  return true;
}

bool Compressor::compress_chunk(std::string_view in, ByteBuffer& out) {
  if (state_ != State::Open) return false;
  if (in.empty()) return true;
  const bool ok = coding_ == Coding::Zstd ? zstd_run(in, ZSTD_e_flush, out)
                                          : gzip_run(in, Z_SYNC_FLUSH, out);
  if (!ok) state_ = State::Failed;
  return ok;
}

bool Compressor::finish(ByteBuffer& out) {
  if (state_ != State::Open) return false;
  const bool ok = coding_ == Coding::Zstd ? zstd_run({}, ZSTD_e_end, out)
                                          : gzip_run({}, Z_FINISH, out);
  state_ = ok ? State::Finished : State::Failed;
  return ok;
}

bool Compressor::compress_whole(Coding c, std::string_view in,
                                ByteBuffer& out) {
  if (!begin(c)) return false;
  const bool ok = c == Coding::Zstd ? zstd_run(in, ZSTD_e_end, out)
                                    : gzip_run(in, Z_FINISH, out);
  state_ = ok ? State::Finished : State::Failed;
  return ok;
}

bool Compressor::compress_whole(std::string_view in, ByteBuffer& out) {
  return compress_whole(coding_, in, out);
}

size_t Compressor::memory_bytes() const {
  if (zstd_) return ZSTD_sizeof_CCtx(zstd_);
  if (gzip_) return sizeof(z_stream) + gzip_bytes_;
  return 0;
}

}  // namespace pounce::pipeline
