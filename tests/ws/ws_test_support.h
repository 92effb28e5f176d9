// Helpers of the host/ws tests: building client frames (masked, any length
// encoding), a zlib client for permessage-deflate, and running a
// MessageAssembler over a byte string split in any way.
//
// Every chunk fed to the assembler is copied into a heap buffer of its
// exact size, so that AddressSanitizer catches a read past the end.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "ws/frame.h"
#include "ws/message_assembler.h"

namespace pounce::ws::testing {

// "81 85 37 fa" -> bytes. Spaces are ignored.
std::string from_hex(std::string_view hex);
std::string to_hex(std::string_view bytes);

inline constexpr uint8_t kDefaultMask[4] = {0x37, 0xfa, 0x21, 0x3d};

enum class LenEncoding : uint8_t { Minimal, Force16, Force64 };

// A client frame: byte 0 as given (FIN, RSV, opcode), masked with `mask`.
std::string client_frame(uint8_t b0, std::string_view payload,
                         const uint8_t mask[4] = kDefaultMask,
                         LenEncoding enc = LenEncoding::Minimal);
// The same without the mask bit (invalid from a client).
std::string unmasked_frame(uint8_t b0, std::string_view payload);

inline uint8_t b0(Opcode op, bool fin = true, bool rsv1 = false) {
  return static_cast<uint8_t>((fin ? kFin : 0) | (rsv1 ? kRsv1 : 0) |
                              static_cast<uint8_t>(op));
}
inline std::string text(std::string_view s, bool fin = true) {
  return client_frame(b0(Opcode::Text, fin), s);
}
inline std::string binary(std::string_view s, bool fin = true) {
  return client_frame(b0(Opcode::Binary, fin), s);
}
inline std::string cont(std::string_view s, bool fin = true) {
  return client_frame(b0(Opcode::Continuation, fin), s);
}
inline std::string ping(std::string_view s) {
  return client_frame(b0(Opcode::Ping), s);
}
inline std::string pong(std::string_view s) {
  return client_frame(b0(Opcode::Pong), s);
}
std::string close_frame(uint16_t code, std::string_view reason = {});

// An event with its bytes copied, comparable.
struct Rec {
  EventType type = EventType::None;
  Opcode opcode = Opcode::Text;
  uint16_t code = 0;
  std::string data;
  bool operator==(const Rec& o) const;
};
std::ostream& operator<<(std::ostream& os, const Rec& r);

Rec msg(Opcode op, std::string_view data);
inline Rec text_msg(std::string_view d) {
  return msg(Opcode::Text, d);
}
inline Rec binary_msg(std::string_view d) {
  return msg(Opcode::Binary, d);
}
Rec ping_ev(std::string_view d);
Rec pong_ev(std::string_view d);
Rec close_ev(uint16_t code, std::string_view reason = {});
// An Error with `code`; its diagnostic text is not compared.
Rec error_ev(uint16_t code);

// Feeds `wire` in chunks of `chunk` bytes (0: all at once) and collects the
// events up to the first Close or Error.
std::vector<Rec> run(MessageAssembler& rx, std::string_view wire,
                     size_t chunk = 0);
// Feeds `wire` cut at the given offsets (increasing).
std::vector<Rec> run_cuts(MessageAssembler& rx, std::string_view wire,
                          const std::vector<size_t>& cuts);

// The client half of permessage-deflate, on zlib directly.
class ClientDeflater {
 public:
  explicit ClientDeflater(int window_bits = 15, bool takeover = true,
                          int level = 6);
  ~ClientDeflater();
  // The compressed payload of one message (sync flush, tail removed).
  std::string compress(std::string_view message);
  // Compressed with a final block (BFINAL) instead of a sync flush, as the
  // RFC 7692 §7.2.3.4 sender does: an empty stored block is appended and
  // its 00 00 FF FF removed.
  std::string compress_final(std::string_view message);

 private:
  void reset();
  z_stream z_{};
  int window_bits_;
  bool takeover_;
  int level_;
};

// The client's inflater for server messages.
class ClientInflater {
 public:
  explicit ClientInflater(int window_bits = 15);
  ~ClientInflater();
  // Inflates one message payload (the tail is appended); empty optional
  // style: returns false on a zlib error.
  bool decompress(std::string_view payload, std::string* out);

 private:
  z_stream z_{};
};

// A server frame parsed back (for the writer tests): header fields and
// payload; false when `wire` is not exactly one well-formed frame.
struct ServerFrame {
  bool fin = false, rsv1 = false, masked = false;
  Opcode opcode = Opcode::Continuation;
  size_t header_size = 0;
  std::string payload;
};
bool parse_server_frame(std::string_view wire, ServerFrame* out);

}  // namespace pounce::ws::testing
