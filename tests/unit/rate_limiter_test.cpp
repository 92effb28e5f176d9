// The per-client rate limiter (host/limits/rate_limiter): token buckets,
// Retry-After, IPv6 /64 keys, the bounded LRU table under an address
// flood, and threads sharing it.
#include "limits/rate_limiter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <string>
#include <thread>
#include <vector>

using pounce::RateLimiter;

namespace {

constexpr uint64_t kSecond = 1000000000ull;

sockaddr_storage ip(const std::string& text) {
  sockaddr_storage a{};
  if (text.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a);
    in6->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr), 1) << text;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a);
    in->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &in->sin_addr), 1) << text;
  }
  return a;
}

bool allowed(RateLimiter& limiter, const std::string& client, uint64_t now) {
  sockaddr_storage a = ip(client);
  return limiter.take(reinterpret_cast<sockaddr*>(&a), now).allowed;
}

TEST(RateLimiter, BurstThenRate) {
  RateLimiter limiter(/*rate=*/10, /*burst=*/20, /*table=*/64);
  const uint64_t t0 = 100 * kSecond;
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(allowed(limiter, "192.0.2.1", t0));
  sockaddr_storage a = ip("192.0.2.1");
  RateLimiter::Decision d = limiter.take(reinterpret_cast<sockaddr*>(&a), t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1u);
  // 10 per second: after 0.35 s three tokens are back.
  const uint64_t t1 = t0 + 350 * kSecond / 1000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(allowed(limiter, "192.0.2.1", t1));
  EXPECT_FALSE(allowed(limiter, "192.0.2.1", t1));
  // Other clients have their own buckets.
  EXPECT_TRUE(allowed(limiter, "192.0.2.2", t1));
  // A long pause refills to the burst, not beyond.
  const uint64_t t2 = t1 + 3600 * kSecond;
  int served = 0;
  while (allowed(limiter, "192.0.2.1", t2)) ++served;
  EXPECT_EQ(served, 20);
}

TEST(RateLimiter, RetryAfterCoversASlowRate) {
  RateLimiter limiter(/*rate=*/0.1, /*burst=*/1, /*table=*/16);
  sockaddr_storage a = ip("192.0.2.1");
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  EXPECT_TRUE(limiter.take(sa, kSecond).allowed);
  RateLimiter::Decision d = limiter.take(sa, kSecond);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 10u);
  EXPECT_FALSE(limiter.take(sa, 5 * kSecond).allowed);
  EXPECT_TRUE(limiter.take(sa, 11 * kSecond).allowed);
}

TEST(RateLimiter, MappedIpv4IsTheSameClient) {
  RateLimiter limiter(1, 1, 16);
  EXPECT_TRUE(allowed(limiter, "192.0.2.1", kSecond));
  EXPECT_FALSE(allowed(limiter, "::ffff:192.0.2.1", kSecond));
}

TEST(RateLimiter, Ipv6ClientsAreKeyedByTheirSlash64) {
  RateLimiter limiter(1, 2, 16);
  EXPECT_TRUE(allowed(limiter, "2001:db8:1:2::1", kSecond));
  EXPECT_TRUE(allowed(limiter, "2001:db8:1:2:ffff::9", kSecond));
  EXPECT_FALSE(allowed(limiter, "2001:db8:1:2:abcd::1", kSecond));
  EXPECT_TRUE(allowed(limiter, "2001:db8:1:3::1", kSecond));
}

TEST(RateLimiter, UnixSocketPeersAreNotLimited) {
  RateLimiter limiter(1, 1, 16);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(
        limiter.take(reinterpret_cast<sockaddr*>(&un), kSecond).allowed);
  }
  EXPECT_EQ(limiter.entries(), 0u);
}

// A flood from a million addresses: the table stays at its bound, the
// limiter keeps working, and a client seen recently keeps its bucket.
TEST(RateLimiter, AddressFloodStaysBounded) {
  RateLimiter limiter(/*rate=*/1, /*burst=*/1, /*table=*/1024);
  EXPECT_EQ(limiter.capacity(), 1024u);
  EXPECT_TRUE(allowed(limiter, "198.51.100.7", kSecond));
  for (uint32_t i = 0; i < 1000000; ++i) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x0a000000u + i);
    limiter.take(reinterpret_cast<sockaddr*>(&a), kSecond);
    if ((i & 63) == 0) {
      // The real client keeps coming back: it stays recent, so it is
      // never evicted, and its empty bucket stays empty.
      EXPECT_FALSE(allowed(limiter, "198.51.100.7", kSecond)) << i;
    }
  }
  EXPECT_LE(limiter.entries(), limiter.capacity());
  EXPECT_EQ(limiter.entries(), 1024u);
}

// Workers share it: concurrent takes of one client never hand out more
// tokens than the bucket holds (run under TSan in CI).
TEST(RateLimiter, ThreadsShareOneBucketPerClient) {
  RateLimiter limiter(/*rate=*/1, /*burst=*/1000, /*table=*/256);
  std::vector<std::thread> threads;
  std::vector<int> served(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if (allowed(limiter, "192.0.2.1", kSecond))
          ++served[static_cast<size_t>(t)];
        allowed(limiter, "10.0.0." + std::to_string(i % 200), kSecond);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(served[0] + served[1] + served[2] + served[3], 1000);
}

}  // namespace
