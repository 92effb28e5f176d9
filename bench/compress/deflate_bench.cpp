// Which deflate for Content-Encoding: gzip (issue 15 §4): zlib, libdeflate
// and ISA-L igzip on the same 58 KiB JSON body (tests/support/
// json_records.h), each at the levels that bracket nginx's output (zlib
// level 1, nginx's default gzip_comp_level), beside zstd level 3 as the
// host sets it up. Libraries are called directly, with their context kept
// between responses as a server keeps it, so the figures are the codecs'.
//
// - <Lib>/level:L/chunk:0: one complete body, as a sync or blocking
//   response is compressed (libdeflate: one whole-buffer call).
// - <Lib>/level:L/chunk:N: the same body in N-byte chunks, each ended by a
//   sync flush (every chunk decodable on arrival), then the trailer: what a
//   streamed response costs. libdeflate has no streaming API.
// - Host/<coding>: pounce::pipeline::Compressor::compress_whole, the code a
//   sync response runs, at the host's default levels.
//
// Counters: `out_B` = bytes out per response (gzip header and trailer
// included), bytes/s of input. CPU per response is the time column.
//
//   build/bench/deflate_bench --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true   (one command line)
#include <benchmark/benchmark.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "json_records.h"
#include "pipeline/compressor.h"

namespace {

const std::string& body() {
  static const std::string b =
      pounce::testdata::json_records(pounce::testdata::kJsonBodySize);
  return b;
}

std::vector<uint8_t>& out_buffer() {
  static std::vector<uint8_t> out(2 * body().size() + 4096);
  return out;
}

void report(benchmark::State& state, size_t out_bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body().size()));
  state.counters["out_B"] = static_cast<double>(out_bytes);
  state.counters["in_B"] = static_cast<double>(body().size());
}

// zlib with nginx's parameters for a body of this size (windowBits 15,
// memLevel 8; nginx lowers them only for bodies under 16 KiB).
size_t zlib_run(z_stream& z, const std::string& in, size_t chunk) {
  std::vector<uint8_t>& out = out_buffer();
  deflateReset(&z);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  size_t off = 0;
  do {
    const size_t n = chunk ? std::min(chunk, in.size() - off) : in.size();
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + off));
    z.avail_in = static_cast<uInt>(n);
    off += n;
    deflate(&z, chunk ? Z_SYNC_FLUSH : Z_FINISH);
  } while (off < in.size());
  if (chunk) deflate(&z, Z_FINISH);
  return out.size() - z.avail_out;
}

void Zlib(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const size_t chunk = static_cast<size_t>(state.range(1));
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  size_t n = 0;
  for (auto _ : state) {
    n = zlib_run(z, body(), chunk);
    benchmark::DoNotOptimize(out_buffer().data());
  }
  deflateEnd(&z);
  report(state, n);
}

void Libdeflate(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  libdeflate_compressor* c = libdeflate_alloc_compressor(level);
  std::vector<uint8_t>& out = out_buffer();
  size_t n = 0;
  for (auto _ : state) {
    n = libdeflate_gzip_compress(c, body().data(), body().size(), out.data(),
                                 out.size());
    benchmark::DoNotOptimize(out.data());
  }
  libdeflate_free_compressor(c);
  if (n == 0) state.SkipWithError("libdeflate_gzip_compress failed");
  report(state, n);
}

size_t isal_level_buf_size(int level) {
  switch (level) {
    case 1:
      return ISAL_DEF_LVL1_DEFAULT;
    case 2:
      return ISAL_DEF_LVL2_DEFAULT;
    case 3:
      return ISAL_DEF_LVL3_DEFAULT;
    default:
      return 0;
  }
}

