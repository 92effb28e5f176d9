// A minimal WebSocket client over RawClient, for tests that need exact
// frames: fragmentation, unmasked frames, bad close codes, invalid UTF-8.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "raw_client.h"

namespace pounce::test {

struct WsFrame {
  bool fin = true;
  uint8_t opcode = 1;
  std::string payload;
  uint16_t close_code() const {
    return payload.size() >= 2
               ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                       static_cast<uint8_t>(payload[1]))
               : 1005;
  }
};

class WsClient {
 public:
  explicit WsClient(uint16_t port) : c_(port) {}
  // Sends the upgrade for `path` with `extra` header lines; returns the
  // response (101 when it worked).
  std::optional<HttpResponse> handshake(const std::string& path = "/",
                                        const std::string& extra = "");
  // Sends one frame (masked unless told otherwise).
  bool send_frame(uint8_t opcode, const std::string& payload, bool fin = true,
                  bool masked = true, uint8_t rsv = 0);
  // The bytes of that frame, for sending several in one write.
  static std::string encode_frame(uint8_t opcode, const std::string& payload,
                                  bool fin = true, bool masked = true,
                                  uint8_t rsv = 0);
  bool send_text(const std::string& s) { return send_frame(1, s); }
  bool send_close(uint16_t code, const std::string& reason = "");
  // Reads one frame; nullopt on timeout or EOF.
  std::optional<WsFrame> read_frame(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads frames until a close frame; returns it.
  std::optional<WsFrame> read_until_close(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool wait_closed(std::chrono::milliseconds t = std::chrono::seconds(10)) {
    return c_.wait_closed(t);
  }
  RawClient& raw() { return c_; }

 private:
  RawClient c_;
  std::string pending_;  // bytes read past the last frame
};

}  // namespace pounce::test
