// Compressor round trips through real decoders (ARCHITECTURE.md §5
// "Flushing" and "Memory").
#include "pipeline/compressor.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_corpus.h"

namespace pounce::pipeline {
namespace {

using testing::binary_bytes;
using testing::decode_all;
using testing::Decoder;
using testing::html_text;

// The chunk stream a plugin might write: small and large, text and binary.
std::vector<std::string> chunk_stream() {
  std::vector<std::string> chunks;
  uint64_t seed = 1;
  for (size_t size : {64, 1024, 16384, 64, 16384, 1024}) {
    chunks.push_back(html_text(size, seed++));
  }
  chunks.push_back(binary_bytes(64, seed++));
  chunks.push_back(binary_bytes(1024, seed++));
  chunks.push_back(binary_bytes(16384, seed++));
  chunks.push_back(html_text(200000, seed++));  // more than the window
  chunks.push_back(html_text(1, seed++));
  return chunks;
}

class PerCoding : public ::testing::TestWithParam<Coding> {};

std::string coding_test_name(const ::testing::TestParamInfo<Coding>& info) {
  return std::string(info.param == Coding::Zstd ? "Zstd" : "Gzip");
}

// The per-chunk flush property: a client that has received the bytes
// produced for chunks 1..k can decode exactly chunks 1..k, no more, no less.
TEST_P(PerCoding, EachChunkDecodesAsSoonAsItArrives) {
  const Coding c = GetParam();
  Compressor comp;
  ASSERT_TRUE(comp.begin(c));
  Decoder dec(c);
  ByteBuffer out;
  for (const std::string& chunk : chunk_stream()) {
    out.clear();
    ASSERT_TRUE(comp.compress_chunk(chunk, out));
    ASSERT_FALSE(out.empty());
    std::string decoded;
    ASSERT_TRUE(dec.feed(out.view(), decoded));
    ASSERT_EQ(decoded.size(), chunk.size());
    EXPECT_TRUE(decoded == chunk);
    EXPECT_FALSE(dec.ended());
  }
  out.clear();
  ASSERT_TRUE(comp.finish(out));
  std::string tail;
  ASSERT_TRUE(dec.feed(out.view(), tail));
  EXPECT_EQ(tail, "");
  EXPECT_TRUE(dec.ended());
}

TEST_P(PerCoding, WholeStreamDecodesInOneGo) {
  const Coding c = GetParam();
  Compressor comp;
  ASSERT_TRUE(comp.begin(c));
  ByteBuffer out;
  std::string expected;
  for (const std::string& chunk : chunk_stream()) {
    ASSERT_TRUE(comp.compress_chunk(chunk, out));
    expected += chunk;
  }
  ASSERT_TRUE(comp.finish(out));
  std::string decoded;
  ASSERT_TRUE(decode_all(c, out.view(), decoded));
  EXPECT_TRUE(decoded == expected);
}

TEST_P(PerCoding, CompressWholeRoundTrips) {
  const Coding c = GetParam();
  Compressor comp;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{600}, size_t{16384}, size_t{300000}}) {
    const std::string body = html_text(size, size);
    ByteBuffer out;
    ASSERT_TRUE(comp.compress_whole(c, body, out));
    std::string decoded;
    ASSERT_TRUE(decode_all(c, out.view(), decoded)) << size;
    EXPECT_TRUE(decoded == body) << size;
  }
}

TEST_P(PerCoding, CompressWholeShrinksHtml) {
  const Coding c = GetParam();
  Compressor comp;
  const std::string body = html_text(16384, 7);
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_whole(c, body, out));
  EXPECT_LT(out.size(), body.size() / 3);
}

TEST_P(PerCoding, CompressWholeUsesTheBoundCoding) {
  const Coding c = GetParam();
  Compressor comp;
  ASSERT_TRUE(comp.begin(c));
  const std::string body = html_text(5000, 3);
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_whole(body, out));
  EXPECT_EQ(comp.coding(), c);
  std::string decoded;
  ASSERT_TRUE(decode_all(c, out.view(), decoded));
  EXPECT_TRUE(decoded == body);
}

