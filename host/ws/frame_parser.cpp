#include "ws/frame_parser.h"

#include <cstring>

namespace pounce::ws {
namespace {

constexpr bool is_known_opcode(uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

}  // namespace

HeaderStatus parse_client_frame_header(const uint8_t* p, size_t n,
                                       bool allow_rsv1, FrameHeader* out,
                                       const char** error) {
  if (n < 1) return HeaderStatus::Incomplete;
  const uint8_t b0 = p[0];
  const uint8_t op = b0 & kOpcodeMask;
  const bool control = (op & 0x8) != 0;
  const char* why = nullptr;
  if ((b0 & (kRsv2 | kRsv3)) != 0) {
    why = "reserved bit RSV2 or RSV3 set";
  } else if (!is_known_opcode(op)) {
    why = "reserved opcode";
  } else if ((b0 & kRsv1) != 0 && !allow_rsv1) {
    why = "RSV1 set without permessage-deflate";
  } else if ((b0 & kRsv1) != 0 && (control || op == 0)) {
    // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message.
    why = control ? "RSV1 set on a control frame"
                  : "RSV1 set on a continuation frame";
  } else if (control && (b0 & kFin) == 0) {
    why = "fragmented control frame";
  }
  if (why == nullptr && n >= 2) {
    const uint8_t b1 = p[1];
    if ((b1 & kMaskBit) == 0) {
      why = "unmasked client frame";
    } else if (control && (b1 & 0x7F) > kMaxControlPayload) {
      why = "control frame payload over 125 bytes";
    } else if ((b1 & 0x7F) == 127 && n >= 3 && (p[2] & 0x80) != 0) {
      why = "64-bit payload length with the most significant bit set";
    }
  }
  if (why != nullptr) {
    *error = why;
    return HeaderStatus::Error;
  }
  if (n < 2) return HeaderStatus::Incomplete;

  const uint8_t len7 = p[1] & 0x7F;
  uint64_t len = len7;
  size_t size = 6;
  if (len7 == 126) {
    if (n < 4) return HeaderStatus::Incomplete;
    len = static_cast<uint64_t>(p[2]) << 8 | p[3];
    if (len < 126) {
      *error = "non-minimal 16-bit payload length";
      return HeaderStatus::Error;
    }
    size = 8;
  } else if (len7 == 127) {
    if (n < 10) return HeaderStatus::Incomplete;
    len = 0;
    for (int i = 2; i < 10; ++i) len = len << 8 | p[i];
    if (len < 65536) {
      *error = "non-minimal 64-bit payload length";
      return HeaderStatus::Error;
    }
    size = 14;
  }
  if (n < size) return HeaderStatus::Incomplete;

  out->fin = (b0 & kFin) != 0;
  out->rsv1 = (b0 & kRsv1) != 0;
  out->opcode = static_cast<Opcode>(op);
  out->header_size = static_cast<uint8_t>(size);
  out->payload_len = len;
  memcpy(out->mask, p + size - 4, 4);
  return HeaderStatus::Complete;
}

uint32_t unmask(uint8_t* dst, const uint8_t* src, size_t n,
                const uint8_t mask[4], uint32_t phase) {
  phase &= 3;
  // The key rotated to start at `phase`, repeated over 8 bytes: XOR with a
  // 64-bit word then applies it to 8 bytes whatever their alignment.
  uint8_t rotated[8];
  for (int i = 0; i < 8; ++i) rotated[i] = mask[(phase + i) & 3];
  uint64_t key;
  memcpy(&key, rotated, 8);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    memcpy(w, src + i, 32);
    w[0] ^= key;
    w[1] ^= key;
    w[2] ^= key;
    w[3] ^= key;
    memcpy(dst + i, w, 32);
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, 8);
    w ^= key;
    memcpy(dst + i, &w, 8);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ rotated[i & 7];
  return static_cast<uint32_t>((phase + n) & 3);
}

}  // namespace pounce::ws
