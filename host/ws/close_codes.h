// WebSocket close status codes (RFC 6455 §7.4 and the IANA "WebSocket
// Close Code Number Registry").
#pragma once

#include <cstdint>

namespace pounce::ws {

namespace close_code {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;  // server shutdown, reload
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
// 1004 is reserved. 1005 and 1006 are never sent: they stand for "no code
// in the close frame" and "no close frame at all" in on_ws_close.
inline constexpr uint16_t kNoStatus = 1005;
inline constexpr uint16_t kAbnormal = 1006;
inline constexpr uint16_t kInvalidPayload = 1007;  // bad UTF-8, bad deflate
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kMessageTooBig = 1009;
inline constexpr uint16_t kMandatoryExtension = 1010;  // client only
inline constexpr uint16_t kInternalError = 1011;
inline constexpr uint16_t kServiceRestart = 1012;  // IANA
inline constexpr uint16_t kTryAgainLater = 1013;   // IANA
inline constexpr uint16_t kBadGateway = 1014;      // IANA
// 1015 (TLS handshake failure) is never sent either.
}  // namespace close_code

// May `code` appear in a close frame on the wire? 1000-1003 and 1007-1014
// (registered), 3000-4999 (libraries, frameworks, applications). Everything
// else -- 0-999, 1004-1006, 1015, the unassigned 1016-2999, 5000 and up --
// fails the connection with 1002 when a client sends it (RFC 6455 §7.4.1,
// §7.4.2).
constexpr bool is_valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// The maximum reason length: a control frame carries at most 125 bytes,
// two of which are the code (RFC 6455 §5.5).
inline constexpr uint32_t kMaxCloseReason = 123;

// The code to hand to on_ws_close. `got_close_frame` is false when the
// connection ended without a close frame from the peer (reset, EOF,
// timeout): 1006. A close frame without a payload is 1005 (the assembler
// already reports it so).
constexpr uint16_t close_code_for_plugin(bool got_close_frame,
                                         uint16_t frame_code) {
  return got_close_frame ? frame_code : close_code::kAbnormal;
}

}  // namespace pounce::ws