TEST_P(PerCoding, AppendsWithoutClearingTheOutput) {
  const Coding c = GetParam();
  Compressor comp;
  ByteBuffer out;
  out.append("HEAD");
  ASSERT_TRUE(comp.compress_whole(c, "hello hello hello", out));
  ASSERT_EQ(out.view().substr(0, 4), "HEAD");
  std::string decoded;
  ASSERT_TRUE(decode_all(c, out.view().substr(4), decoded));
  EXPECT_EQ(decoded, "hello hello hello");
}

TEST_P(PerCoding, FinishWithoutChunksIsAnEmptyValidStream) {
  const Coding c = GetParam();
  Compressor comp;
  ASSERT_TRUE(comp.begin(c));
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_chunk("", out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(comp.finish(out));
  std::string decoded;
  ASSERT_TRUE(decode_all(c, out.view(), decoded));
  EXPECT_EQ(decoded, "");
}

TEST_P(PerCoding, EmptyChunkBetweenChunksAddsNothing) {
  const Coding c = GetParam();
  Compressor comp;
  ASSERT_TRUE(comp.begin(c));
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_chunk("abc", out));
  const size_t before = out.size();
  ASSERT_TRUE(comp.compress_chunk("", out));
  EXPECT_EQ(out.size(), before);
  ASSERT_TRUE(comp.compress_chunk("def", out));
  ASSERT_TRUE(comp.finish(out));
  std::string decoded;
  ASSERT_TRUE(decode_all(c, out.view(), decoded));
  EXPECT_EQ(decoded, "abcdef");
}

// A loop's context serves response after response; nothing of one may leak
// into the next (history, flags, a half-finished stream).
TEST_P(PerCoding, ReusedContextGivesCorrectOutputAcrossResponses) {
  const Coding c = GetParam();
  Compressor comp;
  for (int i = 0; i < 60; ++i) {
    const std::string a = html_text(100 + i * 97, i);
    const std::string b = binary_bytes(50 + i, i);
    ByteBuffer out;
    if (i % 3 == 0) {
      ASSERT_TRUE(comp.compress_whole(c, a + b, out));
    } else {
      ASSERT_TRUE(comp.begin(c));
      ASSERT_TRUE(comp.compress_chunk(a, out));
      ASSERT_TRUE(comp.compress_chunk(b, out));
      // Every third streamed response is abandoned mid-way, as when the
      // client leaves; the next begin() must start clean.
      if (i % 3 == 2) continue;
      ASSERT_TRUE(comp.finish(out));
    }
    std::string decoded;
    ASSERT_TRUE(decode_all(c, out.view(), decoded)) << i;
    EXPECT_TRUE(decoded == a + b) << i;
  }
}

TEST_P(PerCoding, RefusesChunksAfterFinish) {
  const Coding c = GetParam();
  Compressor comp;
  ASSERT_TRUE(comp.begin(c));
  ByteBuffer out;
  ASSERT_TRUE(comp.finish(out));
  EXPECT_FALSE(comp.compress_chunk("late", out));
  EXPECT_FALSE(comp.finish(out));
  ASSERT_TRUE(comp.begin(c));
  EXPECT_TRUE(comp.compress_chunk("again", out));
}

TEST_P(PerCoding, ReportsItsMemoryAndFreesIt) {
  const Coding c = GetParam();
  Compressor comp;
  EXPECT_EQ(comp.memory_bytes(), 0u);
  ASSERT_TRUE(comp.begin(c));
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_chunk(html_text(1024, 1), out));
  const size_t used = comp.memory_bytes();
  // gzip: igzip's stream (two 32 KiB windows and a hash table) and its
  // "small" level-1 buffer, about 165 KiB. zstd with windowLog 17 and
  // tables sized to it: about 1.06 MiB, far below the 3.7 MB of a default
  // streaming context (ARCHITECTURE.md §5), yet at least the window.
  if (c == Coding::Gzip) {
    EXPECT_GE(used, size_t{128} << 10);
    EXPECT_LT(used, size_t{200} << 10);
  } else {
    EXPECT_GE(used, size_t{128} << 10);
    EXPECT_LT(used, size_t{1200} << 10);
  }
  comp.reset();
  EXPECT_EQ(comp.memory_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Codings, PerCoding,
                         ::testing::Values(Coding::Zstd, Coding::Gzip),
                         coding_test_name);

