// The server side of the WebSocket opening handshake (RFC 6455 §4.2):
// validating the upgrade request, Sec-WebSocket-Accept, the offered
// subprotocols, permessage-deflate, and the 101 response.
//
// A pure function over the parsed request head, like the HTTP parser: the
// views it returns point into the request's bytes.
//
// What is checked, in this order (the first failure is reported):
//   method GET, HTTP/1.1 or later             else 400 BAD_WEBSOCKET_HANDSHAKE
//   Upgrade lists the token "websocket"       else 400
//   Connection lists the token "upgrade"      else 400
//     (both case-insensitive token lists, over all fields of the name:
//     Firefox sends "Connection: keep-alive, Upgrade")
//   exactly one Sec-WebSocket-Version, "13"   else 426 WEBSOCKET_VERSION,
//     with kVersionRejectHeaders in the response (§4.2.2)
//   exactly one Sec-WebSocket-Key, base64 of 16 bytes (22 characters and
//     "==")                                   else 400
//   Sec-WebSocket-Protocol: tokens, at most kMaxOfferedProtocols
//                                             else 400
// Sec-WebSocket-Extensions never fails the handshake: without an acceptable
// permessage-deflate offer the socket opens uncompressed.
#pragma once

#include <pounce/pounce.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/byte_buffer.h"
#include "http/error_code.h"
#include "http/head_parser.h"
#include "ws/permessage_deflate.h"

namespace pounce::ws {

inline constexpr size_t kMaxOfferedProtocols = 32;

// The GUID of RFC 6455 §1.3.
inline constexpr std::string_view kAcceptGuid =
    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Header lines of the 426 answer to a wrong or missing version (§4.2.2,
// RFC 9110 §15.5.22: a 426 carries Upgrade).
inline constexpr std::string_view kVersionRejectHeaders =
    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";

struct Handshake {
  // None: accept. BadWebSocketHandshake (400) or WebSocketVersion (426):
  // answer with that error (for 426, add kVersionRejectHeaders).
  http::ErrorCode error = http::ErrorCode::None;
  const char* detail = "";  // why it was refused, for the log line

  // The Sec-WebSocket-Accept value (28 characters).
  std::string_view accept() const { return {accept_buf, 28}; }
  char accept_buf[29] = {};

  // The offered subprotocols in offer order, as views of the request, for
  // pounce_ws_upgrade_t::offered_protocols. The plugin picks one by index.
  pounce_str_t protocols[kMaxOfferedProtocols] = {};
  size_t protocol_count = 0;

  // permessage-deflate: deflate.accepted, deflate.params for the
  // PerMessageDeflate of the socket, deflate.response() for the 101.
  DeflateNegotiation deflate;

  bool ok() const { return error == http::ErrorCode::None; }
};

// Validates an upgrade request. `deflate_config` is the compression policy
// (a host bounding memory may pass a copy with server_no_context_takeover
// and client_no_context_takeover forced).
Handshake validate_handshake(const http::RequestHead& head,
                             const DeflateConfig& deflate_config);
Handshake validate_handshake(std::string_view method, uint8_t version_minor,
                             const pounce_header_t* headers, size_t count,
                             const DeflateConfig& deflate_config);

// RFC 8441 §4 (WebSockets over HTTP/2): an extended CONNECT whose
// :protocol is "websocket" (the caller checked both). Exactly one
// Sec-WebSocket-Version, "13" (else 426), and the subprotocols and
// permessage-deflate read as above; there is no Upgrade, Connection or
// Sec-WebSocket-Key (the stream is the upgrade), so no accept value.
Handshake validate_extended_connect(const http::RequestHead& head,
                                    const DeflateConfig& deflate_config);

// Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) (§4.2.2 item 5.4), into
// out[0..29) with a NUL at out[28]. False when libcrypto fails or the key is
// over 128 bytes (a valid key has 24).
bool compute_accept(std::string_view key, char out[29]);

// Appends the header lines of the 101 after its status line:
//   Upgrade: websocket / Connection: Upgrade / Sec-WebSocket-Accept,
//   Sec-WebSocket-Protocol when `chosen_protocol` >= 0,
//   Sec-WebSocket-Extensions when permessage-deflate was agreed.
// False (nothing appended) when chosen_protocol is neither -1 nor an index
// of hs.protocols: a plugin may only choose what the client offered.
[[nodiscard]] bool append_101_header_lines(ByteBuffer& out, const Handshake& hs,
                                           int32_t chosen_protocol);
// The header lines of the 200 that accepts an extended CONNECT (RFC 8441
// §5): Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when chosen.
// False as above.
[[nodiscard]] bool append_accept_header_lines(ByteBuffer& out,
                                              const Handshake& hs,
                                              int32_t chosen_protocol);
// The whole 101 head: status line, the lines above, `extra_lines` (each
// ending in CRLF, e.g. Date and Server), and the empty line.
[[nodiscard]] bool append_101_response(ByteBuffer& out, const Handshake& hs,
                                       int32_t chosen_protocol,
                                       std::string_view extra_lines = {});

}  // namespace pounce::ws
