// The WebSocket base framing protocol (RFC 6455 §5.2), shared by the
// parser of client frames and the writer of server frames.
//
//   byte 0: FIN RSV1 RSV2 RSV3 opcode(4)
//   byte 1: MASK payload-len(7)      126: 16-bit length follows,
//                                    127: 64-bit length follows (MSB 0)
//   then the masking key (4 bytes) when MASK is set, then the payload.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pounce::ws {

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

constexpr bool is_control(Opcode op) {
  return (static_cast<uint8_t>(op) & 0x8) != 0;
}

inline constexpr uint8_t kFin = 0x80;
inline constexpr uint8_t kRsv1 = 0x40;  // "compressed" with permessage-deflate
inline constexpr uint8_t kRsv2 = 0x20;
inline constexpr uint8_t kRsv3 = 0x10;
inline constexpr uint8_t kOpcodeMask = 0x0F;
inline constexpr uint8_t kMaskBit = 0x80;

// Control frames carry at most 125 bytes (§5.5).
inline constexpr size_t kMaxControlPayload = 125;
// 2 + 8 (64-bit length) + 4 (masking key).
inline constexpr size_t kMaxClientHeader = 14;
// Server frames are never masked: 2 + 8.
inline constexpr size_t kMaxServerHeader = 10;

// The default of --ws-max-message-size (after decompression).
inline constexpr uint64_t kDefaultMaxMessageSize = 16u * 1024 * 1024;

}  // namespace pounce::ws
