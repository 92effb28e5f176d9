// Compression cost of the response pipeline (ARCHITECTURE.md §5):
//
// - ChunkFlush: one streaming context, chunks of 64 B / 1 KiB / 16 KiB of
//   HTML-like text, each compressed and flushed (ZSTD_e_flush /
//   Z_SYNC_FLUSH) as a streamed response does. Consecutive chunks are
//   consecutive slices of one 1 MiB document, so the history is realistic
//   and no chunk repeats inside the window; at the document's end the
//   response finishes and a new one begins (included in the time).
// - Whole: compress_whole of a 16 KiB body, as a sync response does.
//
// Counters: bytes/s of input (SetBytesProcessed), `ratio` = compressed /
// input bytes (lower is better), `ctx_KiB` = memory_bytes() of the context.
//
//   build-compress/bench/compress_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "pipeline/compressor.h"

namespace {

using pounce::ByteBuffer;
using pounce::pipeline::Coding;
using pounce::pipeline::Compressor;

uint64_t next_random(uint64_t& s) {  // splitmix64
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A deterministic page of a product listing: nested markup, attributes,
// prices, dates, ids and prose drawn from a vocabulary, so it compresses
// like real HTML (zstd -3 gives about 4-6x), not like a repeated byte.
std::string html_document(size_t n) {
  static constexpr std::string_view kWords[] = {
      "the",      "server",   "response", "stream",  "of",      "and",
      "request",  "latency",  "chunk",    "for",     "with",    "window",
      "context",  "client",   "header",   "body",    "flush",   "event",
      "loop",     "worker",   "memory",   "buffer",  "socket",  "kernel",
      "plugin",   "reload",   "gzip",     "zstd",    "frame",   "block",
      "a",        "is",       "to",       "in",      "on",      "that",
      "delivers", "measures", "compares", "returns", "quickly", "rarely",
      "every",    "each",     "another",  "fastest", "simple",  "careful"};
  static constexpr std::string_view kClasses[] = {
      "card", "card-body", "price", "title", "muted", "badge", "row", "col-6"};
  static constexpr std::string_view kTags[] = {"p", "span", "li", "td", "em"};
  constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>Catalogue</title><link rel=\"stylesheet\" "
      "href=\"/static/site.css\"></head>\n<body>\n<ul class=\"items\">\n";
  s.reserve(n + 512);
  uint64_t r = 42;
  auto word = [&] { s += kWords[next_random(r) % kWordCount]; };
  while (s.size() < n) {
    const uint64_t id = 10000 + next_random(r) % 90000;
    s += "<li class=\"";
    s += kClasses[next_random(r) % 8];
    s += "\" data-id=\"";
    s += std::to_string(id);
    s += "\"><a href=\"/product/";
    s += std::to_string(id);
    s += "?ref=list&amp;page=";
    s += std::to_string(next_random(r) % 50);
    s += "\"><h3>";
    const int title = 2 + static_cast<int>(next_random(r) % 4);
    for (int i = 0; i < title; ++i) {
      if (i) s += ' ';
      word();
    }
    s += "</h3></a>\n  <";
    const std::string_view tag = kTags[next_random(r) % 5];
    s += tag;
    s += '>';
    const int prose = 6 + static_cast<int>(next_random(r) % 24);
    for (int i = 0; i < prose; ++i) {
      if (i) s += ' ';
      word();
    }
    s += ".</";
    s += tag;
    s += ">\n  <span class=\"price\">$";
    s += std::to_string(next_random(r) % 500);
    s += '.';
    s += std::to_string(10 + next_random(r) % 90);
    s += "</span> <time datetime=\"2026-";
    s += std::to_string(10 + next_random(r) % 3);
    s += '-';
    s += std::to_string(10 + next_random(r) % 19);
    s += "\">updated</time></li>\n";
  }
  s.resize(n);
  return s;
}

const std::string& document() {
  static const std::string doc = html_document(size_t{1} << 20);
  return doc;
}

void ChunkFlush(benchmark::State& state, Coding coding) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  const std::string& doc = document();
  Compressor comp;
  ByteBuffer out(1 << 20);
  if (!comp.begin(coding)) {
    state.SkipWithError("begin failed");
    return;
  }
  size_t offset = 0;
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  for (auto _ : state) {
    if (offset + chunk > doc.size()) {
      out.clear();
      comp.finish(out);
      out_bytes += out.size();
      comp.begin(coding);
      offset = 0;
    }
    out.clear();
    if (!comp.compress_chunk({doc.data() + offset, chunk}, out)) {
      state.SkipWithError("compress_chunk failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    offset += chunk;
    in_bytes += chunk;
    out_bytes += out.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(in_bytes));
  state.counters["ratio"] = static_cast<double>(out_bytes) /
                            static_cast<double>(in_bytes ? in_bytes : 1);
  state.counters["ctx_KiB"] = static_cast<double>(comp.memory_bytes()) / 1024;
}

void Whole(benchmark::State& state, Coding coding) {
  const size_t body = static_cast<size_t>(state.range(0));
  const std::string& doc = document();
  Compressor comp;
  ByteBuffer out(1 << 20);
  size_t offset = 0;
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  for (auto _ : state) {
    if (offset + body > doc.size()) offset = 0;
    out.clear();
    if (!comp.compress_whole(coding, {doc.data() + offset, body}, out)) {
      state.SkipWithError("compress_whole failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    offset += body;
    in_bytes += body;
    out_bytes += out.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(in_bytes));
  state.counters["ratio"] = static_cast<double>(out_bytes) /
                            static_cast<double>(in_bytes ? in_bytes : 1);
  state.counters["ctx_KiB"] = static_cast<double>(comp.memory_bytes()) / 1024;
}

// The argument is the chunk or body size in bytes.
BENCHMARK_CAPTURE(ChunkFlush, zstd, Coding::Zstd)
    ->Arg(64)
    ->Arg(1024)
    ->Arg(16384);
BENCHMARK_CAPTURE(ChunkFlush, gzip, Coding::Gzip)
    ->Arg(64)
    ->Arg(1024)
    ->Arg(16384);
BENCHMARK_CAPTURE(Whole, zstd, Coding::Zstd)->Arg(16384);
BENCHMARK_CAPTURE(Whole, gzip, Coding::Gzip)->Arg(16384);

}  // namespace

BENCHMARK_MAIN();
