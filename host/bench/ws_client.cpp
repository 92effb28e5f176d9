#include "bench/ws_client.h"

#include <uv.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "bench/load_thread.h"
#include "http/ascii.h"
#include "ws/frame.h"
#include "ws/header_lists.h"

namespace pounce::bench {

namespace {

constexpr uint8_t kMaskKey[4] = {0x37, 0xfa, 0x21, 0x3d};

// The set of distinct messages spans at least this much text (see header).
constexpr size_t kMessageSetBytes = 128 * 1024;

// Where inflated bytes go: only their count matters to the client.
constexpr size_t kInflateScratch = 16 * 1024;

// The client deflates at zlib's fastest level: the server's work is what
// is measured, and the client shares the machine with it.
constexpr int kClientDeflateLevel = 1;

const char* const kWords[] = {
    "alpha",  "bravo",   "charlie", "delta",   "echo",   "foxtrot", "golf",
    "hotel",  "india",   "juliet",  "kilo",    "lima",   "mike",    "november",
    "oscar",  "papa",    "quebec",  "romeo",   "sierra", "tango",   "uniform",
    "victor", "whiskey", "xray",    "yankee",  "zulu",   "price",   "volume",
    "order",  "symbol",  "status",  "updated", "user",   "message", "channel",
    "room",   "typing",  "online",  "offline", "ack",    "42",      "3.14",
    "true",   "false",   "null",    "id",      "ts",     "level"};

// The value of header `name` in a response head, or empty.
std::string_view header_value(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        http::istarts_with(line, name)) {
      return ws::detail::trim_ows(line.substr(name.size() + 1));
    }
    pos = end;
  }
  return {};
}

}  // namespace

std::string ws_upgrade_request(const std::string& host_header,
                               const std::string& target, bool deflate) {
  std::string r = "GET " + target + " HTTP/1.1\r\nHost: " + host_header +
                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n";
  // What browsers offer: context takeover both ways, 15-bit windows.
  if (deflate) {
    r += "Sec-WebSocket-Extensions: permessage-deflate; "
         "client_max_window_bits\r\n";
  }
  return r + "\r\n";
}

void append_client_frame(ByteBuffer& out, uint8_t opcode, std::string_view data,
                         bool rsv1) {
  const size_t n = data.size();
  const size_t header = 2 + (n < 126 ? 0 : n <= 0xFFFF ? 2 : 8) + 4;
  auto* p = reinterpret_cast<uint8_t*>(out.prepare(header + n));
  // The load generator has no response to fail: it stops, as before.
  if (!p) throw std::bad_alloc();
  size_t h = 0;
  p[h++] = static_cast<uint8_t>(ws::kFin | (rsv1 ? ws::kRsv1 : 0) | opcode);
  if (n < 126) {
    p[h++] = static_cast<uint8_t>(ws::kMaskBit | n);
  } else if (n <= 0xFFFF) {
    p[h++] = ws::kMaskBit | 126;
    p[h++] = static_cast<uint8_t>(n >> 8);
    p[h++] = static_cast<uint8_t>(n);
  } else {
    p[h++] = ws::kMaskBit | 127;
    for (int shift = 56; shift >= 0; shift -= 8) {
      p[h++] = static_cast<uint8_t>(static_cast<uint64_t>(n) >> shift);
    }
  }
  memcpy(p + h, kMaskKey, 4);
  h += 4;
  for (size_t i = 0; i < n; ++i) {
    p[h + i] = static_cast<uint8_t>(data[i]) ^ kMaskKey[i & 3];
  }
  out.commit(h + n);
}

WsMessages build_ws_messages(size_t message_size) {
  WsMessages m;
  const size_t per = std::max<size_t>(message_size, 1);
  const size_t count = std::max<size_t>(16, kMessageSetBytes / per);
  uint32_t seed = 0x9e3779b9u;  // fixed: runs must send the same bytes
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  const size_t words = sizeof kWords / sizeof kWords[0];
  ByteBuffer frames;
  for (size_t i = 0; i < count; ++i) {
    std::string s = "{\"seq\":" + std::to_string(i) + ",\"text\":\"";
    while (s.size() + 2 < message_size) {
      s += kWords[next() % words];
      s += ' ';
    }
    s.resize(message_size >= 2 ? message_size - 2 : 0);
    if (message_size >= 2) s += "\"}";
    s.resize(message_size);  // sizes 0 and 1 too
    m.frame_offsets.push_back(frames.size());
    append_client_frame(frames, static_cast<uint8_t>(ws::Opcode::Text), s);
    m.hashes.push_back(ws_payload_hash(kWsHashSeed, s.data(), s.size()));
    m.payloads.push_back(std::move(s));
  }
  m.frame_offsets.push_back(frames.size());
  m.frames.assign(frames.data(), frames.size());
  return m;
}

