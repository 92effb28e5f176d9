// Trusted forwarding headers (host/http/forwarded): the address sets of
// --forwarded-allow-ips, the right-to-left walk for --forwarded-hops through
// RFC 7239 Forwarded and X-Forwarded-For/-Proto, and the bad input issue 14
// names (spoofed, malformed, too many hops, IPv6 in all its forms).
#include "http/forwarded.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <string>
#include <vector>

using namespace pounce::http;

namespace {

sockaddr_storage address(const std::string& text) {
  sockaddr_storage a{};
  EXPECT_TRUE(parse_forwarded_address(text, &a)) << text;
  return a;
}

std::string text_of(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    std::string text = buf;
    if (in->sin_port != 0) {
      text += ":";
      text += std::to_string(ntohs(in->sin_port));
    }
    return text;
  }
  if (a.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof buf);
    std::string text = "[";
    text += buf;
    text += "]";
    if (in->sin6_port != 0) {
      text += ":";
      text += std::to_string(ntohs(in->sin6_port));
    }
    return text;
  }
  return "none";
}

struct Request {
  std::vector<std::string_view> forwarded;
  std::vector<std::string_view> xff;
  std::vector<std::string_view> xfp;
  ForwardedResult resolve(unsigned hops = 1) const {
    ForwardedHeaders h{forwarded, xff, xfp};
    return resolve_forwarded(h, hops);
  }
};

TEST(AddressSet, MatchesAddressesAndRanges) {
  AddressSet set;
  std::string error;
  ASSERT_TRUE(set.parse("10.0.0.0/8, 192.168.1.5,2001:db8::/32,::1", &error))
      << error;
  auto in = [&](const std::string& text) {
    sockaddr_storage a = address(text);
    return set.contains(reinterpret_cast<sockaddr*>(&a));
  };
  EXPECT_TRUE(in("10.255.1.2"));
  EXPECT_TRUE(in("192.168.1.5"));
  EXPECT_FALSE(in("192.168.1.6"));
  EXPECT_FALSE(in("11.0.0.1"));
  EXPECT_TRUE(in("2001:db8:ffff::1"));
  EXPECT_FALSE(in("2001:db9::1"));
  EXPECT_TRUE(in("::1"));
  EXPECT_FALSE(in("::2"));
  // A dual-stack listener reports IPv4 peers as mapped IPv6 addresses.
  EXPECT_TRUE(in("::ffff:10.1.2.3"));
  EXPECT_FALSE(in("::ffff:11.1.2.3"));
  // Unix-socket peers only with the `unix` entry.
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(set.contains(reinterpret_cast<sockaddr*>(&un)));
  ASSERT_TRUE(set.parse("unix", &error));
  EXPECT_TRUE(set.contains(reinterpret_cast<sockaddr*>(&un)));
}

TEST(AddressSet, OddPrefixLengths) {
  AddressSet set;
  std::string error;
  ASSERT_TRUE(set.parse("172.16.0.0/12,0.0.0.0/0", &error)) << error;
  ASSERT_TRUE(set.parse("172.16.0.0/12", &error));
  sockaddr_storage a = address("172.31.255.255");
  EXPECT_TRUE(set.contains(reinterpret_cast<sockaddr*>(&a)));
  a = address("172.32.0.0");
  EXPECT_FALSE(set.contains(reinterpret_cast<sockaddr*>(&a)));
  ASSERT_TRUE(set.parse("0.0.0.0/0", &error));
  a = address("8.8.8.8");
  EXPECT_TRUE(set.contains(reinterpret_cast<sockaddr*>(&a)));
}

TEST(AddressSet, RefusesBadEntriesNamingThem) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0/8", "example.com",
                          "10.0.0.1/", "10.0.0.1/a", "1.2.3.4:80"}) {
    AddressSet set;
    std::string error;
    EXPECT_FALSE(set.parse(bad, &error)) << bad;
    EXPECT_NE(error.find(bad), std::string::npos) << error;
  }
}

