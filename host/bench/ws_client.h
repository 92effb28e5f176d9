// The WebSocket echo client: one upgrade per connection, then `pipeline`
// messages in flight, each timed from its send (closed loop) or intended
// send (open loop) to the arrival of its echo. With permessage-deflate the
// client compresses what it sends and inflates what comes back, as a
// browser would, so that the server's figure includes both directions of
// zlib work.
//
// The messages are JSON-like text of the chosen size, cycled through a set
// large enough (≥ 128 KiB) that a 32 KiB deflate window cannot turn each
// one into a single back-reference to the previous copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load_connection.h"
#include "http/byte_buffer.h"
#include "ws/permessage_deflate.h"

namespace pounce::bench {

struct WsSpec {
  size_t message_size = 64;
  bool deflate = false;
};

// The handshake request for `target` with the key and offer the client
// uses ("permessage-deflate; client_max_window_bits" when `deflate`).
std::string ws_upgrade_request(const std::string& host_header,
                               const std::string& target, bool deflate);

// Built once per load thread and shared by its connections (read-only).
struct WsMessages {
  std::vector<std::string> payloads;  // the plain messages, cycled
  // The same messages as masked, uncompressed client frames, back to back
  // with their offsets: the no-deflate path sends them without building
  // anything per message.
  std::string frames;
  std::vector<size_t> frame_offsets;  // payloads.size() + 1 entries
  // ws_payload_hash() of each payload: an echo is checked against it
  // without keeping a copy of what arrived.
  std::vector<uint64_t> hashes;
};
WsMessages build_ws_messages(size_t message_size);

// FNV-1a (64 bit) over a message's payload, fed in pieces: `h` starts at
// kWsHashSeed. Not a defence against a hostile server, only against a wrong
// echo (a bug, a mix-up of messages).
constexpr uint64_t kWsHashSeed = 0xcbf29ce484222325ull;
uint64_t ws_payload_hash(uint64_t h, const void* data, size_t len);

// Appends a masked client frame (RFC 6455 §5.3). The fixed masking key is
// not the unpredictable one §10.3 asks of browsers: it protects proxies
// from a hostile script, which a load generator is not, and the server
// unmasks the same number of bytes either way.
void append_client_frame(ByteBuffer& out, uint8_t opcode, std::string_view data,
                         bool rsv1 = false);

// Reads server frames: unmasked, FIN-fragmented or not, compressed (RSV1)
// or not. Counts whole messages and their inflated sizes. No socket: the
// unit tests feed it canned bytes.
class WsFrameReader {
 public:
  // Each returns whether to go on reading: false when the connection is
  // gone (the reader is reset under it).
  struct Sink {
    // `hash`: ws_payload_hash() of the (inflated) payload.
    virtual bool on_message(size_t size, uint64_t hash) = 0;
    virtual bool on_ping(std::string_view payload) = 0;
    virtual bool on_close(uint16_t code) = 0;

   protected:
    ~Sink() = default;
  };

  // `deflate`: the client's codec when compression was agreed, else null.
  explicit WsFrameReader(ws::PerMessageDeflate* deflate = nullptr)
      : deflate_(deflate) {}
  void set_deflate(ws::PerMessageDeflate* deflate) { deflate_ = deflate; }
  void reset();

  enum class Status {
    Ok,
    // A protocol error: a masked server frame, a bad length, RSV1 without
    // compression, an undecodable compressed message.
    Error,
    Stopped,  // a Sink callback returned false
  };
  Status feed(const char* data, size_t len, Sink* sink);

 private:
  Status begin_frame(Sink* sink);
  bool payload(const uint8_t* p, size_t n);
  Status end_frame(Sink* sink);

  ws::PerMessageDeflate* deflate_;
  uint8_t header_[10];
  size_t header_len_ = 0;
  bool in_payload_ = false;
  uint8_t opcode_ = 0;  // of the current frame
  bool fin_ = false;
  uint64_t remaining_ = 0;
  // The data message being received (across fragments).
  bool in_message_ = false;
  bool compressed_ = false;
  size_t message_size_ = 0;
  uint64_t message_hash_ = kWsHashSeed;
  // A control frame's payload (≤ 125 bytes).
  char control_[125];
  size_t control_len_ = 0;
};

class WsConnection : public Connection, private WsFrameReader::Sink {
 public:
  WsConnection(LoadThread& thread, const std::string& upgrade,
               const WsMessages& messages, unsigned pipeline, bool deflate);

  void start_traffic() override;
  void send_scheduled(uint64_t intended_ns) override;
  bool has_capacity() const override;
  uint64_t in_flight() const override { return in_flight_; }
  void abandon_in_flight(uint64_t now) override;

 protected:
  void on_read(const char* data, size_t len, uint64_t now) override;
  bool on_eof() override;
  void on_reset() override;

 private:
  bool on_message(size_t size, uint64_t hash) override;
  bool on_ping(std::string_view payload) override;
  bool on_close(uint16_t code) override;

  bool read_handshake(const char* data, size_t len, size_t* used);
  void send_messages(unsigned n, uint64_t when);
  void fail();

  const std::string& upgrade_;
  const WsMessages& messages_;
  unsigned depth_;
  bool want_deflate_;
  enum class Phase { Closed, Handshaking, Open } phase_ = Phase::Closed;
  std::string head_;  // the 101 response head, while it arrives
  std::unique_ptr<ws::PerMessageDeflate> deflate_;
  WsFrameReader reader_;
  ByteBuffer out_;         // the frames of one send
  ByteBuffer compressed_;  // one message's deflated payload
  size_t next_message_ = 0;
  // Send times of the messages in flight, oldest first (echoes come back in
  // order on one socket).
  std::vector<uint64_t> sent_;
  std::vector<size_t> sent_message_;  // index into messages_.payloads
  size_t head_index_ = 0;
  size_t in_flight_ = 0;
  uint64_t now_ = 0;  // of the bytes being read
  unsigned completed_in_read_ = 0;
};

}  // namespace pounce::bench
