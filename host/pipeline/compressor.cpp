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
// - igzip: gzip_flag IGZIP_GZIP writes the RFC 1952 header and trailer;
//   isal_deflate_reset() keeps the stream's memory but also its
//   end_of_stream and flush, so begin() sets those again. SYNC_FLUSH ends
//   each chunk with an empty stored block (00 00 FF FF), byte-aligned, so an
//   inflater emits everything. The level buffer is igzip's "small" size:
//   it bounds the tokens of one block, and a streamed chunk is rarely
//   larger; the default would triple a stream's memory.
// - libdeflate: one call compresses the whole body into a buffer of
//   libdeflate_gzip_compress_bound() bytes. Its memory is counted through
//   the allocator installed once (libdeflate_set_memory_allocator), which
//   adds each allocation to a per-thread tally around our own calls.
#include "pipeline/compressor.h"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

namespace pounce::pipeline {
namespace {

// The largest slice handed to igzip at once (avail_in is 32-bit).
constexpr size_t kSlice = size_t{1} << 30;
// Output room beyond a bound: block/flush markers, headers, trailers.
constexpr size_t kSlack = 64;

ZSTD_CCtx* new_zstd_context(int level) {
  ZSTD_CCtx* z = ZSTD_createCCtx();
  if (!z) return nullptr;
  // The level chooses every parameter not pinned here; pinned ones stick.
  const std::pair<ZSTD_cParameter, int> params[] = {
      {ZSTD_c_compressionLevel, level},
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

size_t igzip_level_buf_size(int level) {
  switch (level) {
    case 1:
      return ISAL_DEF_LVL1_SMALL;
    case 2:
      return ISAL_DEF_LVL2_SMALL;
    default:
      return ISAL_DEF_LVL3_SMALL;
  }
}

// Bytes libdeflate allocated on this thread since the tally was zeroed.
// Per thread, since every loop allocates its own compressors.
thread_local size_t t_libdeflate_tally = 0;

void* libdeflate_counting_malloc(size_t n) {
  void* p = malloc(n);
  if (p) t_libdeflate_tally += n;
  return p;
}

// libdeflate's allocator is process-wide and may change only while no
// compressor exists: it is set before the first one this process makes,
// once (call_once orders the loops that race to make theirs).
void install_libdeflate_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    libdeflate_set_memory_allocator(&libdeflate_counting_malloc, &free);
  });
}

}  // namespace

int igzip_level(int gzip_level) {
  if (gzip_level <= 1) return 1;
  return gzip_level <= 5 ? 2 : 3;
}

Compressor::~Compressor() {
  reset();
}

void Compressor::free_zstd() {
  if (zstd_) ZSTD_freeCCtx(zstd_);
  zstd_ = nullptr;
}

void Compressor::free_igzip() {
  free(igzip_);  // a C struct and its level buffer, from malloc
  igzip_ = nullptr;
  igzip_bytes_ = 0;
}

void Compressor::free_libdeflate() {
  if (libdeflate_) libdeflate_free_compressor(libdeflate_);
  libdeflate_ = nullptr;
  libdeflate_bytes_ = 0;
}

void Compressor::reset() {
  free_zstd();
  free_igzip();
  free_libdeflate();
  state_ = State::Idle;
}

bool Compressor::prepare_zstd() {
  free_igzip();
  free_libdeflate();
  if (zstd_) {
    return !ZSTD_isError(ZSTD_CCtx_reset(zstd_, ZSTD_reset_session_only));
  }
  zstd_ = new_zstd_context(levels_.zstd);
  return zstd_ != nullptr;
}

bool Compressor::prepare_igzip() {
  free_zstd();
  free_libdeflate();
  const int level = igzip_level(levels_.gzip);
  if (!igzip_) {
    const size_t level_buf = igzip_level_buf_size(level);
    const size_t bytes = sizeof(isal_zstream) + level_buf;
    igzip_ = static_cast<isal_zstream*>(malloc(bytes));
    if (!igzip_) return false;
    igzip_bytes_ = bytes;
    // Zeroes the fields isal_deflate_init leaves alone (in place: the
    // struct is 80 KiB, too big for a temporary on a loop's stack).
    memset(igzip_, 0, sizeof *igzip_);
    isal_deflate_init(igzip_);
  } else {
    isal_deflate_reset(igzip_);
  }
  isal_zstream* z = igzip_;
  z->level = static_cast<uint32_t>(level);
  z->level_buf = reinterpret_cast<uint8_t*>(z + 1);
  z->level_buf_size = static_cast<uint32_t>(igzip_bytes_ - sizeof *z);
  z->gzip_flag = IGZIP_GZIP;
  z->end_of_stream = 0;
  z->flush = NO_FLUSH;
  return true;
}

