#include "ws/frame_writer.h"

#include <cstring>

#include "ws/close_codes.h"
#include "ws/permessage_deflate.h"
#include "ws/utf8_validator.h"

namespace pounce::ws {

size_t encode_frame_header(uint8_t* out, Opcode opcode, uint64_t payload_len,
                           bool fin, bool rsv1) {
  out[0] = static_cast<uint8_t>((fin ? kFin : 0) | (rsv1 ? kRsv1 : 0) |
                                static_cast<uint8_t>(opcode));
  if (payload_len < 126) {
    out[1] = static_cast<uint8_t>(payload_len);
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_len >> 8);
    out[3] = static_cast<uint8_t>(payload_len);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) {
    out[2 + i] = static_cast<uint8_t>(payload_len >> (56 - 8 * i));
  }
  return 10;
}

bool append_frame(ByteBuffer& out, Opcode opcode, std::string_view payload,
                  bool fin, bool rsv1) {
  uint8_t* p = reinterpret_cast<uint8_t*>(
      out.prepare(kMaxServerHeader + payload.size()));
  if (!p) return false;
  const size_t h = encode_frame_header(p, opcode, payload.size(), fin, rsv1);
  if (!payload.empty()) memcpy(p + h, payload.data(), payload.size());
  out.commit(h + payload.size());
  return true;
}

bool append_message(ByteBuffer& out, Opcode opcode, std::string_view payload,
                    PerMessageDeflate* deflate) {
  const bool whole_before = !out.failed();
  const size_t start = out.size();
  // Undoes a failed append: out is as it was, failure included.
  auto fail = [&] {
    out.truncate(start);
    if (whole_before) out.forget_failure();
    return false;
  };
  if (deflate == nullptr || !deflate->should_compress(payload.size())) {
    return append_frame(out, opcode, payload) || fail();
  }
  // The compressed size is known only afterwards. Leave room for the
  // header its input size suggests, compress behind it, then write the
  // header, moving the payload when the guess was too big.
  const size_t guess = frame_header_size(payload.size());
  if (!out.resize(start + guess)) return fail();
  if (!deflate->compress(payload.data(), payload.size(), out)) return fail();
  const size_t compressed = out.size() - start - guess;
  uint8_t header[kMaxServerHeader];
  const size_t h = encode_frame_header(header, opcode, compressed, true, true);
  if (h > guess) {  // incompressible data grew past a length boundary
    if (!out.resize(start + h + compressed)) return fail();
    memmove(out.data() + start + h, out.data() + start + guess, compressed);
  } else if (h < guess) {
    memmove(out.data() + start + h, out.data() + start + guess, compressed);
    out.truncate(start + h + compressed);
  }
  memcpy(out.data() + start, header, h);
  return true;
}

bool append_ping(ByteBuffer& out, std::string_view payload) {
  if (payload.size() > kMaxControlPayload) return false;
  return append_frame(out, Opcode::Ping, payload);
}

bool append_pong(ByteBuffer& out, std::string_view payload) {
  if (payload.size() > kMaxControlPayload) return false;
  return append_frame(out, Opcode::Pong, payload);
}

bool append_close(ByteBuffer& out, uint16_t code, std::string_view reason) {
  if (code == close_code::kNoStatus && reason.empty()) {
    return append_frame(out, Opcode::Close, {});
  }
  if (!is_valid_close_code(code) || reason.size() > kMaxCloseReason ||
      !is_valid_utf8(reason)) {
    return false;
  }
  char payload[2 + kMaxCloseReason];
  payload[0] = static_cast<char>(code >> 8);
  payload[1] = static_cast<char>(code & 0xFF);
  if (!reason.empty()) memcpy(payload + 2, reason.data(), reason.size());
  return append_frame(out, Opcode::Close,
                      std::string_view(payload, 2 + reason.size()));
}

}  // namespace pounce::ws
