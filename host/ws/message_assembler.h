// The receiving side of a WebSocket: client bytes in, events out.
//
// A pull parser in the style of the HTTP head parser: the connection calls
// feed() with what it read, and gets back how many bytes were used and at
// most one event. It handles, per RFC 6455 and RFC 7692:
// - frames split at any byte (the state of a partial header or payload is
//   kept between calls);
// - fragmented messages, with control frames between the fragments (§5.4);
// - ping (answer with a pong carrying the same payload), pong, and close
//   (code and reason validated, §5.5.1, §7.4);
// - the message size limit, counted after decompression and checked as
//   the message grows (1009);
// - UTF-8 of text messages, checked as the bytes arrive, across fragments
//   (1007 at the first invalid byte);
// - permessage-deflate, inflated as the payload arrives, bounded by the
//   size limit (a zip bomb stops at limit + 1 bytes of output).
//
// Memory: at most one message is buffered. A message that arrives whole
// in one read as one uncompressed frame is not copied at all: it is
// unmasked in place in the caller's buffer and reported as a view of it.
// Otherwise the payload is unmasked straight into the message buffer
// (compressed payloads are unmasked in place and inflated from there). The
// message buffer grows with the data actually received, never with the
// length a frame header claims, and capacity over kRetainedCapacity is
// freed after each message, so that an idle socket keeps little. Capacity
// over kRetainedCapacity is also taken from the loop's MessageBudget while
// it is held (message_budget.h): past that budget the connection fails
// with 1008.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ws/frame.h"
#include "ws/frame_parser.h"
#include "ws/message_budget.h"
#include "ws/utf8_validator.h"

namespace pounce::ws {

class PerMessageDeflate;

enum class EventType : uint8_t {
  None,     // all input was used and nothing is complete yet
  Message,  // a whole text or binary message: `opcode`, `data`
  Ping,     // send a pong with `data` as its payload
  Pong,     // a pong (`data`); for liveness checks
  Close,    // the peer's close: `code` (1005 when it sent none), `data` is
            // the reason (valid UTF-8). Answer with a close frame with
            // the same code (none for 1005), then close the connection.
  Error,    // fail the connection (RFC 6455 §7.1.7): send a close frame
            // with `code` (1002, 1007, 1008, 1009 or 1011), then close.
            // 1008: the loop's MessageBudget is spent. `data` is
            // a diagnostic for the log, not for the wire.
};

struct Event {
  EventType type = EventType::None;
  Opcode opcode = Opcode::Text;  // of a Message: Text or Binary
  uint16_t code = 0;             // Close and Error
  // Valid until the next feed() call, and for a Message possibly a view of
  // the caller's own buffer (unmasked in place): valid while that is.
  std::string_view data;
};

struct AssemblerConfig {
  // --ws-max-message-size: the limit of a data message, after
  // decompression.
  uint64_t max_message_size = kDefaultMaxMessageSize;
  // The loop's budget for message buffers beyond kRetainedCapacity; null:
  // unbounded (tests). Not owned; it must outlive the assembler.
  MessageBudget* budget = nullptr;
};

class MessageAssembler {
 public:
  // `deflate` is the socket's permessage-deflate state when it was
  // negotiated, else null (RSV1 then fails the connection). Not owned; it
  // must outlive the assembler.
  explicit MessageAssembler(const AssemblerConfig& config = {},
                            PerMessageDeflate* deflate = nullptr);
  ~MessageAssembler();
  MessageAssembler(const MessageAssembler&) = delete;
  MessageAssembler& operator=(const MessageAssembler&) = delete;

  // Uses bytes from data[0..len) until an event is complete or the input
  // is exhausted, and returns how many it used; *event is set (None when
  // the input ran out first). Call again with the rest. The bytes may be
  // modified: payloads are unmasked in place.
  // After a Close or an Error event the assembler is finished: feed()
  // uses and ignores everything (RFC 6455 §5.5.1: no data after a close).
  size_t feed(char* data, size_t len, Event* event);

  bool finished() const { return state_ == State::Finished; }
  // Mid-message (some fragments received): for idle and ping timers.
  bool in_message() const { return in_message_; }
  // Data messages begun so far: tells a new unfinished message from one
  // that was unfinished before.
  uint64_t messages_begun() const { return messages_begun_; }

  // Bytes held by this assembler beyond sizeof(*this): the message buffer.
  size_t memory_usage() const { return cap_; }
  // Frees the message buffer if no message is in progress (idle sockets).
  void release_buffer();

  // Capacity kept after a message; more is freed.
  static constexpr size_t kRetainedCapacity = 16 * 1024;

 private:
  enum class State : uint8_t { Header, Payload, Finished };

  bool on_header(char* data, size_t len, size_t* pos, Event* ev);
  void on_payload(char* data, size_t len, size_t* pos, Event* ev);
  void finish_control(Event* ev);
  void finish_message(Event* ev);
  bool append_plain(const uint8_t* p, size_t n, Event* ev);
  bool append_inflated(const uint8_t* p, size_t n, bool tail, Event* ev);
  bool account_output(size_t produced, Event* ev);
  bool reserve(uint64_t want, Event* ev);
  // Accounts a buffer capacity of `cap` bytes with the budget. False (and
  // nothing changed) when the budget cannot cover it.
  bool charge_capacity(uint64_t cap);
  void fail(Event* ev, uint16_t code, const char* why);

  const uint64_t max_size_;
  PerMessageDeflate* const deflate_;
  MessageBudget* const budget_;
  uint64_t charged_ = 0;  // bytes taken from budget_

  State state_ = State::Header;
  uint8_t header_[kMaxClientHeader];
  uint8_t header_len_ = 0;

  FrameHeader frame_;
  uint64_t frame_left_ = 0;  // payload bytes of the current frame to come
  uint32_t mask_phase_ = 0;

  bool in_message_ = false;
  uint64_t messages_begun_ = 0;
  bool compressed_ = false;
  uint64_t compressed_bytes_ = 0;  // payload bytes of a compressed message
  Opcode message_op_ = Opcode::Text;
  Utf8Validator utf8_;

  uint8_t* buf_ = nullptr;  // the message being assembled
  size_t size_ = 0;
  size_t cap_ = 0;
  bool reset_buffer_ = false;  // a Message view of buf_ was handed out

  uint8_t control_[kMaxControlPayload];
  uint8_t control_len_ = 0;
};

}  // namespace pounce::ws
