// The PROXY protocol header parser (host/http/proxy_header): versions 1 and
// 2, every split point, and the malformed headers issue 14 names (v1 with
// bad fields, an overlong line or an unknown family; v2 with a bad
// signature, a wrong length, oversize TLVs, or split across reads).
#include "http/proxy_header.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

using namespace pounce::http;

namespace {

std::string v2_signature() {
  return std::string("\r\n\r\n\0\r\nQUIT\n", 12);
}

// A v2 header: command (0 LOCAL, 1 PROXY), family byte, address block and
// TLVs; the length field covers both unless `length` overrides it.
std::string v2(uint8_t command, uint8_t family, const std::string& addresses,
               const std::string& tlvs = "", int length = -1) {
  std::string h = v2_signature();
  h.push_back(static_cast<char>(0x20 | command));
  h.push_back(static_cast<char>(family));
  const size_t n = length >= 0 ? static_cast<size_t>(length)
                               : addresses.size() + tlvs.size();
  h.push_back(static_cast<char>(n >> 8));
  h.push_back(static_cast<char>(n & 0xff));
  return h + addresses + tlvs;
}

std::string tlv(uint8_t type, const std::string& value) {
  std::string t;
  t.push_back(static_cast<char>(type));
  t.push_back(static_cast<char>(value.size() >> 8));
  t.push_back(static_cast<char>(value.size() & 0xff));
  return t + value;
}

// 192.0.2.10:51000 -> 198.51.100.1:443
std::string ipv4_block() {
  return std::string("\xc0\x00\x02\x0a\xc6\x33\x64\x01\xc7\x38\x01\xbb", 12);
}

std::string text_of(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (a.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof buf);
    port = ntohs(in->sin6_port);
    // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on the
    // chain of operator+.
    std::string text = "[";
    text += buf;
    text += "]:";
    text += std::to_string(port);
    return text;
  }
  return "none";
}

ProxyResult parse(const std::string& input, ProxyInfo* info) {
  return parse_proxy_header(input, info);
}

// Every proper prefix of a valid header asks for more; the whole header
// is Done with `consumed` its length, whatever follows.
void expect_split_anywhere(const std::string& header) {
  for (size_t n = 0; n < header.size(); ++n) {
    ProxyInfo info;
    EXPECT_EQ(parse(header.substr(0, n), &info).status, ProxyStatus::NeedMore)
        << "prefix of " << n << " bytes";
  }
  ProxyInfo info;
  ProxyResult r = parse(header + "GET / HTTP/1.1\r\n", &info);
  EXPECT_EQ(r.status, ProxyStatus::Done);
  EXPECT_EQ(r.consumed, header.size());
}

TEST(ProxyV1, Tcp4) {
  const std::string h = "PROXY TCP4 192.0.2.10 198.51.100.1 51000 443\r\n";
  ProxyInfo info;
  ProxyResult r = parse(h + "GET", &info);
  ASSERT_EQ(r.status, ProxyStatus::Done) << proxy_error_text(r.error);
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_EQ(info.version, 1);
  EXPECT_FALSE(info.local);
  EXPECT_EQ(text_of(info.source), "192.0.2.10:51000");
  EXPECT_EQ(text_of(info.destination), "198.51.100.1:443");
  expect_split_anywhere(h);
}

TEST(ProxyV1, Tcp6) {
  const std::string h = "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 1 65535\r\n";
  ProxyInfo info;
  ProxyResult r = parse(h, &info);
  ASSERT_EQ(r.status, ProxyStatus::Done) << proxy_error_text(r.error);
  EXPECT_EQ(text_of(info.source), "[2001:db8::1]:1");
  EXPECT_EQ(text_of(info.destination), "[::ffff:192.0.2.1]:65535");
  expect_split_anywhere(h);
}

TEST(ProxyV1, UnknownKeepsTheSocketAddresses) {
  for (std::string h :
       {std::string("PROXY UNKNOWN\r\n"),
        std::string("PROXY UNKNOWN ffff:f:f:f:f:f:f:f ffff:f:f:f:f:f:f:f "
                    "65535 65535\r\n")}) {
    ProxyInfo info;
    ProxyResult r = parse(h, &info);
    ASSERT_EQ(r.status, ProxyStatus::Done) << h;
    EXPECT_TRUE(info.local);
    EXPECT_EQ(r.consumed, h.size());
  }
}

