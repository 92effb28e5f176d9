#include "ws/message_assembler.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "ws/close_codes.h"
#include "ws/permessage_deflate.h"

namespace pounce::ws {

MessageAssembler::MessageAssembler(const AssemblerConfig& config,
                                   PerMessageDeflate* deflate)
    : max_size_(std::min<uint64_t>(config.max_message_size, SIZE_MAX / 2)),
      deflate_(deflate),
      budget_(config.budget) {}

MessageAssembler::~MessageAssembler() {
  free(buf_);
  charge_capacity(0);
}

void MessageAssembler::release_buffer() {
  if (in_message_) return;
  free(buf_);
  buf_ = nullptr;
  size_ = cap_ = 0;
  reset_buffer_ = false;
  charge_capacity(0);
}

bool MessageAssembler::charge_capacity(uint64_t cap) {
  if (!budget_) return true;
  const uint64_t want = cap > kRetainedCapacity ? cap - kRetainedCapacity : 0;
  if (want > charged_) {
    if (!budget_->take(want - charged_)) return false;
  } else {
    budget_->give_back(charged_ - want);
  }
  charged_ = want;
  return true;
}

void MessageAssembler::fail(Event* ev, uint16_t code, const char* why) {
  ev->type = EventType::Error;
  ev->code = code;
  ev->data = why;
  state_ = State::Finished;
  // A finished assembler reads nothing more: its buffer, and the budget it
  // took, go back now rather than when the connection is gone.
  in_message_ = false;
  release_buffer();
}

size_t MessageAssembler::feed(char* data, size_t len, Event* ev) {
  *ev = Event{};
  if (reset_buffer_) {
    reset_buffer_ = false;
    size_ = 0;
    if (cap_ > kRetainedCapacity) release_buffer();
  }
  if (state_ == State::Finished) return len;
  size_t pos = 0;
  while (pos < len) {
    if (state_ == State::Header) {
      if (on_header(data, len, &pos, ev)) return pos;
    } else {
      on_payload(data, len, &pos, ev);
      if (ev->type != EventType::None) return pos;
    }
  }
  return pos;
}

// Returns true when *ev was set (an event or an error).
bool MessageAssembler::on_header(char* data, size_t len, size_t* pos,
                                 Event* ev) {
  const auto* in = reinterpret_cast<const uint8_t*>(data) + *pos;
  const size_t avail = len - *pos;
  FrameHeader h;
  const char* why = nullptr;
  const bool allow_rsv1 = deflate_ != nullptr;
  HeaderStatus st;
  if (header_len_ == 0) {
    // Usually the whole header is in this read: parse it in place.
    st = parse_client_frame_header(in, avail, allow_rsv1, &h, &why);
    if (st == HeaderStatus::Incomplete) {
      memcpy(header_, in, avail);  // avail < kMaxClientHeader here
      header_len_ = static_cast<uint8_t>(avail);
      *pos = len;
      return false;
    }
    if (st == HeaderStatus::Complete) *pos += h.header_size;
  } else {
    const size_t take = std::min(kMaxClientHeader - header_len_, avail);
    memcpy(header_ + header_len_, in, take);
    st = parse_client_frame_header(header_, header_len_ + take, allow_rsv1, &h,
                                   &why);
    if (st == HeaderStatus::Incomplete) {
      header_len_ = static_cast<uint8_t>(header_len_ + take);
      *pos += take;
      return false;
    }
    if (st == HeaderStatus::Complete) *pos += h.header_size - header_len_;
    header_len_ = 0;
  }
  if (st == HeaderStatus::Error) {
    fail(ev, close_code::kProtocolError, why);
    return true;
  }

  // The rules that depend on what came before (§5.4).
  if (!is_control(h.opcode)) {
    if (h.opcode == Opcode::Continuation) {
      if (!in_message_) {
        fail(ev, close_code::kProtocolError,
             "continuation frame outside a fragmented message");
        return true;
      }
    } else {
      if (in_message_) {
        fail(ev, close_code::kProtocolError,
             "new data frame inside a fragmented message");
        return true;
      }
      in_message_ = true;
      ++messages_begun_;
      message_op_ = h.opcode;
      compressed_ = h.rsv1;
      compressed_bytes_ = 0;
      utf8_.reset();
      size_ = 0;
    }
    // Uncompressed, the frame header tells the final size: refuse before
    // reading the payload.
    if (!compressed_ && h.payload_len > max_size_ - size_) {
      fail(ev, close_code::kMessageTooBig, "message over the size limit");
      return true;
    }
  }
  frame_ = h;
  frame_left_ = h.payload_len;
  mask_phase_ = 0;
  control_len_ = 0;

  // A whole single-frame message in this read: unmask it where it is and
  // hand out a view, with no copy.
  if (h.fin && !compressed_ && !is_control(h.opcode) &&
      h.opcode != Opcode::Continuation && frame_left_ <= len - *pos) {
    auto* payload = reinterpret_cast<uint8_t*>(data) + *pos;
    const size_t n = static_cast<size_t>(frame_left_);
    unmask(payload, payload, n, h.mask, 0);
    *pos += n;
    frame_left_ = 0;
    in_message_ = false;
    if (h.opcode == Opcode::Text &&
        !(utf8_.feed(payload, n) && utf8_.complete())) {
      fail(ev, close_code::kInvalidPayload, "invalid UTF-8 in a text message");
      return true;
    }
    ev->type = EventType::Message;
    ev->opcode = h.opcode;
    ev->data = std::string_view(reinterpret_cast<char*>(payload), n);
    return true;
  }

  if (frame_left_ != 0) {
    state_ = State::Payload;
    return false;
  }
  if (is_control(h.opcode)) {
    finish_control(ev);
  } else if (h.fin) {
    finish_message(ev);
  }
  return ev->type != EventType::None;
}

void MessageAssembler::on_payload(char* data, size_t len, size_t* pos,
                                  Event* ev) {
  auto* p = reinterpret_cast<uint8_t*>(data) + *pos;
  const size_t n = static_cast<size_t>(
      std::min<uint64_t>(frame_left_, static_cast<uint64_t>(len - *pos)));
  *pos += n;
  frame_left_ -= n;
  if (is_control(frame_.opcode)) {
    mask_phase_ =
        unmask(control_ + control_len_, p, n, frame_.mask, mask_phase_);
    control_len_ = static_cast<uint8_t>(control_len_ + n);
  } else if (!compressed_) {
    if (!append_plain(p, n, ev)) return;
  } else {
    // Unmasked in place, then inflated from there.
    mask_phase_ = unmask(p, p, n, frame_.mask, mask_phase_);
    compressed_bytes_ += n;
    if (!append_inflated(p, n, false, ev)) return;
  }
  if (frame_left_ != 0) return;
  state_ = State::Header;
  if (is_control(frame_.opcode)) {
    finish_control(ev);
  } else if (frame_.fin) {
    finish_message(ev);
  }
}

bool MessageAssembler::reserve(uint64_t want, Event* ev) {
  if (want <= cap_) return true;
  // Doubling, but never past what the limit allows (limit + 1 for the
  // inflater, which must be able to show that it went over).
  const uint64_t ceiling = max_size_ + 1;
  uint64_t next = std::max<uint64_t>({want, uint64_t{cap_} * 2, 1024});
  next = std::max(std::min(next, ceiling), want);
  // The budget is taken before the memory, so that the loop's total never
  // passes it, even for a moment.
  if (!charge_capacity(next)) {
    fail(ev, close_code::kPolicyViolation,
         "unfinished messages over --ws-buffer-budget");
    return false;
  }
  void* p = realloc(buf_, static_cast<size_t>(next));
  if (p == nullptr) {
    charge_capacity(cap_);
    fail(ev, close_code::kInternalError, "out of memory");
    return false;
  }
  buf_ = static_cast<uint8_t*>(p);
  cap_ = static_cast<size_t>(next);
  return true;
}

bool MessageAssembler::append_plain(const uint8_t* p, size_t n, Event* ev) {
  if (!reserve(uint64_t{size_} + n, ev)) return false;
  uint8_t* dst = buf_ + size_;
  mask_phase_ = unmask(dst, p, n, frame_.mask, mask_phase_);
  if (message_op_ == Opcode::Text && !utf8_.feed(dst, n)) {
    fail(ev, close_code::kInvalidPayload, "invalid UTF-8 in a text message");
    return false;
  }
  size_ += n;
  return true;
}

// Counts `produced` bytes just inflated at buf_ + size_. UTF-8 is checked
// before the limit, over the bytes within the limit only, so that the
// error reported is the one at the earliest byte whatever the input split.
bool MessageAssembler::account_output(size_t produced, Event* ev) {
  const size_t within = std::min<uint64_t>(produced, max_size_ - size_);
  if (message_op_ == Opcode::Text && !utf8_.feed(buf_ + size_, within)) {
    fail(ev, close_code::kInvalidPayload, "invalid UTF-8 in a text message");
    return false;
  }
  size_ += produced;
  if (size_ > max_size_) {
    fail(ev, close_code::kMessageTooBig, "message over the size limit");
    return false;
  }
  return true;
}

bool MessageAssembler::append_inflated(const uint8_t* p, size_t n, bool tail,
                                       Event* ev) {
  if (tail) n = 4;
  while (true) {
    if (size_ == cap_ && !reserve(uint64_t{size_} + 1, ev)) return false;
    const size_t room = static_cast<size_t>(
        std::min<uint64_t>(cap_ - size_, max_size_ + 1 - size_));
    const PerMessageDeflate::InflateResult r =
        tail ? deflate_->inflate_tail(buf_ + size_, room)
             : deflate_->inflate(p, n, buf_ + size_, room);
    if (!tail) p += r.consumed;
    n -= r.consumed;
    if (!account_output(r.produced, ev)) return false;
    if (r.status == PerMessageDeflate::InflateStatus::DataError) {
      fail(ev, close_code::kInvalidPayload, "invalid deflate data");
      return false;
    }
    if (r.status == PerMessageDeflate::InflateStatus::NoMemory) {
      fail(ev, close_code::kInternalError, "out of memory");
      return false;
    }
    // Finished when the input is used up and zlib had room to spare, so
    // that it holds no output back.
    if (n == 0 && r.produced < room) return true;
    // With input and room left zlib always moves; if it did not, stop
    // rather than spin.
    if (r.consumed == 0 && r.produced == 0) {
      fail(ev, close_code::kInvalidPayload, "invalid deflate data");
      return false;
    }
  }
}

void MessageAssembler::finish_message(Event* ev) {
  // A compressed message with no payload at all is taken as empty (the
  // proper encoding is one 0x00 byte, RFC 7692 §7.2.3.6), without touching
  // the inflater: appending the tail alone would leave it mid-block.
  if (compressed_ && compressed_bytes_ != 0) {
    if (!append_inflated(nullptr, 0, true, ev)) return;
    if (!deflate_->end_inflate_message()) {
      fail(ev, close_code::kInvalidPayload,
           "compressed message does not end on a deflate block boundary");
      return;
    }
  }
  if (message_op_ == Opcode::Text && !utf8_.complete()) {
    fail(ev, close_code::kInvalidPayload,
         "text message ends inside a UTF-8 sequence");
    return;
  }
  in_message_ = false;
  reset_buffer_ = true;
  ev->type = EventType::Message;
  ev->opcode = message_op_;
  ev->data = std::string_view(reinterpret_cast<char*>(buf_), size_);
}

void MessageAssembler::finish_control(Event* ev) {
  const std::string_view payload(reinterpret_cast<char*>(control_),
                                 control_len_);
  switch (frame_.opcode) {
    case Opcode::Ping:
      ev->type = EventType::Ping;
      ev->data = payload;
      return;
    case Opcode::Pong:
      ev->type = EventType::Pong;
      ev->data = payload;
      return;
    default:
      break;
  }
  // Close (§5.5.1): empty, or a 2-byte code and a UTF-8 reason.
  uint16_t code = close_code::kNoStatus;
  std::string_view reason;
  if (control_len_ == 1) {
    fail(ev, close_code::kProtocolError, "close payload of 1 byte");
    return;
  }
  if (control_len_ >= 2) {
    code = static_cast<uint16_t>(control_[0] << 8 | control_[1]);
    if (!is_valid_close_code(code)) {
      fail(ev, close_code::kProtocolError, "invalid close code");
      return;
    }
    reason = payload.substr(2);
    if (!is_valid_utf8(reason)) {
      fail(ev, close_code::kInvalidPayload, "close reason is not UTF-8");
      return;
    }
  }
  ev->type = EventType::Close;
  ev->code = code;
  ev->data = reason;
  state_ = State::Finished;
}

}  // namespace pounce::ws
