#include "http/proxy_header.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cstring>

#include "http/address_text.h"

namespace pounce::http {
namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr char kV2SignatureBytes[] = "\r\n\r\n\0\r\nQUIT\n";
constexpr std::string_view kV2Signature(kV2SignatureBytes, 12);
constexpr size_t kV2Preamble = 16;  // signature, ver_cmd, family, length
// The longest v1 line the specification allows, CRLF included:
// "PROXY TCP6 " + two full IPv6 addresses + two ports + spaces + CRLF.
constexpr size_t kV1MaxLength = 107;

constexpr uint8_t kTlvAlpn = 0x01;
constexpr uint8_t kTlvAuthority = 0x02;

ProxyResult done(size_t consumed) {
  return {ProxyStatus::Done, ProxyError::None, consumed};
}
ProxyResult invalid(ProxyError error) {
  return {ProxyStatus::Invalid, error, 0};
}
ProxyResult need_more() {
  return {};
}

// True when `input` is a prefix of `signature`, or starts with all of it.
bool matches_prefix(std::string_view input, std::string_view signature) {
  const size_t n =
      input.size() < signature.size() ? input.size() : signature.size();
  return input.substr(0, n) == signature.substr(0, n);
}

// Fills `out` from an address in text and a port; false when either is bad
// for the family.
bool parse_address(std::string_view text, std::string_view port_text, bool ipv6,
                   sockaddr_storage* out) {
  uint16_t port = 0;
  return parse_port(port_text, &port) && parse_ip(text, ipv6, port, out);
}

ProxyResult parse_v1(std::string_view input, ProxyInfo* info) {
  const size_t window =
      input.size() < kV1MaxLength ? input.size() : kV1MaxLength;
  const size_t cr = input.substr(0, window).find('\r');
  if (cr == std::string_view::npos) {
    // A bare LF ends no v1 line; without a CR in the window there is none.
    if (input.substr(0, window).find('\n') != std::string_view::npos) {
      return invalid(ProxyError::V1BadFields);
    }
    return input.size() >= kV1MaxLength ? invalid(ProxyError::V1TooLong)
                                        : need_more();
  }
  if (cr + 1 >= input.size()) {
    return cr + 1 >= kV1MaxLength ? invalid(ProxyError::V1TooLong)
                                  : need_more();
  }
  if (cr + 2 > kV1MaxLength) return invalid(ProxyError::V1TooLong);
  if (input[cr + 1] != '\n') return invalid(ProxyError::V1BadFields);
  std::string_view line =
      input.substr(kV1Signature.size(), cr - kV1Signature.size());
  info->version = 1;
  if (line == "UNKNOWN" || line.substr(0, 8) == "UNKNOWN ") {
    // The balancer could not tell (or its own connection): whatever
    // follows is to be ignored, the socket's addresses stay.
    info->local = true;
    return done(cr + 2);
  }

  // Fields separated by exactly one space.
  std::string_view fields[6];
  size_t count = 0;
  while (true) {
    const size_t space = line.find(' ');
    if (count == 6) return invalid(ProxyError::V1BadFields);
    fields[count++] = line.substr(0, space);
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  const bool ipv6 = fields[0] == "TCP6";
  if (!ipv6 && fields[0] != "TCP4") {
    return invalid(ProxyError::V1UnknownFamily);
  }
  if (count != 5 || !parse_address(fields[1], fields[3], ipv6, &info->source) ||
      !parse_address(fields[2], fields[4], ipv6, &info->destination)) {
    return invalid(ProxyError::V1BadFields);
  }
  info->local = false;
  return done(cr + 2);
}

uint16_t read_be16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) << 8 |
                               static_cast<uint8_t>(p[1]));
}

// A name as a balancer forwards it: visible ASCII only, so that it can go
// into a log line or a header unescaped.
bool is_visible_ascii(std::string_view value) {
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f) return false;
  }
  return true;
}

ProxyResult parse_tlvs(std::string_view tlvs, ProxyInfo* info) {
  while (!tlvs.empty()) {
    if (tlvs.size() < 3) return invalid(ProxyError::V2BadTlv);
    const auto type = static_cast<uint8_t>(tlvs[0]);
    const uint16_t length = read_be16(tlvs.data() + 1);
    if (length > tlvs.size() - 3) return invalid(ProxyError::V2BadTlv);
    const std::string_view value = tlvs.substr(3, length);
    if (type == kTlvAlpn) {
      info->alpn = value;
    } else if (type == kTlvAuthority) {
      if (!is_visible_ascii(value)) return invalid(ProxyError::V2BadTlv);
      info->authority = value;
    }
    // Other TLVs (CRC32C, unique id, SSL, netns, NOOP and the custom
    // ranges) are skipped: bounded by the header length.
    tlvs.remove_prefix(3 + length);
  }
  return done(0);
}