TEST(ForwardedAddress, EveryForm) {
  EXPECT_EQ(text_of(address("192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(text_of(address("192.0.2.1:8080")), "192.0.2.1:8080");
  EXPECT_EQ(text_of(address("2001:db8::1")), "[2001:db8::1]");
  EXPECT_EQ(text_of(address("[2001:db8::1]")), "[2001:db8::1]");
  EXPECT_EQ(text_of(address("[2001:db8::1]:4711")), "[2001:db8::1]:4711");
  sockaddr_storage a;
  for (const char* bad :
       {"", "[2001:db8::1", "[2001:db8::1]x", "[2001:db8::1]:", "[1.2.3.4]",
        "1.2.3.4:99999", "1.2.3.4:", "host.example", "1.2.3.4 ", "[::1]:-1"}) {
    EXPECT_FALSE(parse_forwarded_address(bad, &a)) << bad;
  }
}

TEST(XForwardedFor, TheRightmostAddressForOneHop) {
  Request r;
  r.xff = {"203.0.113.7, 198.51.100.2"};
  ForwardedResult f = r.resolve(1);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "198.51.100.2");
  EXPECT_FALSE(f.proto_given);
  // Two proxies of ours in a row: the second address from the right.
  f = r.resolve(2);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "203.0.113.7");
}

TEST(XForwardedFor, SpoofedLeftEntriesAreNotBelieved) {
  // The client wrote "1.1.1.1" itself; our proxy appended what it saw.
  Request r;
  r.xff = {"1.1.1.1, 203.0.113.7"};
  ForwardedResult f = r.resolve(1);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "203.0.113.7");
}

TEST(XForwardedFor, FewerAddressesThanHopsTakesTheLeftmost) {
  Request r;
  r.xff = {"203.0.113.7"};
  ForwardedResult f = r.resolve(3);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "203.0.113.7");
}

TEST(XForwardedFor, SeveralLinesAreOneList) {
  Request r;
  r.xff = {"10.9.9.9, 203.0.113.7", "198.51.100.2"};
  EXPECT_EQ(text_of(r.resolve(1).client), "198.51.100.2");
  EXPECT_EQ(text_of(r.resolve(2).client), "203.0.113.7");
  EXPECT_EQ(text_of(r.resolve(3).client), "10.9.9.9");
  // Empty elements and lines are skipped (the list rule of RFC 9110 §5.6.1).
  r.xff = {"203.0.113.7,, ", ""};
  EXPECT_EQ(text_of(r.resolve(1).client), "203.0.113.7");
}

TEST(XForwardedFor, TooManyHopsAreBoundedByTheHeaderSize) {
  // 2,000 addresses: only the chosen one is parsed; nothing is stored.
  std::string many;
  for (int i = 0; i < 2000; ++i) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on a
    // chain of operator+ over a temporary.
    many += "10.0.";
    many += std::to_string(i % 250);
    many += ".1, ";
  }
  many += "203.0.113.7";
  Request r;
  r.xff = {many};
  ForwardedResult f = r.resolve(1);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "203.0.113.7");
}

TEST(XForwardedFor, Ipv6InEveryForm) {
  Request r;
  for (const char* v6 : {"2001:db8::7", "[2001:db8::7]", "[2001:db8::7]:443"}) {
    r.xff = {v6};
    ForwardedResult f = r.resolve(1);
    ASSERT_EQ(f.outcome, ForwardedOutcome::Used) << v6;
    EXPECT_EQ(text_of(f.client).substr(0, 13), "[2001:db8::7]") << v6;
  }
}

TEST(XForwardedFor, MalformedIsNotBelieved) {
  Request r;
  for (const char* bad : {"not-an-ip", "203.0.113.7; rm -rf", "300.1.1.1",
                          "\"203.0.113.7", "203.0.113.7 198.51.100.2"}) {
    r.xff = {bad};
    EXPECT_EQ(r.resolve(1).outcome, ForwardedOutcome::Malformed) << bad;
  }
}

TEST(XForwardedProto, GivesTheScheme) {
  Request r;
  r.xff = {"203.0.113.7"};
  r.xfp = {"https"};
  ForwardedResult f = r.resolve(1);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_TRUE(f.proto_given);
  EXPECT_TRUE(f.https);
  r.xfp = {"HTTP"};
  f = r.resolve(1);
  EXPECT_TRUE(f.proto_given);
  EXPECT_FALSE(f.https);
  r.xfp = {"gopher"};
  EXPECT_EQ(r.resolve(1).outcome, ForwardedOutcome::Malformed);
}

