// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
// 2) that a load balancer sends before the client's first byte, so that the
// server learns the real client's address.
//
// Like the head parser, it accepts its input split at any byte: the caller
// offers everything received so far and gets NeedMore until the header is
// complete. The version is detected from the first bytes. Nothing is
// allocated: addresses are decoded into the result, TLV values are views
// into the caller's buffer (valid while that buffer is).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce::http {

enum class ProxyStatus : uint8_t {
  NeedMore,  // a prefix of a valid header; offer more bytes
  Done,      // `consumed` bytes are the header; the client's bytes follow
  Invalid,   // not a PROXY header, or a malformed one; close the connection
};

// Why a header was refused: the log line's reason.
enum class ProxyError : uint8_t {
  None,
  NotProxy,         // neither signature: the peer did not send the header
  V1TooLong,        // no CRLF within 107 bytes
  V1BadFields,      // wrong field count, bad address or port
  V1UnknownFamily,  // neither TCP4, TCP6 nor UNKNOWN
  V2BadVersion,     // version nibble is not 2, or an unknown command
  V2BadFamily,      // an address family or transport we do not know
  V2BadLength,      // length too short for the family's addresses
  V2TooLong,        // longer than ProxyLimits::max_v2_length
  V2BadTlv,         // a TLV that runs past the header, or a bad value
};

const char* proxy_error_text(ProxyError error);

struct ProxyLimits {
  // The whole v2 header (16-byte preamble + addresses + TLVs). HAProxy's
  // own headers with SSL and unique-id TLVs stay well below 1 KiB; a bound
  // keeps a peer from making us buffer more than one read before the HTTP
  // head parser's limits apply.
  size_t max_v2_length = 4096;
};

struct ProxyInfo {
  // LOCAL (v2) or UNKNOWN (v1): the balancer's own connection (a health
  // check); the socket's addresses stay the truth.
  bool local = false;
  sockaddr_storage source{};  // the client, when !local
  sockaddr_storage destination{};
  // v2 TLVs we use (empty when absent): PP2_TYPE_ALPN and
  // PP2_TYPE_AUTHORITY (the SNI name the balancer received).
  std::string_view alpn;
  std::string_view authority;
  uint8_t version = 0;  // 1 or 2
};

struct ProxyResult {
  ProxyStatus status = ProxyStatus::NeedMore;
  ProxyError error = ProxyError::None;
  size_t consumed = 0;  // header bytes, when Done
};

// Parses the header at the start of `input` into `*info`.
ProxyResult parse_proxy_header(std::string_view input, ProxyInfo* info,
                               const ProxyLimits& limits = {});

}  // namespace pounce::http
