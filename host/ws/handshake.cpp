#include "ws/handshake.h"

#include <openssl/evp.h>

#include <cstring>

#include "ws/header_lists.h"

namespace pounce::ws {
namespace {

using detail::ieq;
using detail::view_of;

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// §4.1: "a base64-encoded value that, when decoded, is 16 bytes in
// length": 22 characters of the alphabet and "==".
bool is_valid_key(std::string_view key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!is_base64_char(key[i])) return false;
  }
  unsigned char decoded[18];
  // EVP_DecodeBlock counts the padding as zero bytes: 24 characters -> 18.
  return EVP_DecodeBlock(decoded,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         24) == 18;
}

Handshake refuse(http::ErrorCode code, const char* detail) {
  Handshake hs;
  hs.error = code;
  hs.detail = detail;
  return hs;
}

// The subprotocols offered and permessage-deflate, which both handshakes
// read alike. False (with *hs refused) when the offer is malformed.
bool read_offer(const pounce_header_t* headers, size_t count,
                const DeflateConfig& deflate_config, Handshake* hs) {
  for (size_t i = 0; i < count; ++i) {
    if (!ieq(view_of(headers[i].name), "sec-websocket-protocol")) continue;
    const char* bad = nullptr;
    detail::for_each_list_element(
        view_of(headers[i].value), [&](std::string_view protocol) {
          if (!detail::is_token(protocol)) {
            bad = "a Sec-WebSocket-Protocol element is not a token";
          } else if (hs->protocol_count == kMaxOfferedProtocols) {
            bad = "too many subprotocols offered";
          } else {
            hs->protocols[hs->protocol_count++] = {protocol.data(),
                                                   protocol.size()};
          }
          return bad == nullptr;
        });
    if (bad != nullptr) {
      *hs = refuse(http::ErrorCode::BadWebSocketHandshake, bad);
      return false;
    }
  }
  hs->deflate = negotiate_permessage_deflate(headers, count, deflate_config);
  return true;
}

}  // namespace

bool compute_accept(std::string_view key, char out[29]) {
  char input[128 + kAcceptGuid.size()];
  if (key.size() > 128) return false;
  memcpy(input, key.data(), key.size());
  memcpy(input + key.size(), kAcceptGuid.data(), kAcceptGuid.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input, key.size() + kAcceptGuid.size(), digest, &digest_len,
                 EVP_sha1(), nullptr) != 1 ||
      digest_len != 20) {
    return false;
  }
  return EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), digest, 20) ==
         28;
}

Handshake validate_handshake(const http::RequestHead& head,
                             const DeflateConfig& deflate_config) {
  return validate_handshake(head.method, head.version_minor, head.headers,
                            head.header_count, deflate_config);
}

Handshake validate_handshake(std::string_view method, uint8_t version_minor,
                             const pounce_header_t* headers, size_t count,
                             const DeflateConfig& deflate_config) {
  using http::ErrorCode;
  if (method != "GET") {
    return refuse(ErrorCode::BadWebSocketHandshake, "method is not GET");
  }
  if (version_minor < 1) {
    return refuse(ErrorCode::BadWebSocketHandshake, "HTTP/1.0 upgrade");
  }

  bool upgrade = false, connection = false;
  size_t version_fields = 0, key_fields = 0;
  std::string_view version, key;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view name = view_of(headers[i].name);
    const std::string_view value = view_of(headers[i].value);
    if (ieq(name, "upgrade")) {
      upgrade = upgrade || detail::list_has_token(value, "websocket");
    } else if (ieq(name, "connection")) {
      connection = connection || detail::list_has_token(value, "upgrade");
    } else if (ieq(name, "sec-websocket-version")) {
      ++version_fields;
      version = detail::trim_ows(value);
    } else if (ieq(name, "sec-websocket-key")) {
      ++key_fields;
      key = detail::trim_ows(value);
    }
  }
  if (!upgrade) {
    return refuse(ErrorCode::BadWebSocketHandshake,
                  "Upgrade does not list websocket");
  }
  if (!connection) {
    return refuse(ErrorCode::BadWebSocketHandshake,
                  "Connection does not list upgrade");
  }
  if (version_fields != 1 || version != "13") {
    return refuse(ErrorCode::WebSocketVersion,
                  version_fields == 0 ? "no Sec-WebSocket-Version"
                                      : "Sec-WebSocket-Version is not 13");
  }
  if (key_fields != 1 || !is_valid_key(key)) {
    return refuse(ErrorCode::BadWebSocketHandshake,
                  key_fields == 0   ? "no Sec-WebSocket-Key"
                  : key_fields != 1 ? "several Sec-WebSocket-Key fields"
                                    : "malformed Sec-WebSocket-Key");
  }

  Handshake hs;
  if (!read_offer(headers, count, deflate_config, &hs)) return hs;
  if (!compute_accept(key, hs.accept_buf)) {
    return refuse(ErrorCode::BadWebSocketHandshake,
                  "cannot compute Sec-WebSocket-Accept");
  }
  return hs;
}