TEST(XForwardedProto, AloneGivesTheSchemeAndNoClient) {
  Request r;
  r.xfp = {"http, https"};
  ForwardedResult f = r.resolve(1);
  EXPECT_EQ(f.outcome, ForwardedOutcome::NotPresent);
  EXPECT_TRUE(f.proto_given);
  EXPECT_TRUE(f.https);
  f = r.resolve(2);
  EXPECT_TRUE(f.proto_given);
  EXPECT_FALSE(f.https);
  r.xfp = {"gopher"};
  EXPECT_EQ(r.resolve(1).outcome, ForwardedOutcome::Malformed);
  r.xfp = {""};
  EXPECT_FALSE(r.resolve(1).proto_given);
}

TEST(Forwarded, Rfc7239Examples) {
  Request r;
  r.forwarded = {"for=192.0.2.60;proto=http;by=203.0.113.43"};
  ForwardedResult f = r.resolve(1);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "192.0.2.60");
  EXPECT_TRUE(f.proto_given);
  EXPECT_FALSE(f.https);

  r.forwarded = {"For=\"[2001:db8:cafe::17]:4711\""};
  f = r.resolve(1);
  ASSERT_EQ(f.outcome, ForwardedOutcome::Used);
  EXPECT_EQ(text_of(f.client), "[2001:db8:cafe::17]:4711");

  r.forwarded = {"for=192.0.2.43, for=198.51.100.17;proto=https"};
  f = r.resolve(1);
  EXPECT_EQ(text_of(f.client), "198.51.100.17");
  EXPECT_TRUE(f.https);
  f = r.resolve(2);
  EXPECT_EQ(text_of(f.client), "192.0.2.43");
  EXPECT_FALSE(f.proto_given);
}

TEST(Forwarded, Ipv6InEveryForm) {
  Request r;
  for (const char* v6 : {"for=\"[2001:db8::7]\"", "for=\"[2001:db8::7]:80\"",
                         "for=\"2001:db8::7\""}) {
    r.forwarded = {v6};
    ForwardedResult f = r.resolve(1);
    ASSERT_EQ(f.outcome, ForwardedOutcome::Used) << v6;
    EXPECT_EQ(text_of(f.client).substr(0, 13), "[2001:db8::7]") << v6;
  }
}

TEST(Forwarded, IsPreferredOverXForwardedFor) {
  Request r;
  r.forwarded = {"for=192.0.2.60"};
  r.xff = {"198.51.100.9"};
  EXPECT_EQ(text_of(r.resolve(1).client), "192.0.2.60");
}

TEST(Forwarded, UnknownAndObfuscatedKeepThePeer) {
  Request r;
  for (const char* hidden :
       {"for=unknown", "for=_hidden;proto=https", "for=\"_gazonk\""}) {
    r.forwarded = {hidden};
    ForwardedResult f = r.resolve(1);
    EXPECT_EQ(f.outcome, ForwardedOutcome::Hidden) << hidden;
    EXPECT_FALSE(f.proto_given) << hidden;
  }
}

TEST(Forwarded, MalformedIsNotBelieved) {
  Request r;
  for (const char* bad :
       {"for=[2001:db8::1]:80x", "proto=https", "for=1.2.3.4;for=5.6.7.8",
        "for", "=1.2.3.4", "for=\"1.2.3.4", "for=\"1.2.\\3.4\"",
        "for=1.2.3.4;proto=ftp", "for=\"1.2.3.4\"x", "for=2001:db8::1:80"}) {
    r.forwarded = {bad};
    EXPECT_EQ(r.resolve(1).outcome, ForwardedOutcome::Malformed) << bad;
  }
}

TEST(Forwarded, QuotedCommasDoNotSplit) {
  Request r;
  r.forwarded = {"for=192.0.2.1;by=\"a,b\", for=192.0.2.2"};
  EXPECT_EQ(text_of(r.resolve(1).client), "192.0.2.2");
  EXPECT_EQ(text_of(r.resolve(2).client), "192.0.2.1");
}

TEST(Forwarded, NoHeadersMeansThePeer) {
  Request r;
  EXPECT_EQ(r.resolve(1).outcome, ForwardedOutcome::NotPresent);
  r.xff = {" "};
  EXPECT_EQ(r.resolve(1).outcome, ForwardedOutcome::NotPresent);
}

}  // namespace
