#include "static/file_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "static/static_root.h"

using namespace pounce::static_files;
namespace fs = std::filesystem;

namespace {

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("pounce-static-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    dir_ = base_ / "www";
    fs::create_directories(dir_ / "sub");
    write(base_ / "outside.txt", "outside");
    write(dir_ / "a.txt", "hello");
    write(dir_ / "sub" / "b.css", "body{}");
    fs::create_symlink("a.txt", dir_ / "inside-link");
    fs::create_symlink("../outside.txt", dir_ / "outside-link");
    fs::create_symlink((base_ / "outside.txt").string(),
                       dir_ / "absolute-link");
    ASSERT_EQ(mkfifo((dir_ / "fifo").c_str(), 0644), 0);
  }
  void TearDown() override { fs::remove_all(base_); }

  static void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  std::unique_ptr<StaticRoot> root(bool follow = false) {
    std::string error;
    auto r = StaticRoot::open("/s", dir_.string(), follow, &error);
    EXPECT_TRUE(r) << error;
    return r;
  }

  fs::path base_;
  fs::path dir_;
};

}  // namespace

TEST_F(FileCacheTest, KindsOfEntries) {
  auto r = root();
  FileCache cache(16);
  const CacheEntry* e = cache.lookup(*r, "a.txt", false, 0);
  ASSERT_EQ(e->kind, EntryKind::File);
  EXPECT_EQ(e->identity.size(), 5u);
  EXPECT_EQ(e->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(e->identity.etag_view().front(), '"');
  EXPECT_EQ(cache.lookup(*r, "", false, 0)->kind, EntryKind::Directory);
  EXPECT_EQ(cache.lookup(*r, "sub", false, 0)->kind, EntryKind::Directory);
  EXPECT_EQ(cache.lookup(*r, "missing", false, 0)->kind, EntryKind::NotFound);
  EXPECT_EQ(cache.lookup(*r, "a.txt/x", false, 0)->kind, EntryKind::NotFound);
}

// A FIFO is refused without opening it for reading (which would block
// until a writer came).
TEST_F(FileCacheTest, FifoIsNotServed) {
  auto r = root();
  FileCache cache(16);
  EXPECT_EQ(cache.lookup(*r, "fifo", false, 0)->kind, EntryKind::NotFound);
}

TEST_F(FileCacheTest, SymlinksStayInsideUnlessFollowed) {
  auto r = root();
  FileCache cache(16);
  EXPECT_EQ(cache.lookup(*r, "inside-link", false, 0)->kind, EntryKind::File);
  EXPECT_EQ(cache.lookup(*r, "outside-link", false, 0)->kind,
            EntryKind::NotFound);
  EXPECT_EQ(cache.lookup(*r, "absolute-link", false, 0)->kind,
            EntryKind::NotFound);
  auto followed = root(/*follow=*/true);
  EXPECT_EQ(cache.lookup(*followed, "outside-link", false, 0)->kind,
            EntryKind::File);
  EXPECT_EQ(cache.lookup(*followed, "absolute-link", false, 0)->kind,
            EntryKind::File);
}

TEST_F(FileCacheTest, PermissionDeniedIsForbidden) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  write(dir_ / "secret.txt", "x");
  fs::permissions(dir_ / "secret.txt", fs::perms::none);
  auto r = root();
  FileCache cache(16);
  EXPECT_EQ(cache.lookup(*r, "secret.txt", false, 0)->kind,
            EntryKind::Forbidden);
}