uint64_t ws_payload_hash(uint64_t h, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < len; ++i) {
    h = (h ^ p[i]) * 0x100000001b3ull;
  }
  return h;
}

// ---- WsFrameReader ----

void WsFrameReader::reset() {
  header_len_ = 0;
  in_payload_ = false;
  in_message_ = false;
  compressed_ = false;
  message_size_ = 0;
  message_hash_ = kWsHashSeed;
  control_len_ = 0;
}

WsFrameReader::Status WsFrameReader::feed(const char* data, size_t len,
                                          Sink* sink) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  while (len > 0) {
    if (!in_payload_) {
      header_[header_len_++] = *p++;
      --len;
      if (header_len_ < 2) continue;
      // Server frames are never masked (RFC 6455 §5.1).
      if (header_[1] & ws::kMaskBit) return Status::Error;
      const uint8_t l7 = header_[1] & 0x7F;
      const size_t need = l7 < 126 ? 2 : l7 == 126 ? 4 : 10;
      if (header_len_ < need) continue;
      const Status s = begin_frame(sink);
      if (s != Status::Ok) return s;
      continue;
    }
    const size_t take = static_cast<size_t>(
        std::min<uint64_t>(remaining_, static_cast<uint64_t>(len)));
    if (!payload(p, take)) return Status::Error;
    p += take;
    len -= take;
    remaining_ -= take;
    if (remaining_ == 0) {
      const Status s = end_frame(sink);
      if (s != Status::Ok) return s;
    }
  }
  return Status::Ok;
}

WsFrameReader::Status WsFrameReader::begin_frame(Sink* sink) {
  const uint8_t b0 = header_[0];
  fin_ = (b0 & ws::kFin) != 0;
  opcode_ = b0 & ws::kOpcodeMask;
  const bool rsv1 = (b0 & ws::kRsv1) != 0;
  if (b0 & (ws::kRsv2 | ws::kRsv3)) return Status::Error;
  const uint8_t l7 = header_[1] & 0x7F;
  if (l7 < 126) {
    remaining_ = l7;
  } else if (l7 == 126) {
    remaining_ = static_cast<uint64_t>(header_[2]) << 8 | header_[3];
  } else {
    remaining_ = 0;
    for (int i = 2; i < 10; ++i) remaining_ = remaining_ << 8 | header_[i];
    if (remaining_ >> 63) return Status::Error;
  }
  if (opcode_ & 0x8) {
    if (!fin_ || remaining_ > ws::kMaxControlPayload || rsv1) {
      return Status::Error;
    }
    control_len_ = 0;
  } else if (opcode_ == 0) {
    if (!in_message_ || rsv1) return Status::Error;
  } else if (opcode_ == 1 || opcode_ == 2) {
    if (in_message_) return Status::Error;
    if (rsv1 && deflate_ == nullptr) return Status::Error;
    in_message_ = true;
    compressed_ = rsv1;
    message_size_ = 0;
    message_hash_ = kWsHashSeed;
  } else {
    return Status::Error;
  }
  in_payload_ = true;
  if (remaining_ == 0) return end_frame(sink);
  return Status::Ok;
}

bool WsFrameReader::payload(const uint8_t* p, size_t n) {
  if (opcode_ & 0x8) {
    memcpy(control_ + control_len_, p, n);
    control_len_ += n;
    return true;
  }
  if (!compressed_) {
    message_size_ += n;
    message_hash_ = ws_payload_hash(message_hash_, p, n);
    return true;
  }
  static thread_local uint8_t scratch[kInflateScratch];  // hashed, dropped
  while (n > 0) {
    auto r = deflate_->inflate(p, n, scratch, sizeof scratch);
    if (r.status != ws::PerMessageDeflate::InflateStatus::Ok) return false;
    if (r.consumed == 0 && r.produced == 0) return false;
    message_size_ += r.produced;
    message_hash_ = ws_payload_hash(message_hash_, scratch, r.produced);
    p += r.consumed;
    n -= r.consumed;
  }
  return true;
}