ProxyResult parse_v2(std::string_view input, ProxyInfo* info,
                     const ProxyLimits& limits) {
  if (input.size() < kV2Preamble) return need_more();
  const auto ver_cmd = static_cast<uint8_t>(input[12]);
  const auto family = static_cast<uint8_t>(input[13]);
  const size_t total = kV2Preamble + read_be16(input.data() + 14);
  if ((ver_cmd >> 4) != 2) return invalid(ProxyError::V2BadVersion);
  const uint8_t command = ver_cmd & 0x0f;
  if (command > 1) return invalid(ProxyError::V2BadVersion);
  if (total > limits.max_v2_length) return invalid(ProxyError::V2TooLong);
  if (input.size() < total) return need_more();
  info->version = 2;

  std::string_view body = input.substr(kV2Preamble, total - kV2Preamble);
  if (command == 0) {
    // LOCAL: the balancer's own connection (health checks). The address
    // block, whatever its family, is skipped.
    info->local = true;
    return done(total);
  }
  const uint8_t address_family = family >> 4;
  const uint8_t transport = family & 0x0f;
  size_t address_length = 0;
  switch (address_family) {
    case 0x0:  // AF_UNSPEC: the sender could not tell; keep ours.
      address_length = 0;
      break;
    case 0x1:
      address_length = 12;
      break;
    case 0x2:
      address_length = 36;
      break;
    case 0x3:
      address_length = 216;
      break;
    default:
      return invalid(ProxyError::V2BadFamily);
  }
  // We serve streams; a datagram source is not one of our clients.
  if (address_family != 0 && transport != 0x1) {
    return invalid(ProxyError::V2BadFamily);
  }
  if (body.size() < address_length) return invalid(ProxyError::V2BadLength);
  const char* a = body.data();
  if (address_family == 0x1) {
    auto* src = reinterpret_cast<sockaddr_in*>(&info->source);
    auto* dst = reinterpret_cast<sockaddr_in*>(&info->destination);
    info->source = {};
    info->destination = {};
    src->sin_family = AF_INET;
    dst->sin_family = AF_INET;
    std::memcpy(&src->sin_addr, a, 4);
    std::memcpy(&dst->sin_addr, a + 4, 4);
    std::memcpy(&src->sin_port, a + 8, 2);
    std::memcpy(&dst->sin_port, a + 10, 2);
    info->local = false;
  } else if (address_family == 0x2) {
    auto* src = reinterpret_cast<sockaddr_in6*>(&info->source);
    auto* dst = reinterpret_cast<sockaddr_in6*>(&info->destination);
    info->source = {};
    info->destination = {};
    src->sin6_family = AF_INET6;
    dst->sin6_family = AF_INET6;
    std::memcpy(&src->sin6_addr, a, 16);
    std::memcpy(&dst->sin6_addr, a + 16, 16);
    std::memcpy(&src->sin6_port, a + 32, 2);
    std::memcpy(&dst->sin6_port, a + 34, 2);
    info->local = false;
  } else {
    // UNSPEC, or a Unix-socket client of the balancer: no address of
    // ours to report; the socket's stays.
    info->local = true;
  }
  ProxyResult tlvs = parse_tlvs(body.substr(address_length), info);
  if (tlvs.status != ProxyStatus::Done) return tlvs;
  return done(total);
}

}  // namespace

const char* proxy_error_text(ProxyError error) {
  switch (error) {
    case ProxyError::None:
      return "none";
    case ProxyError::NotProxy:
      return "no PROXY protocol header";
    case ProxyError::V1TooLong:
      return "PROXY v1 line longer than 107 bytes";
    case ProxyError::V1BadFields:
      return "malformed PROXY v1 line";
    case ProxyError::V1UnknownFamily:
      return "unknown PROXY v1 protocol family";
    case ProxyError::V2BadVersion:
      return "bad PROXY v2 version or command";
    case ProxyError::V2BadFamily:
      return "unsupported PROXY v2 address family or transport";
    case ProxyError::V2BadLength:
      return "PROXY v2 length too short for its addresses";
    case ProxyError::V2TooLong:
      return "PROXY v2 header over the length limit";
    case ProxyError::V2BadTlv:
      return "malformed PROXY v2 TLV";
  }
  return "unknown";
}

ProxyResult parse_proxy_header(std::string_view input, ProxyInfo* info,
                               const ProxyLimits& limits) {
  if (input.empty()) return need_more();
  if (matches_prefix(input, kV2Signature)) {
    return input.size() < kV2Signature.size() ? need_more()
                                              : parse_v2(input, info, limits);
  }
  if (matches_prefix(input, kV1Signature)) {
    return input.size() < kV1Signature.size() ? need_more()
                                              : parse_v1(input, info);
  }
  return invalid(ProxyError::NotProxy);
}

}  // namespace pounce::http