TEST_F(FileCacheTest, HitsCostNoOpenAndRevalidateAfterASecond) {
  auto r = root();
  FileCache cache(16);
  cache.lookup(*r, "a.txt", false, 1000);
  const uint64_t fills = cache.fills();
  cache.lookup(*r, "a.txt", false, 1500);
  cache.lookup(*r, "a.txt", false, 1999);
  EXPECT_EQ(cache.fills(), fills);
  write(dir_ / "a.txt", "changed!");
  // Still the old file within the second.
  EXPECT_EQ(cache.lookup(*r, "a.txt", false, 1999)->identity.size(), 5u);
  const CacheEntry* e = cache.lookup(*r, "a.txt", false, 2000);
  EXPECT_EQ(cache.fills(), fills + 1);
  EXPECT_EQ(e->identity.size(), 8u);
  fs::remove(dir_ / "a.txt");
  EXPECT_EQ(cache.lookup(*r, "a.txt", false, 3000)->kind, EntryKind::NotFound);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(FileCacheTest, BoundedLeastRecentlyUsedFirst) {
  auto r = root();
  FileCache cache(2);
  cache.lookup(*r, "a.txt", false, 0);
  cache.lookup(*r, "sub/b.css", false, 0);
  cache.lookup(*r, "a.txt", false, 0);  // a.txt is now the most recent
  cache.lookup(*r, "sub", false, 0);    // evicts sub/b.css
  EXPECT_EQ(cache.size(), 2u);
  const uint64_t fills = cache.fills();
  cache.lookup(*r, "a.txt", false, 0);
  EXPECT_EQ(cache.fills(), fills);
  cache.lookup(*r, "sub/b.css", false, 0);
  EXPECT_EQ(cache.fills(), fills + 1);
  // Missing files are not kept.
  cache.lookup(*r, "missing", false, 0);
  cache.lookup(*r, "missing", false, 0);
  EXPECT_EQ(cache.fills(), fills + 3);
}

TEST_F(FileCacheTest, NoCacheOpensEveryTime) {
  auto r = root();
  FileCache cache(0);
  cache.lookup(*r, "a.txt", false, 0);
  cache.lookup(*r, "a.txt", false, 0);
  EXPECT_EQ(cache.fills(), 2u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(FileCacheTest, VariantsBesideTheFile) {
  write(dir_ / "app.js", std::string(1000, 'x'));
  write(dir_ / "app.js.gz", "gz");
  write(dir_ / "app.js.br", "br");
  write(dir_ / "app.js.zst", "zst");
  // A variant older than its file is stale and left out.
  timeval old[2] = {{1, 0}, {1, 0}};
  ASSERT_EQ(utimes((dir_ / "app.js.br").c_str(), old), 0);
  auto r = root();
  FileCache cache(16);
  const CacheEntry* e = cache.lookup(*r, "app.js", true, 0);
  ASSERT_EQ(e->kind, EntryKind::File);
  EXPECT_TRUE(e->variants[static_cast<int>(Variant::Gzip)]);
  EXPECT_TRUE(e->variants[static_cast<int>(Variant::Zstd)]);
  EXPECT_FALSE(e->variants[static_cast<int>(Variant::Br)]);
  // Each variant has its own ETag.
  EXPECT_NE(e->variants[static_cast<int>(Variant::Gzip)].etag_view(),
            e->identity.etag_view());
  EXPECT_NE(e->variants[static_cast<int>(Variant::Gzip)].etag_view(),
            e->variants[static_cast<int>(Variant::Zstd)].etag_view());
  // Without variants asked for, none are looked for.
  EXPECT_FALSE(cache.lookup(*r, "app.js", false, 0)->has_variant());
}

// Small files are kept in memory (sent with the head in one write), within
// the per-cache budget; what leaves the cache leaves the budget.
TEST_F(FileCacheTest, SmallFilesAreKeptInMemoryWithinTheBudget) {
  write(dir_ / "big.bin", std::string(kSmallFileMax + 1, 'x'));
  auto r = root();
  FileCache cache(1);
  const CacheEntry* e = cache.lookup(*r, "a.txt", false, 0);
  ASSERT_EQ(e->kind, EntryKind::File);
  EXPECT_EQ(e->identity.small, "hello");
  EXPECT_EQ(cache.small_bytes(), 5u);
  // Past kSmallFileMax: sent from the descriptor only. The small file was
  // evicted (capacity 1), and its bytes with it.
  e = cache.lookup(*r, "big.bin", false, 0);
  ASSERT_EQ(e->kind, EntryKind::File);
  EXPECT_TRUE(e->identity.small.empty());
  EXPECT_EQ(cache.small_bytes(), 0u);
  // A change seen at revalidation replaces the bytes.
  e = cache.lookup(*r, "a.txt", false, 0);
  EXPECT_EQ(cache.small_bytes(), 5u);
  write(dir_ / "a.txt", "hello, world");
  struct timeval later[2] = {{2000000000, 0}, {2000000000, 0}};
  ASSERT_EQ(utimes((dir_ / "a.txt").c_str(), later), 0);
  e = cache.lookup(*r, "a.txt", false, 5000);
  EXPECT_EQ(e->identity.small, "hello, world");
  EXPECT_EQ(cache.small_bytes(), 12u);
  // Gone: out of the cache and the budget.
  fs::remove(dir_ / "a.txt");
  e = cache.lookup(*r, "a.txt", false, 10000);
  EXPECT_EQ(e->kind, EntryKind::NotFound);
  EXPECT_EQ(cache.small_bytes(), 0u);
}

// Without a cache nothing is kept: every request opens the file anyway.
TEST_F(FileCacheTest, NoCacheKeepsNoBytes) {
  auto r = root();
  FileCache cache(0);
  const CacheEntry* e = cache.lookup(*r, "a.txt", false, 0);
  ASSERT_EQ(e->kind, EntryKind::File);
  EXPECT_TRUE(e->identity.small.empty());
}