WsFrameReader::Status WsFrameReader::end_frame(Sink* sink) {
  in_payload_ = false;
  header_len_ = 0;
  bool go_on = true;
  if (opcode_ & 0x8) {
    const auto op = static_cast<ws::Opcode>(opcode_);
    if (op == ws::Opcode::Ping) {
      go_on = sink->on_ping({control_, control_len_});
    } else if (op == ws::Opcode::Close) {
      uint16_t code = 1005;
      if (control_len_ >= 2) {
        code = static_cast<uint16_t>(static_cast<uint8_t>(control_[0]) << 8 |
                                     static_cast<uint8_t>(control_[1]));
      }
      go_on = sink->on_close(code);
    }
    return go_on ? Status::Ok : Status::Stopped;
  }
  if (!fin_) return Status::Ok;
  if (compressed_) {
    // Like the server's assembler: done when the 4 tail bytes are in and
    // zlib had room to spare (another call without input would disturb
    // the block-boundary check of end_inflate_message).
    static thread_local uint8_t scratch[kInflateScratch];
    size_t tail_left = 4;
    while (true) {
      auto r = deflate_->inflate_tail(scratch, sizeof scratch);
      if (r.status != ws::PerMessageDeflate::InflateStatus::Ok) {
        return Status::Error;
      }
      message_size_ += r.produced;
      message_hash_ = ws_payload_hash(message_hash_, scratch, r.produced);
      tail_left -= r.consumed;
      if (tail_left == 0 && r.produced < sizeof scratch) break;
      if (r.consumed == 0 && r.produced == 0) return Status::Error;
    }
    if (!deflate_->end_inflate_message()) return Status::Error;
  }
  in_message_ = false;
  go_on = sink->on_message(message_size_, message_hash_);
  return go_on ? Status::Ok : Status::Stopped;
}

// ---- WsConnection ----

WsConnection::WsConnection(LoadThread& thread, const std::string& upgrade,
                           const WsMessages& messages, unsigned pipeline,
                           bool deflate)
    : Connection(thread),
      upgrade_(upgrade),
      messages_(messages),
      depth_(pipeline == 0 ? 1 : pipeline),
      want_deflate_(deflate),
      sent_(depth_, 0),
      sent_message_(depth_, 0) {}

bool WsConnection::has_capacity() const {
  return is_open() && phase_ == Phase::Open && in_flight_ < depth_;
}

void WsConnection::start_traffic() {
  if (phase_ == Phase::Closed) {
    phase_ = Phase::Handshaking;
    send(upgrade_.data(), upgrade_.size());
    return;
  }
  if (phase_ != Phase::Open) return;
  if (thread_.open_loop()) {
    thread_.offer_capacity(this);
  } else {
    send_messages(depth_ - static_cast<unsigned>(in_flight_), uv_hrtime());
  }
}

void WsConnection::send_scheduled(uint64_t intended_ns) {
  send_messages(1, intended_ns);
}

void WsConnection::send_messages(unsigned n, uint64_t when) {
  if (n == 0) return;
  out_.clear();
  const size_t count = messages_.payloads.size();
  for (unsigned i = 0; i < n; ++i) {
    const size_t m = next_message_;
    next_message_ = (next_message_ + 1) % count;
    const std::string& payload = messages_.payloads[m];
    if (deflate_ && deflate_->should_compress(payload.size())) {
      compressed_.clear();
      if (!deflate_->compress(payload.data(), payload.size(), compressed_)) {
        fail();
        return;
      }
      append_client_frame(out_, static_cast<uint8_t>(ws::Opcode::Text),
                          {compressed_.data(), compressed_.size()}, true);
    } else {
      const size_t from = messages_.frame_offsets[m];
      out_.append(messages_.frames.data() + from,
                  messages_.frame_offsets[m + 1] - from);
    }
    const size_t slot = (head_index_ + in_flight_) % depth_;
    sent_[slot] = when;
    sent_message_[slot] = m;
    ++in_flight_;
  }
  send(out_.data(), out_.size());
}