void Isal(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const size_t chunk = static_cast<size_t>(state.range(1));
  auto z = std::make_unique<isal_zstream>();
  std::vector<uint8_t> level_buf(isal_level_buf_size(level));
  std::vector<uint8_t>& out = out_buffer();
  const std::string& in = body();
  size_t n = 0;
  isal_deflate_init(z.get());
  for (auto _ : state) {
    isal_deflate_reset(z.get());
    z->level = static_cast<uint32_t>(level);
    z->level_buf = level_buf.empty() ? nullptr : level_buf.data();
    z->level_buf_size = static_cast<uint32_t>(level_buf.size());
    z->gzip_flag = IGZIP_GZIP;
    z->next_out = out.data();
    z->avail_out = static_cast<uint32_t>(out.size());
    size_t off = 0;
    do {
      const size_t k = chunk ? std::min(chunk, in.size() - off) : in.size();
      z->next_in =
          reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()) + off);
      z->avail_in = static_cast<uint32_t>(k);
      off += k;
      z->flush = chunk ? SYNC_FLUSH : NO_FLUSH;
      z->end_of_stream = !chunk && off == in.size();
      if (isal_deflate(z.get()) != COMP_OK) {
        state.SkipWithError("isal_deflate failed");
        return;
      }
    } while (off < in.size());
    if (chunk) {
      z->avail_in = 0;
      z->flush = NO_FLUSH;
      z->end_of_stream = 1;
      isal_deflate(z.get());
    }
    n = out.size() - z->avail_out;
    benchmark::DoNotOptimize(out.data());
  }
  report(state, n);
}

void Zstd(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(1));
  ZSTD_CCtx* z = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel,
                         static_cast<int>(state.range(0)));
  ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, pounce::pipeline::kZstdWindowLog);
  ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, pounce::pipeline::kZstdHashLog);
  ZSTD_CCtx_setParameter(z, ZSTD_c_chainLog, pounce::pipeline::kZstdChainLog);
  std::vector<uint8_t>& out = out_buffer();
  const std::string& in = body();
  size_t n = 0;
  for (auto _ : state) {
    ZSTD_CCtx_reset(z, ZSTD_reset_session_only);
    ZSTD_outBuffer dst{out.data(), out.size(), 0};
    size_t off = 0;
    do {
      const size_t k = chunk ? std::min(chunk, in.size() - off) : in.size();
      ZSTD_inBuffer src{in.data() + off, k, 0};
      off += k;
      ZSTD_compressStream2(z, &dst, &src, chunk ? ZSTD_e_flush : ZSTD_e_end);
    } while (off < in.size());
    if (chunk) {
      ZSTD_inBuffer none{nullptr, 0, 0};
      ZSTD_compressStream2(z, &dst, &none, ZSTD_e_end);
    }
    n = dst.pos;
    benchmark::DoNotOptimize(out.data());
  }
  ZSTD_freeCCtx(z);
  report(state, n);
}

void Host(benchmark::State& state, pounce::pipeline::Coding coding) {
  pounce::pipeline::Compressor comp;
  pounce::ByteBuffer out(1 << 20);
  size_t n = 0;
  for (auto _ : state) {
    out.clear();
    if (!comp.compress_whole(coding, body(), out)) {
      state.SkipWithError("compress_whole failed");
      return;
    }
    n = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  report(state, n);
}

// Arguments: level, chunk (0 = the whole body at once).
BENCHMARK(Zlib)->ArgNames({"level", "chunk"})->ArgsProduct({{1, 6}, {0}});
BENCHMARK(Libdeflate)
    ->ArgNames({"level", "chunk"})
    ->ArgsProduct({{1, 2, 3, 4, 5, 6}, {0}});
BENCHMARK(Isal)->ArgNames({"level", "chunk"})->ArgsProduct({{0, 1, 2, 3}, {0}});
BENCHMARK(Zstd)->ArgNames({"level", "chunk"})->ArgsProduct({{1, 3}, {0}});
// Streamed: 64 B (an SSE event), 1 KiB and 16 KiB chunks, each
// sync-flushed.
BENCHMARK(Zlib)
    ->ArgNames({"level", "chunk"})
    ->ArgsProduct({{1}, {64, 1024, 16384}});
BENCHMARK(Isal)
    ->ArgNames({"level", "chunk"})
    ->ArgsProduct({{0, 1, 2, 3}, {64, 1024, 16384}});
BENCHMARK(Zstd)
    ->ArgNames({"level", "chunk"})
    ->ArgsProduct({{3}, {64, 1024, 16384}});
BENCHMARK_CAPTURE(Host, gzip, pounce::pipeline::Coding::Gzip);
BENCHMARK_CAPTURE(Host, zstd, pounce::pipeline::Coding::Zstd);

}  // namespace

BENCHMARK_MAIN();
