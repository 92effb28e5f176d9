#include "ws_client.h"

#include <random>

namespace pounce::test {

std::optional<HttpResponse> WsClient::handshake(const std::string& path,
                                                const std::string& extra) {
  c_.send("GET " + path +
          " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          extra + "\r\n");
  return c_.read_head();
}

bool WsClient::send_frame(uint8_t opcode, const std::string& payload, bool fin,
                          bool masked, uint8_t rsv) {
  return c_.send(encode_frame(opcode, payload, fin, masked, rsv));
}

std::string WsClient::encode_frame(uint8_t opcode, const std::string& payload,
                                   bool fin, bool masked, uint8_t rsv) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) {
      f.push_back(
          static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xff));
    }
  }
  static std::mt19937 rng(42);
  uint8_t mask[4];
  for (auto& m : mask) m = static_cast<uint8_t>(rng());
  if (masked) f.append(reinterpret_cast<char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(masked ? static_cast<char>(payload[i] ^ mask[i % 4])
                       : payload[i]);
  }
  return f;
}

bool WsClient::send_close(uint16_t code, const std::string& reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p += reason;
  return send_frame(8, p);
}

std::optional<WsFrame> WsClient::read_frame(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto need = [&](size_t n) {
    while (pending_.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      std::string more = c_.read_some(left);
      if (more.empty()) return false;
      pending_ += more;
    }
    return true;
  };
  if (!need(2)) return std::nullopt;
  WsFrame f;
  uint8_t b0 = static_cast<uint8_t>(pending_[0]);
  uint8_t b1 = static_cast<uint8_t>(pending_[1]);
  f.fin = b0 & 0x80;
  f.opcode = b0 & 0x0f;
  uint64_t len = b1 & 0x7f;
  size_t hdr = 2;
  if (len == 126) {
    if (!need(4)) return std::nullopt;
    len = (static_cast<uint8_t>(pending_[2]) << 8) |
          static_cast<uint8_t>(pending_[3]);
    hdr = 4;
  } else if (len == 127) {
    if (!need(10)) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i)
      len = (len << 8) | static_cast<uint8_t>(pending_[2 + i]);
    hdr = 10;
  }
  if (!need(hdr + len)) return std::nullopt;
  f.payload = pending_.substr(hdr, len);
  pending_.erase(0, hdr + len);
  return f;
}

std::optional<WsFrame> WsClient::read_until_close(
    std::chrono::milliseconds timeout) {
  for (;;) {
    auto f = read_frame(timeout);
    if (!f || f->opcode == 8) return f;
  }
}

}  // namespace pounce::test