bool WsConnection::read_handshake(const char* data, size_t len, size_t* used) {
  const size_t before = head_.size();
  head_.append(data, len);
  const size_t from = before >= 3 ? before - 3 : 0;
  const size_t end = head_.find("\r\n\r\n", from);
  if (end == std::string::npos) {
    *used = len;
    if (head_.size() > 16 * 1024) fail();
    return false;
  }
  *used = end + 4 - before;
  std::string_view head(head_.data(), end + 2);
  if (head.substr(0, 13) != "HTTP/1.1 101 ") {
    ++thread_.live().non_2xx;
    fail();
    return false;
  }
  const std::string_view ext = header_value(head, "Sec-WebSocket-Extensions");
  if (want_deflate_) {
    ws::DeflateParams params;
    // The workload asked for compression: a socket without it would
    // measure something else under the deflate label.
    if (ext.empty() || !ws::client_params_from_response(ext, &params)) {
      fail();
      return false;
    }
    ws::DeflateConfig config;
    config.level = kClientDeflateLevel;
    deflate_ = std::make_unique<ws::PerMessageDeflate>(params, config);
    reader_.set_deflate(deflate_.get());
  } else if (!ext.empty()) {
    fail();
    return false;
  }
  head_.clear();
  head_.shrink_to_fit();
  phase_ = Phase::Open;
  return true;
}

void WsConnection::on_read(const char* data, size_t len, uint64_t now) {
  if (phase_ == Phase::Handshaking) {
    size_t used = 0;
    if (!read_handshake(data, len, &used)) return;
    data += used;
    len -= used;
    start_traffic();
  }
  if (phase_ != Phase::Open) return;
  now_ = now;
  completed_in_read_ = 0;
  switch (reader_.feed(data, len, this)) {
    case WsFrameReader::Status::Ok:
      break;
    case WsFrameReader::Status::Error:
      fail();
      return;
    case WsFrameReader::Status::Stopped:
      return;  // the connection is gone
  }
  thread_.publish_progress();
  if (thread_.open_loop()) {
    if (completed_in_read_) thread_.offer_capacity(this);
  } else {
    send_messages(completed_in_read_, uv_hrtime());
  }
}

bool WsConnection::on_message(size_t size, uint64_t hash) {
  LoadCounters& live = thread_.live();
  if (in_flight_ == 0) {
    ++live.protocol_errors;  // an echo of nothing we sent
    return true;
  }
  const uint64_t sent = sent_[head_index_];
  const size_t m = sent_message_[head_index_];
  head_index_ = (head_index_ + 1) % depth_;
  --in_flight_;
  ++completed_in_read_;
  ++live.completed;
  live.response_bytes += size;
  // An answer, but not our message back: counted, and never a good one.
  if (size != messages_.payloads[m].size() || hash != messages_.hashes[m]) {
    ++live.wrong_body;
  }
  thread_.record_latency(now_ > sent ? now_ - sent : 0);
  return true;
}

void WsConnection::abandon_in_flight(uint64_t now) {
  for (size_t i = 0; i < in_flight_; ++i) {
    thread_.abandon(sent_[(head_index_ + i) % depth_], now);
  }
  in_flight_ = 0;
}

bool WsConnection::on_ping(std::string_view payload) {
  ByteBuffer pong;
  append_client_frame(pong, static_cast<uint8_t>(ws::Opcode::Pong), payload);
  send(pong.data(), pong.size());
  return is_open();  // a failed write reconnects
}

bool WsConnection::on_close(uint16_t) {
  // The server ended the socket in the middle of the run.
  count_lost_requests();
  reconnect(true);
  return false;
}

void WsConnection::fail() {
  ++thread_.live().protocol_errors;
  reconnect(true);
}

bool WsConnection::on_eof() {
  // A WebSocket has no orderly end in the middle of a run.
  return phase_ != Phase::Closed;
}

void WsConnection::on_reset() {
  if (thread_.open_loop() && thread_.begun()) abandon_in_flight(uv_hrtime());
  phase_ = Phase::Closed;
  head_.clear();
  reader_.reset();
  reader_.set_deflate(nullptr);
  deflate_.reset();
  head_index_ = 0;
  in_flight_ = 0;
}

}  // namespace pounce::bench
