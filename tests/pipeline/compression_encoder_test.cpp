// The gzip encoders behind Content-Encoding: gzip (issue 15 §4): libdeflate
// for whole bodies, ISA-L igzip for streams. Their output is checked with
// zlib's inflater (test_corpus.h), and its size against zlib's own at the
// same level on the 58 KiB JSON body: the issue allows 1.05 x nginx's
// output, which is zlib's.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

#include "json_records.h"
#include "pipeline/compressor.h"
#include "test_corpus.h"

namespace pounce::pipeline {
namespace {

using testing::decode_all;
using testing::Decoder;

const std::string& json() {
  static const std::string b =
      pounce::testdata::json_records(pounce::testdata::kJsonBodySize);
  return b;
}

// zlib's gzip output at `level` with nginx's windowBits 15 and memLevel 8,
// the body given in `chunk`-byte pieces each sync-flushed (0: at once).
size_t zlib_size(std::string_view in, int level, size_t chunk) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(2 * in.size() + 1024, '\0');
  z.next_out = reinterpret_cast<Bytef*>(out.data());
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
  const size_t n = out.size() - z.avail_out;
  deflateEnd(&z);
  return n;
}

size_t whole_size(CompressionLevels levels, Coding c) {
  Compressor comp(levels);
  ByteBuffer out;
  EXPECT_TRUE(comp.compress_whole(c, json(), out));
  std::string decoded;
  EXPECT_TRUE(decode_all(c, out.view(), decoded));
  EXPECT_TRUE(decoded == json());
  return out.size();
}

size_t stream_size(CompressionLevels levels, Coding c, size_t chunk) {
  Compressor comp(levels);
  EXPECT_TRUE(comp.begin(c));
  Decoder dec(c);
  ByteBuffer out;
  size_t total = 0;
  for (size_t off = 0; off < json().size(); off += chunk) {
    const std::string_view piece = std::string_view(json()).substr(off, chunk);
    out.clear();
    EXPECT_TRUE(comp.compress_chunk(piece, out));
    std::string decoded;
    EXPECT_TRUE(dec.feed(out.view(), decoded));
    EXPECT_TRUE(decoded == piece) << off;  // decodable on arrival
    total += out.size();
  }
  out.clear();
  EXPECT_TRUE(comp.finish(out));
  std::string tail;
  EXPECT_TRUE(dec.feed(out.view(), tail));
  EXPECT_TRUE(dec.ended());
  return total + out.size();
}

TEST(GzipEncoder, WholeBodyAtLevel1IsWithin5PercentOfZlibLevel1) {
  const size_t ours = whole_size({.gzip = 1}, Coding::Gzip);
  const size_t zlib = zlib_size(json(), 1, 0);
  EXPECT_LE(ours * 100, zlib * 105) << ours << " vs zlib " << zlib;
}

TEST(GzipEncoder, StreamAtLevel1IsWithin5PercentOfZlibLevel1) {
  for (size_t chunk : {64, 1024, 4096, 16384}) {
    const size_t ours = stream_size({.gzip = 1}, Coding::Gzip, chunk);
    const size_t zlib = zlib_size(json(), 1, chunk);
    EXPECT_LE(ours * 100, zlib * 105)
        << chunk << ": " << ours << " vs zlib " << zlib;
  }
}

TEST(GzipEncoder, HigherLevelsCompressMore) {
  EXPECT_LT(whole_size({.gzip = 9}, Coding::Gzip),
            whole_size({.gzip = 1}, Coding::Gzip));
  EXPECT_LT(stream_size({.gzip = 9}, Coding::Gzip, 16384),
            stream_size({.gzip = 1}, Coding::Gzip, 16384));
  EXPECT_LT(whole_size({.zstd = 19}, Coding::Zstd),
            whole_size({.zstd = 3}, Coding::Zstd));
  EXPECT_LT(stream_size({.zstd = 19}, Coding::Zstd, 16384),
            stream_size({.zstd = 3}, Coding::Zstd, 16384));
}

TEST(GzipEncoder, IgzipLevelsCoverEveryGzipLevel) {
  EXPECT_EQ(igzip_level(1), 1);
  EXPECT_EQ(igzip_level(2), 2);
  EXPECT_EQ(igzip_level(5), 2);
  EXPECT_EQ(igzip_level(6), 3);
  EXPECT_EQ(igzip_level(9), 3);
  for (int level = 1; level <= 9; ++level) {
    SCOPED_TRACE(level);
    stream_size({.gzip = level}, Coding::Gzip, 4096);
    whole_size({.gzip = level}, Coding::Gzip);
  }
}

// A chunk larger than the output room first offered, and one that does not
// compress: the encoder loops until everything is out.
TEST(GzipEncoder, IncompressibleAndLargeChunksRoundTrip) {
  Compressor comp;
  ASSERT_TRUE(comp.begin(Coding::Gzip));
  Decoder dec(Coding::Gzip);
  const std::string noise = testing::binary_bytes(3 << 20, 9);
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_chunk(noise, out));
  std::string decoded;
  ASSERT_TRUE(dec.feed(out.view(), decoded));
  EXPECT_TRUE(decoded == noise);
  out.clear();
  ASSERT_TRUE(comp.finish(out));
  std::string tail;
  ASSERT_TRUE(dec.feed(out.view(), tail));
  EXPECT_TRUE(dec.ended());

  ByteBuffer whole;
  ASSERT_TRUE(comp.compress_whole(Coding::Gzip, noise, whole));
  std::string back;
  ASSERT_TRUE(decode_all(Coding::Gzip, whole.view(), back));
  EXPECT_TRUE(back == noise);
}

TEST(GzipEncoder, WholeBodyContextReportsLibdeflatesMemory) {
  Compressor comp({.gzip = 6});
  ByteBuffer out;
  ASSERT_TRUE(comp.compress_whole(Coding::Gzip, json(), out));
  // libdeflate's compressor for levels 2-9: about 653 KiB.
  EXPECT_GT(comp.memory_bytes(), size_t{256} << 10);
  EXPECT_LT(comp.memory_bytes(), size_t{1} << 20);
  comp.reset();
  EXPECT_EQ(comp.memory_bytes(), 0u);
}

}  // namespace
}  // namespace pounce::pipeline
