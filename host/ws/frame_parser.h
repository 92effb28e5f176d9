// Decoding of client frame headers and unmasking of their payload
// (RFC 6455 §5.2, §5.3). Pure functions over the caller's bytes, used by
// the MessageAssembler; the per-message rules (continuation order, size
// limit, UTF-8) live there.
//
// Strictness (every violation fails the connection with 1002):
// - RSV2 and RSV3 must be 0; RSV1 only with permessage-deflate, on the
//   first frame of a data message (RFC 7692 §6.1), never on a control or
//   continuation frame.
// - Opcodes 3-7 and B-F are reserved.
// - Client frames must be masked (§5.1).
// - Control frames: FIN set and at most 125 bytes (§5.5).
// - Lengths must use the minimal encoding (§5.2: "the minimal number of
//   bytes MUST be used"): 126 followed by a value below 126, or 127
//   followed by a value below 65536, is refused. Browsers and the common
//   libraries always encode minimally; accepting the others would only
//   widen what the fuzzers and the differential tests must agree on.
// - The 64-bit length must have its most significant bit clear.
// Each check fails as soon as the bytes it needs are there, so that an
// unmasked frame is refused after its first two bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ws/frame.h"

namespace pounce::ws {

struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;
  Opcode opcode = Opcode::Continuation;
  uint8_t header_size = 0;  // 6, 8 or 14 for a (masked) client frame
  uint64_t payload_len = 0;
  uint8_t mask[4] = {0, 0, 0, 0};
};

enum class HeaderStatus : uint8_t {
  Complete,    // *out is filled; the payload starts at p + out->header_size
  Incomplete,  // no error in the bytes seen; call again with more
  Error,       // fail the connection with 1002; *error says why
};

// Parses the header of a client frame at p[0..n). `allow_rsv1` is true
// when permessage-deflate was negotiated.
HeaderStatus parse_client_frame_header(const uint8_t* p, size_t n,
                                       bool allow_rsv1, FrameHeader* out,
                                       const char** error);

// dst[i] = src[i] ^ mask[(phase + i) % 4] for i < n; dst may equal src
// (unmasking in place). Works 8 bytes at a time. Returns the phase of the
// next byte, (phase + n) % 4, so that a payload can be unmasked in pieces
// as it arrives.
uint32_t unmask(uint8_t* dst, const uint8_t* src, size_t n,
                const uint8_t mask[4], uint32_t phase);

}  // namespace pounce::ws
