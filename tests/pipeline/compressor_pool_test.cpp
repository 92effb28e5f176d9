// The per-loop pool of compression contexts (ARCHITECTURE.md §5 "Memory").
#include "pipeline/compressor_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "test_corpus.h"

namespace pounce::pipeline {
namespace {

using testing::decode_all;
using testing::html_text;

TEST(CompressorPool, ReturnsNullptrPastTheCap) {
  CompressorPool pool({.max_streams = 3, .max_idle = 4});
  Compressor* a = pool.acquire(Coding::Zstd);
  Compressor* b = pool.acquire(Coding::Gzip);
  Compressor* c = pool.acquire(Coding::Zstd);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(pool.in_use(), 3u);
  EXPECT_EQ(pool.acquire(Coding::Zstd), nullptr);
  EXPECT_EQ(pool.acquire(Coding::Gzip), nullptr);
  pool.release(b);
  EXPECT_EQ(pool.in_use(), 2u);
  Compressor* d = pool.acquire(Coding::Zstd);
  EXPECT_NE(d, nullptr);
  EXPECT_EQ(pool.acquire(Coding::Zstd), nullptr);
  pool.release(a);
  pool.release(c);
  pool.release(d);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(CompressorPool, ZeroCapMeansNoStreamCompression) {
  CompressorPool pool({.max_streams = 0, .max_idle = 4});
  EXPECT_EQ(pool.acquire(Coding::Zstd), nullptr);
}

TEST(CompressorPool, IdentityIsNeverPooled) {
  CompressorPool pool;
  EXPECT_EQ(pool.acquire(Coding::Identity), nullptr);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(CompressorPool, AcquiredContextIsBegunInItsCoding) {
  CompressorPool pool;
  for (Coding c : {Coding::Zstd, Coding::Gzip}) {
    Compressor* comp = pool.acquire(c);
    ASSERT_NE(comp, nullptr);
    EXPECT_EQ(comp->coding(), c);
    ByteBuffer out;
    ASSERT_TRUE(comp->compress_chunk("streamed", out));
    ASSERT_TRUE(comp->finish(out));
    std::string decoded;
    ASSERT_TRUE(decode_all(c, out.view(), decoded));
    EXPECT_EQ(decoded, "streamed");
    pool.release(comp);
  }
}

TEST(CompressorPool, ReleasedContextIsReusedForTheSameCoding) {
  CompressorPool pool;
  Compressor* a = pool.acquire(Coding::Zstd);
  ASSERT_NE(a, nullptr);
  ByteBuffer out;
  ASSERT_TRUE(a->compress_chunk(html_text(2000, 1), out));
  pool.release(a);  // abandoned mid-stream
  EXPECT_EQ(pool.idle(Coding::Zstd), 1u);
  EXPECT_EQ(pool.acquire(Coding::Gzip) == a, false);
  Compressor* b = pool.acquire(Coding::Zstd);
  EXPECT_EQ(b, a);
  EXPECT_EQ(pool.idle(Coding::Zstd), 0u);
  out.clear();
  ASSERT_TRUE(b->compress_chunk("fresh", out));
  ASSERT_TRUE(b->finish(out));
  std::string decoded;
  ASSERT_TRUE(decode_all(Coding::Zstd, out.view(), decoded));
  EXPECT_EQ(decoded, "fresh");
}

TEST(CompressorPool, KeepsAtMostMaxIdlePerCoding) {
  CompressorPool pool({.max_streams = 10, .max_idle = 2});
  std::vector<Compressor*> taken;
  for (int i = 0; i < 5; ++i) taken.push_back(pool.acquire(Coding::Gzip));
  for (Compressor* c : taken) {
    ByteBuffer out;
    ASSERT_TRUE(c->compress_chunk("x", out));
    pool.release(c);
  }
  EXPECT_EQ(pool.idle(Coding::Gzip), 2u);
  EXPECT_EQ(pool.idle(Coding::Zstd), 0u);
  EXPECT_EQ(pool.in_use(), 0u);
  // Two idle gzip contexts (igzip, about 165 KiB each) and nothing else.
  Compressor one;
  ASSERT_TRUE(one.begin(Coding::Gzip));
  EXPECT_EQ(pool.memory_bytes(), 2 * one.memory_bytes());
}

TEST(CompressorPool, ReleaseOfNullOrForeignPointerIsIgnored) {
  CompressorPool pool;
  Compressor foreign;
  pool.release(nullptr);
  pool.release(&foreign);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.idle(Coding::Zstd), 0u);
}

TEST(CompressorPool, SyncContextIsOnePerCodingAndReused) {
  CompressorPool pool;
  Compressor& z1 = pool.sync_context(Coding::Zstd);
  Compressor& g1 = pool.sync_context(Coding::Gzip);
  EXPECT_NE(&z1, &g1);
  EXPECT_EQ(&pool.sync_context(Coding::Zstd), &z1);
  EXPECT_EQ(z1.coding(), Coding::Zstd);
  EXPECT_EQ(g1.coding(), Coding::Gzip);
  for (int i = 0; i < 20; ++i) {
    for (Coding c : {Coding::Zstd, Coding::Gzip}) {
      const std::string body = html_text(500 + i * 300, i);
      ByteBuffer out;
      ASSERT_TRUE(pool.sync_context(c).compress_whole(body, out));
      std::string decoded;
      ASSERT_TRUE(decode_all(c, out.view(), decoded));
      EXPECT_TRUE(decoded == body);
    }
  }
  // Sync contexts do not count against the stream cap.
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(CompressorPool, CountsTheMemoryOfEveryContext) {
  CompressorPool pool;
  EXPECT_EQ(pool.memory_bytes(), 0u);
  Compressor* z = pool.acquire(Coding::Zstd);
  Compressor* g = pool.acquire(Coding::Gzip);
  ByteBuffer out;
  ASSERT_TRUE(z->compress_chunk(html_text(1000, 1), out));
  ASSERT_TRUE(g->compress_chunk(html_text(1000, 1), out));
  EXPECT_EQ(pool.memory_bytes(), z->memory_bytes() + g->memory_bytes());
  pool.release(z);
  pool.release(g);
  EXPECT_GT(pool.memory_bytes(), 0u);  // kept warm
}

// Under ASan this checks that a pool dying with contexts still out frees
// them (a connection torn down with the loop).
TEST(CompressorPool, FreesContextsStillAcquiredWhenDestroyed) {
  auto pool = std::make_unique<CompressorPool>();
  Compressor* z = pool->acquire(Coding::Zstd);
  Compressor* g = pool->acquire(Coding::Gzip);
  ByteBuffer out;
  ASSERT_TRUE(z->compress_chunk(html_text(1000, 1), out));
  ASSERT_TRUE(g->compress_chunk(html_text(1000, 1), out));
  pool.reset();
}

// Many responses through acquire/release: the pool settles at its idle
// limit and allocates nothing more.
TEST(CompressorPool, SteadyStreamsReuseWarmContexts) {
  CompressorPool pool({.max_streams = 8, .max_idle = 4});
  std::vector<Compressor*> seen;
  for (int round = 0; round < 50; ++round) {
    Compressor* live[4];
    for (Compressor*& c : live) {
      c = pool.acquire(Coding::Gzip);
      ASSERT_NE(c, nullptr);
      ByteBuffer out;
      ASSERT_TRUE(c->compress_chunk("event", out));
      ASSERT_TRUE(c->finish(out));
      if (round == 0) seen.push_back(c);
    }
    for (Compressor* c : live) {
      if (round > 0) {
        EXPECT_NE(std::find(seen.begin(), seen.end(), c), seen.end());
      }
      pool.release(c);
    }
  }
  EXPECT_EQ(pool.idle(Coding::Gzip), 4u);
}

}  // namespace
}  // namespace pounce::pipeline