TEST(ProxyV1, TheLongestLineIsAccepted) {
  // 107 bytes, CRLF included: the limit the specification gives.
  const std::string h =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  ASSERT_EQ(h.size(), 104u);
  ProxyInfo info;
  EXPECT_EQ(parse(h, &info).status, ProxyStatus::Done);
  const std::string unknown = "PROXY UNKNOWN " + std::string(91, 'x') + "\r\n";
  ASSERT_EQ(unknown.size(), 107u);
  EXPECT_EQ(parse(unknown, &info).status, ProxyStatus::Done);
}

struct BadCase {
  const char* name;
  std::string input;
  ProxyError error;
};

class ProxyRefuses : public ::testing::TestWithParam<BadCase> {};

TEST_P(ProxyRefuses, WithTheReason) {
  ProxyInfo info;
  ProxyResult r = parse(GetParam().input, &info);
  EXPECT_EQ(r.status, ProxyStatus::Invalid);
  EXPECT_EQ(r.error, GetParam().error) << proxy_error_text(r.error);
  EXPECT_STRNE(proxy_error_text(r.error), "unknown");
}

const BadCase kBad[] = {
    {"PlainHttp", "GET / HTTP/1.1\r\n", ProxyError::NotProxy},
    {"TlsClientHello", std::string("\x16\x03\x01\x02\x00", 5),
     ProxyError::NotProxy},
    {"LowerCaseProxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
     ProxyError::NotProxy},
    {"V1Overlong", "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n",
     ProxyError::V1TooLong},
    {"V1NoCrlfAtAll", "PROXY TCP4 " + std::string(200, '1'),
     ProxyError::V1TooLong},
    {"V1BareLf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ProxyError::V1BadFields},
    {"V1CrWithoutLf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
     ProxyError::V1BadFields},
    {"V1UnknownFamily", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
     ProxyError::V1UnknownFamily},
    {"V1TooFewFields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
     ProxyError::V1BadFields},
    {"V1TooManyFields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
     ProxyError::V1BadFields},
    {"V1DoubleSpace", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
     ProxyError::V1BadFields},
    {"V1BadAddress", "PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n",
     ProxyError::V1BadFields},
    {"V1Ipv6InTcp4", "PROXY TCP4 ::1 ::1 1 2\r\n", ProxyError::V1BadFields},
    {"V1Ipv4InTcp6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
     ProxyError::V1BadFields},
    {"V1PortTooBig", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
     ProxyError::V1BadFields},
    {"V1PortNotANumber", "PROXY TCP4 1.2.3.4 5.6.7.8 8o 2\r\n",
     ProxyError::V1BadFields},
    {"V1NegativePort", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
     ProxyError::V1BadFields},
    {"V2BadSignature", std::string("\r\n\r\n\0\r\nQUIX\n\x21\x11\0\x0c", 16),
     ProxyError::NotProxy},
    {"V2Version1",
     v2_signature() + std::string("\x11\x11\x00\x0c", 4) + ipv4_block(),
     ProxyError::V2BadVersion},
    {"V2UnknownCommand",
     v2_signature() + std::string("\x22\x11\x00\x0c", 4) + ipv4_block(),
     ProxyError::V2BadVersion},
    {"V2UnknownFamily", v2(1, 0x41, ipv4_block()), ProxyError::V2BadFamily},
    {"V2Datagram", v2(1, 0x12, ipv4_block()), ProxyError::V2BadFamily},
    {"V2LengthShorterThanIpv4", v2(1, 0x11, ipv4_block().substr(0, 8)),
     ProxyError::V2BadLength},
    {"V2LengthShorterThanIpv6", v2(1, 0x21, std::string(20, '\0')),
     ProxyError::V2BadLength},
    {"V2OverTheLimit",
     v2(1, 0x11, ipv4_block(), tlv(0x04, std::string(5000, 'x'))),
     ProxyError::V2TooLong},
    {"V2TlvLongerThanItsRoom",
     v2(1, 0x11, ipv4_block(), std::string("\x01\x00\x10h2", 5)),
     ProxyError::V2BadTlv},
    {"V2TruncatedTlvHeader",
     v2(1, 0x11, ipv4_block(), std::string("\x01\x00", 2)),
     ProxyError::V2BadTlv},
    {"V2AuthorityWithCrLf",
     v2(1, 0x11, ipv4_block(), tlv(0x02, "example.com\r\nX-Forged: 1")),
     ProxyError::V2BadTlv},
};

INSTANTIATE_TEST_SUITE_P(Table, ProxyRefuses, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return info.param.name; });