Handshake validate_extended_connect(const http::RequestHead& head,
                                    const DeflateConfig& deflate_config) {
  using http::ErrorCode;
  size_t version_fields = 0;
  std::string_view version;
  for (size_t i = 0; i < head.header_count; ++i) {
    if (ieq(view_of(head.headers[i].name), "sec-websocket-version")) {
      ++version_fields;
      version = detail::trim_ows(view_of(head.headers[i].value));
    }
  }
  if (version_fields != 1 || version != "13") {
    return refuse(ErrorCode::WebSocketVersion,
                  version_fields == 0 ? "no Sec-WebSocket-Version"
                                      : "Sec-WebSocket-Version is not 13");
  }
  Handshake hs;
  read_offer(head.headers, head.header_count, deflate_config, &hs);
  return hs;
}

bool append_101_header_lines(ByteBuffer& out, const Handshake& hs,
                             int32_t chosen_protocol) {
  if (!hs.ok() || chosen_protocol < -1 ||
      (chosen_protocol >= 0 &&
       static_cast<size_t>(chosen_protocol) >= hs.protocol_count)) {
    return false;
  }
  out.append(
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  out.append(hs.accept());
  out.append("\r\n");
  if (chosen_protocol >= 0) {
    out.append("Sec-WebSocket-Protocol: ");
    out.append(view_of(hs.protocols[chosen_protocol]));
    out.append("\r\n");
  }
  if (hs.deflate.accepted) {
    out.append("Sec-WebSocket-Extensions: ");
    out.append(hs.deflate.response());
    out.append("\r\n");
  }
  return true;
}

bool append_accept_header_lines(ByteBuffer& out, const Handshake& hs,
                                int32_t chosen_protocol) {
  if (!hs.ok() || chosen_protocol < -1 ||
      (chosen_protocol >= 0 &&
       static_cast<size_t>(chosen_protocol) >= hs.protocol_count)) {
    return false;
  }
  if (chosen_protocol >= 0) {
    out.append("Sec-WebSocket-Protocol: ");
    out.append(view_of(hs.protocols[chosen_protocol]));
    out.append("\r\n");
  }
  if (hs.deflate.accepted) {
    out.append("Sec-WebSocket-Extensions: ");
    out.append(hs.deflate.response());
    out.append("\r\n");
  }
  return true;
}

bool append_101_response(ByteBuffer& out, const Handshake& hs,
                         int32_t chosen_protocol,
                         std::string_view extra_lines) {
  const size_t start = out.size();
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  if (!append_101_header_lines(out, hs, chosen_protocol)) {
    out.truncate(start);
    return false;
  }
  out.append(extra_lines);
  out.append("\r\n");
  return true;
}

}  // namespace pounce::ws
