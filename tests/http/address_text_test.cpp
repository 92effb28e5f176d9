// The address and port text shared by the PROXY v1 parser and the
// forwarding headers (host/http/address_text.h).
#include "http/address_text.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

using pounce::http::parse_ip;
using pounce::http::parse_port;

TEST(AddressText, Ports) {
  uint16_t p = 7;
  EXPECT_TRUE(parse_port("0", &p));
  EXPECT_EQ(p, 0);
  EXPECT_TRUE(parse_port("65535", &p));
  EXPECT_EQ(p, 65535);
  EXPECT_TRUE(parse_port("00080", &p));
  EXPECT_EQ(p, 80);
  p = 7;
  for (const char* bad :
       {"", "65536", "99999", "123456", "-1", "+1", "1 ", " 1", "0x10", "8o"}) {
    EXPECT_FALSE(parse_port(bad, &p)) << bad;
  }
  EXPECT_EQ(p, 7);  // untouched by a refusal
}

TEST(AddressText, Ipv4) {
  sockaddr_storage s;
  ASSERT_TRUE(parse_ip("198.51.100.7", false, 8080, &s));
  const auto* a = reinterpret_cast<const sockaddr_in*>(&s);
  EXPECT_EQ(a->sin_family, AF_INET);
  EXPECT_EQ(ntohs(a->sin_port), 8080);
  EXPECT_EQ(ntohl(a->sin_addr.s_addr), 0xc6336407u);
  for (const char* bad : {"", "198.51.100", "198.51.100.256", "1.2.3.4.5",
                          "::1", "198.51.100.7 ", "a.b.c.d"}) {
    EXPECT_FALSE(parse_ip(bad, false, 0, &s)) << bad;
  }
}

TEST(AddressText, Ipv6) {
  sockaddr_storage s;
  ASSERT_TRUE(parse_ip("2001:db8::7", true, 443, &s));
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&s);
  EXPECT_EQ(a->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(a->sin6_port), 443);
  in6_addr want;
  inet_pton(AF_INET6, "2001:db8::7", &want);
  EXPECT_EQ(std::memcmp(&a->sin6_addr, &want, sizeof want), 0);
  EXPECT_TRUE(parse_ip("::ffff:192.0.2.1", true, 0, &s));
  for (const char* bad :
       {"", "[2001:db8::7]", "2001:db8::7::1", "1.2.3.4", "2001:db8::g"}) {
    EXPECT_FALSE(parse_ip(bad, true, 0, &s)) << bad;
  }
  // Longer than any address's text: refused before inet_pton.
  EXPECT_FALSE(parse_ip(std::string(100, '1'), true, 0, &s));
}