TEST(ProxyV2, Ipv4WithAlpnAndAuthority) {
  const std::string h =
      v2(1, 0x11, ipv4_block(),
         tlv(0x01, "h2") + tlv(0x04, std::string(10, '\0')) +
             tlv(0x02, "www.example.com") + tlv(0x20, std::string(9, 'x')));
  ProxyInfo info;
  // The TLV views point into the input: it must outlive `info`.
  const std::string input = h + "PRI * HTTP/2.0";
  ProxyResult r = parse(input, &info);
  ASSERT_EQ(r.status, ProxyStatus::Done) << proxy_error_text(r.error);
  EXPECT_EQ(r.consumed, h.size());
  EXPECT_EQ(info.version, 2);
  EXPECT_FALSE(info.local);
  EXPECT_EQ(text_of(info.source), "192.0.2.10:51000");
  EXPECT_EQ(text_of(info.destination), "198.51.100.1:443");
  EXPECT_EQ(info.alpn, "h2");
  EXPECT_EQ(info.authority, "www.example.com");
  expect_split_anywhere(h);
}

TEST(ProxyV2, Ipv6) {
  std::string block(36, '\0');
  block[0] = '\x20';
  block[1] = '\x01';
  block[2] = '\x0d';
  block[3] = '\xb8';
  block[15] = '\x07';  // 2001:db8::7
  block[31] = '\x01';  // ::1
  block[32] = '\x12';
  block[33] = '\x34';  // port 4660
  block[34] = '\x00';
  block[35] = '\x50';  // port 80
  const std::string h = v2(1, 0x21, block);
  ProxyInfo info;
  ASSERT_EQ(parse(h, &info).status, ProxyStatus::Done);
  EXPECT_EQ(text_of(info.source), "[2001:db8::7]:4660");
  EXPECT_EQ(text_of(info.destination), "[::1]:80");
  expect_split_anywhere(h);
}

TEST(ProxyV2, LocalSkipsTheAddressBlock) {
  // HAProxy's health checks: LOCAL, possibly with an address block.
  for (const std::string& h :
       {v2(0, 0x00, ""), v2(0, 0x11, ipv4_block()),
        v2(0, 0x11, ipv4_block(), tlv(0x01, "http/1.1"))}) {
    ProxyInfo info;
    ProxyResult r = parse(h + "GET", &info);
    ASSERT_EQ(r.status, ProxyStatus::Done);
    EXPECT_TRUE(info.local);
    EXPECT_EQ(r.consumed, h.size());
  }
}

TEST(ProxyV2, UnspecAndUnixKeepTheSocketAddresses) {
  for (const std::string& h :
       {v2(1, 0x00, ""), v2(1, 0x31, std::string(216, '\0'))}) {
    ProxyInfo info;
    ProxyResult r = parse(h, &info);
    ASSERT_EQ(r.status, ProxyStatus::Done) << proxy_error_text(r.error);
    EXPECT_TRUE(info.local);
  }
}

TEST(ProxyV2, TheLengthLimitIsKnownFromThePreamble) {
  // Refused as soon as the 16-byte preamble says it is too long: the rest
  // is never waited for.
  const std::string h = v2(1, 0x11, ipv4_block(), "", 60000);
  ProxyInfo info;
  ProxyResult r = parse(h.substr(0, 16), &info);
  EXPECT_EQ(r.status, ProxyStatus::Invalid);
  EXPECT_EQ(r.error, ProxyError::V2TooLong);
  ProxyLimits wide;
  wide.max_v2_length = 70000;
  EXPECT_EQ(parse_proxy_header(h.substr(0, 16), &info, wide).status,
            ProxyStatus::NeedMore);
}

TEST(ProxyV2, AnEmptyTlvValueIsAccepted) {
  const std::string h = v2(1, 0x11, ipv4_block(), tlv(0x01, ""));
  ProxyInfo info;
  ASSERT_EQ(parse(h, &info).status, ProxyStatus::Done);
  EXPECT_EQ(info.alpn, "");
}

}  // namespace
