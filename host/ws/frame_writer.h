// Server frames (RFC 6455 §5.2): never masked (§5.1), always FIN unless
// the caller fragments, RSV1 on compressed messages (RFC 7692 §6).
//
// Two shapes: append_* write header and payload into a ByteBuffer (small
// messages, control frames, compressed messages), and encode_frame_header
// writes just the header bytes, for a writev of header + the caller's
// payload without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/byte_buffer.h"
#include "ws/frame.h"

namespace pounce::ws {

class PerMessageDeflate;

// The header size of a server frame with `payload_len` bytes: 2, 4 or 10.
constexpr size_t frame_header_size(uint64_t payload_len) {
  return payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10;
}

// Writes the header into out[0..kMaxServerHeader) and returns its size.
// The length uses the minimal encoding.
size_t encode_frame_header(uint8_t* out, Opcode opcode, uint64_t payload_len,
                           bool fin = true, bool rsv1 = false);

// Appends one frame. Control frames must have at most 125 bytes (checked by
// the append_ping/pong/close helpers, not here). False, with nothing
// appended and out.failed() set, when there is no memory for it (so are the
// helpers below).
bool append_frame(ByteBuffer& out, Opcode opcode, std::string_view payload,
                  bool fin = true, bool rsv1 = false);

// Appends a whole text or binary message as one frame, compressed (RSV1)
// when `deflate` is given and deflate->should_compress(payload.size()).
// Returns false, with nothing appended (and out as whole as before), when
// there was no memory for the frame or the compressor. Text is not validated
// here: the host checks a plugin's text with is_valid_utf8() when it wants to.
bool append_message(ByteBuffer& out, Opcode opcode, std::string_view payload,
                    PerMessageDeflate* deflate = nullptr);

// Ping and pong carry at most 125 bytes; false (nothing appended) if more.
[[nodiscard]] bool append_ping(ByteBuffer& out, std::string_view payload);
bool append_pong(ByteBuffer& out, std::string_view payload);

// A close frame (§5.5.1). `code` must be one a close frame may carry
// (is_valid_close_code), and `reason` at most 123 bytes of valid UTF-8;
// or `code` is 1005 (no status) with an empty reason, which sends an empty
// close payload. Returns false, with nothing appended, otherwise.
// For the reply to a peer's close, pass the code of its Close event: the
// reply echoes it (§5.5.1), and is empty when the peer sent no code.
[[nodiscard]] bool append_close(ByteBuffer& out, uint16_t code,
                                std::string_view reason = {});

}  // namespace pounce::ws