TEST(Compressor, RefusesIdentity) {
  Compressor comp;
  EXPECT_FALSE(comp.begin(Coding::Identity));
  ByteBuffer out;
  EXPECT_FALSE(comp.compress_whole(Coding::Identity, "x", out));
  EXPECT_TRUE(out.empty());
}

TEST(Compressor, RefusesChunksBeforeBegin) {
  Compressor comp;
  ByteBuffer out;
  EXPECT_FALSE(comp.compress_chunk("x", out));
  EXPECT_FALSE(comp.finish(out));
}

TEST(Compressor, SwitchingCodingHoldsOnlyOneCodec) {
  Compressor comp;
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_whole(Coding::Zstd, html_text(4096, 1), out));
  const size_t zstd_bytes = comp.memory_bytes();
  out.clear();
  ASSERT_TRUE(comp.compress_whole(Coding::Gzip, html_text(4096, 2), out));
  EXPECT_NE(comp.memory_bytes(), zstd_bytes);
  EXPECT_LT(comp.memory_bytes(), size_t{300} << 10);
  std::string decoded;
  ASSERT_TRUE(decode_all(Coding::Gzip, out.view(), decoded));
  EXPECT_TRUE(decoded == html_text(4096, 2));
  out.clear();
  ASSERT_TRUE(comp.compress_whole(Coding::Zstd, "back to zstd", out));
  decoded.clear();
  ASSERT_TRUE(decode_all(Coding::Zstd, out.view(), decoded));
  EXPECT_EQ(decoded, "back to zstd");
}

TEST(Compressor, GzipOutputHasTheGzipWrapper) {
  Compressor comp;
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_whole(Coding::Gzip, "hello", out));
  ASSERT_GE(out.size(), 18u);  // 10-byte header + 8-byte trailer
  EXPECT_EQ(static_cast<unsigned char>(out.data()[0]), 0x1F);
  EXPECT_EQ(static_cast<unsigned char>(out.data()[1]), 0x8B);
  EXPECT_EQ(out.data()[2], 8);  // deflate
}

TEST(Compressor, GzipChunksEndWithASyncFlushMarker) {
  Compressor comp;
  ASSERT_TRUE(comp.begin(Coding::Gzip));
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_chunk(html_text(1000, 1), out));
  ASSERT_GE(out.size(), 4u);
  EXPECT_EQ(out.view().substr(out.size() - 4),
            std::string_view("\0\0\xff\xff", 4));
}

// The frame header of a stream advertises the 128 KiB window, so that a
// decoder limited to it (browsers allow 8 MB; RFC 9659) never refuses us.
TEST(Compressor, ZstdStreamAdvertisesA128KiBWindow) {
  Compressor comp;
  ASSERT_TRUE(comp.begin(Coding::Zstd));
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_chunk(html_text(300000, 5), out));
  ASSERT_TRUE(comp.finish(out));
  ZSTD_frameHeader fh{};
  ASSERT_EQ(ZSTD_getFrameHeader(&fh, out.data(), out.size()), 0u);
  EXPECT_EQ(fh.windowSize, 1u << 17);
  EXPECT_EQ(fh.frameContentSize, ZSTD_CONTENTSIZE_UNKNOWN);
}

TEST(Compressor, ZstdWholeBodyRecordsItsSizeAndSmallWindow) {
  Compressor comp;
  ByteBuffer out;
  const std::string big = html_text(300000, 6);
  ASSERT_TRUE(comp.compress_whole(Coding::Zstd, big, out));
  ZSTD_frameHeader fh{};
  ASSERT_EQ(ZSTD_getFrameHeader(&fh, out.data(), out.size()), 0u);
  EXPECT_EQ(fh.frameContentSize, big.size());
  EXPECT_LE(fh.windowSize, 1u << 17);

  out.clear();
  ASSERT_TRUE(comp.compress_whole(Coding::Zstd, "tiny body", out));
  ASSERT_EQ(ZSTD_getFrameHeader(&fh, out.data(), out.size()), 0u);
  EXPECT_EQ(fh.frameContentSize, 9u);
  EXPECT_LE(fh.windowSize, 1u << 17);
}

}  // namespace
}  // namespace pounce::pipeline