bool Compressor::prepare_libdeflate() {
  free_zstd();
  free_igzip();
  if (libdeflate_) return true;
  install_libdeflate_allocator();
  t_libdeflate_tally = 0;
  libdeflate_ = libdeflate_alloc_compressor(levels_.gzip);
  libdeflate_bytes_ = t_libdeflate_tally;
  return libdeflate_ != nullptr;
}

bool Compressor::begin(Coding c) {
  state_ = State::Failed;
  switch (c) {
    case Coding::Zstd:
      if (!prepare_zstd()) return false;
      break;
    case Coding::Gzip:
      if (!prepare_igzip()) return false;
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

bool Compressor::igzip_run(std::string_view in, bool end, ByteBuffer& out) {
  isal_zstream* z = igzip_;
  const char* p = in.data();
  size_t rest = in.size();
  do {
    const size_t slice = std::min(rest, kSlice);
    rest -= slice;
    const bool last = rest == 0;
    z->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(p));
    z->avail_in = static_cast<uint32_t>(slice);
    p += slice;
    // Earlier slices of a huge chunk need no flush of their own.
    z->flush = last && !end ? SYNC_FLUSH : NO_FLUSH;
    z->end_of_stream = last && end;
    // Stored blocks are the worst case: 5 bytes per 64 KiB, plus the header
    // of a dynamic block, the flush marker and the gzip wrapper.
    size_t room = slice + slice / 8192 + 1024 + kSlack;
    while (true) {
      room = std::min(room, size_t{UINT_MAX});
      char* dst = out.prepare(room);
      if (!dst) return false;  // no memory: the caller sends it plain
      z->next_out = reinterpret_cast<uint8_t*>(dst);
      z->avail_out = static_cast<uint32_t>(room);
      const uint32_t before_in = z->avail_in;
      const int r = isal_deflate(z);
      const size_t produced = room - z->avail_out;
      out.commit(produced);
      if (r != COMP_OK) return false;
      // Done with the slice once its input is taken and igzip stopped short
      // of filling the output (its rule for a complete flush); the end is
      // done only when the trailer is out.
      if (z->end_of_stream) {
        if (z->internal_state.state == ZSTATE_END) break;
      } else if (z->avail_in == 0 && z->avail_out != 0) {
        break;
      }
      if (produced == 0 && z->avail_in == before_in) return false;  // stuck
      room = 4096;
    }
  } while (rest != 0);
  return true;
}

bool Compressor::libdeflate_whole(std::string_view in, ByteBuffer& out) {
  const size_t bound =
      libdeflate_gzip_compress_bound(libdeflate_, in.size()) + kSlack;
  char* dst = out.prepare(bound);
  if (!dst) return false;  // no memory: the caller sends it plain
  const size_t n =
      libdeflate_gzip_compress(libdeflate_, in.data(), in.size(), dst, bound);
  if (n == 0) return false;  // cannot happen with the bound's room
  out.commit(n);
  return true;
}

bool Compressor::compress_chunk(std::string_view in, ByteBuffer& out) {
  if (state_ != State::Open) return false;
  if (in.empty()) return true;
  const bool ok = coding_ == Coding::Zstd ? zstd_run(in, ZSTD_e_flush, out)
                                          : igzip_run(in, false, out);
  if (!ok) state_ = State::Failed;
  return ok;
}

bool Compressor::finish(ByteBuffer& out) {
  if (state_ != State::Open) return false;
  const bool ok = coding_ == Coding::Zstd ? zstd_run({}, ZSTD_e_end, out)
                                          : igzip_run({}, true, out);
  state_ = ok ? State::Finished : State::Failed;
  return ok;
}

bool Compressor::compress_whole(Coding c, std::string_view in,
                                ByteBuffer& out) {
  bool ok = false;
  state_ = State::Failed;
  if (c == Coding::Gzip && levels_.gzip == kGzipLevel) {
    // igzip level 1 took 0.25x zlib level 1's CPU on the 58 KiB JSON for
    // 0.95x its output, libdeflate level 1 0.44x for 0.90x
    // (deflate_bench): at nginx's level, the cheapest within 5% of its size.
    ok = begin(c) && igzip_run(in, true, out);
  } else if (c == Coding::Gzip) {
    // Asked for a smaller body than level 1 gives: libdeflate at that level
    // gives it (igzip's best, level 3, was no smaller than libdeflate's 2).
    coding_ = c;
    ok = prepare_libdeflate() && libdeflate_whole(in, out);
  } else if (begin(c)) {
    ok = zstd_run(in, ZSTD_e_end, out);
  }
  state_ = ok ? State::Finished : State::Failed;
  return ok;
}

bool Compressor::compress_whole(std::string_view in, ByteBuffer& out) {
  return compress_whole(coding_, in, out);
}

size_t Compressor::memory_bytes() const {
  size_t n = igzip_bytes_ + libdeflate_bytes_;
  if (zstd_) n += ZSTD_sizeof_CCtx(zstd_);
  return n;
}

}  // namespace pounce::pipeline
