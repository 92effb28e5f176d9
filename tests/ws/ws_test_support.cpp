#include "ws_test_support.h"

#include <cstring>
#include <stdexcept>

#include "ws/close_codes.h"

namespace pounce::ws::testing {

std::string from_hex(std::string_view hex) {
  std::string out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

namespace {

std::string frame(uint8_t b0, std::string_view payload, const uint8_t* mask,
                  LenEncoding enc) {
  std::string out;
  out.push_back(static_cast<char>(b0));
  const uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (enc == LenEncoding::Minimal && n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (enc != LenEncoding::Force64 && n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 0; i < 8; ++i)
      out.push_back(static_cast<char>(n >> (56 - 8 * i)));
  }
  if (mask != nullptr) {
    out.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < payload.size(); ++i) {
      out.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
  } else {
    out.append(payload);
  }
  return out;
}

}  // namespace

std::string client_frame(uint8_t b0, std::string_view payload,
                         const uint8_t mask[4], LenEncoding enc) {
  return frame(b0, payload, mask, enc);
}

std::string unmasked_frame(uint8_t b0, std::string_view payload) {
  return frame(b0, payload, nullptr, LenEncoding::Minimal);
}

std::string close_frame(uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return client_frame(b0(Opcode::Close), payload);
}

bool Rec::operator==(const Rec& o) const {
  if (type != o.type || code != o.code) return false;
  if (type == EventType::Error) return true;  // diagnostics differ freely
  if (type == EventType::Message && opcode != o.opcode) return false;
  return data == o.data;
}

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  static const char* names[] = {"None", "Message", "Ping",
                                "Pong", "Close",   "Error"};
  os << names[static_cast<int>(r.type)];
  if (r.type == EventType::Message) {
    os << (r.opcode == Opcode::Text ? " text" : " binary");
  }
  if (r.type == EventType::Close || r.type == EventType::Error) {
    os << " " << r.code;
  }
  os << " [" << r.data.size() << "] ";
  if (r.data.size() <= 64) {
    os << '"' << r.data << '"';
  } else {
    os << '"' << r.data.substr(0, 32) << "...\"";
  }
  return os;
}

Rec msg(Opcode op, std::string_view data) {
  return {EventType::Message, op, 0, std::string(data)};
}
Rec ping_ev(std::string_view d) {
  return {EventType::Ping, Opcode::Text, 0, std::string(d)};
}
Rec pong_ev(std::string_view d) {
  return {EventType::Pong, Opcode::Text, 0, std::string(d)};
}
Rec close_ev(uint16_t code, std::string_view reason) {
  return {EventType::Close, Opcode::Text, code, std::string(reason)};
}
Rec error_ev(uint16_t code) {
  return {EventType::Error, Opcode::Text, code, {}};
}

std::vector<Rec> run_cuts(MessageAssembler& rx, std::string_view wire,
                          const std::vector<size_t>& cuts) {
  std::vector<Rec> out;
  size_t start = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : wire.size();
    if (end < start) throw std::logic_error("cuts must increase");
    const size_t n = end - start;
    std::unique_ptr<char[]> buf(new char[n == 0 ? 1 : n]);
    if (n != 0) memcpy(buf.get(), wire.data() + start, n);
    size_t pos = 0;
    // An empty chunk is fed once too: it must be harmless.
    do {
      Event ev;
      const size_t used = rx.feed(buf.get() + pos, n - pos, &ev);
      if (used > n - pos) throw std::logic_error("feed used more than given");
      pos += used;
      if (ev.type != EventType::None) {
        out.push_back({ev.type, ev.opcode, ev.code, std::string(ev.data)});
        if (ev.type == EventType::Close || ev.type == EventType::Error) {
          return out;
        }
      } else if (pos != n) {
        throw std::logic_error("feed stopped early without an event");
      }
    } while (pos < n);
    start = end;
  }
  return out;
}

std::vector<Rec> run(MessageAssembler& rx, std::string_view wire,
                     size_t chunk) {
  std::vector<size_t> cuts;
  if (chunk != 0) {
    for (size_t c = chunk; c < wire.size(); c += chunk) cuts.push_back(c);
  }
  return run_cuts(rx, wire, cuts);
}

// ---- zlib client ----

ClientDeflater::ClientDeflater(int window_bits, bool takeover, int level)
    : window_bits_(window_bits), takeover_(takeover), level_(level) {
  reset();
}

ClientDeflater::~ClientDeflater() {
  deflateEnd(&z_);
}

void ClientDeflater::reset() {
  deflateEnd(&z_);
  z_ = z_stream{};
  if (deflateInit2(&z_, level_, Z_DEFLATED, -window_bits_, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
}

std::string ClientDeflater::compress(std::string_view message) {
  if (!takeover_) reset();
  // zlib emits nothing for a flush without new input: an empty message is
  // the empty stored block's first byte (RFC 7692 §7.2.3.6).
  if (message.empty()) return std::string(1, '\0');
  // A vector, not a string: g++ 12 warns falsely (-Wrestrict) on growing
  // a string here.
  std::vector<char> buf(message.size() + message.size() / 8 + 64);
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z_.avail_in = static_cast<uInt>(message.size());
  size_t used = 0;
  while (true) {
    z_.next_out = reinterpret_cast<Bytef*>(buf.data() + used);
    z_.avail_out = static_cast<uInt>(buf.size() - used);
    deflate(&z_, Z_SYNC_FLUSH);
    used = buf.size() - z_.avail_out;
    if (z_.avail_out != 0) break;
    buf.resize(buf.size() * 2);
  }
  std::string out(buf.data(), used);
  if (out.size() < 4 ||
      out.compare(out.size() - 4, 4, "\0\0\xff\xff", 4) != 0) {
    throw std::runtime_error("no sync flush tail");
  }
  out.resize(out.size() - 4);
  return out;
}

std::string ClientDeflater::compress_final(std::string_view message) {
  std::string out(message.size() + message.size() / 8 + 64, '\0');
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z_.avail_in = static_cast<uInt>(message.size());
  z_.next_out = reinterpret_cast<Bytef*>(out.data());
  z_.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z_, Z_FINISH) != Z_STREAM_END) {
    throw std::runtime_error("Z_FINISH");
  }
  out.resize(out.size() - z_.avail_out);
  // §7.2.1: append an empty stored block (a zero byte: BFINAL 0, BTYPE 00
  // and padding, then 00 00 FF FF), then remove the 00 00 FF FF.
  out.push_back('\0');
  reset();
  return out;
}

ClientInflater::ClientInflater(int window_bits) {
  if (inflateInit2(&z_, -window_bits) != Z_OK) {
    throw std::runtime_error("inflateInit2");
  }
}

ClientInflater::~ClientInflater() {
  inflateEnd(&z_);
}

bool ClientInflater::decompress(std::string_view payload, std::string* out) {
  std::string in(payload);
  in.append("\0\0\xff\xff", 4);
  z_.next_in = reinterpret_cast<Bytef*>(in.data());
  z_.avail_in = static_cast<uInt>(in.size());
  out->clear();
  char buf[4096];
  while (true) {
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = sizeof buf;
    const int rc = inflate(&z_, Z_SYNC_FLUSH);
    out->append(buf, sizeof buf - z_.avail_out);
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return false;
    if (z_.avail_in == 0 && z_.avail_out != 0) return true;
  }
}

bool parse_server_frame(std::string_view wire, ServerFrame* out) {
  if (wire.size() < 2) return false;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(wire[i]); };
  out->fin = (b(0) & kFin) != 0;
  out->rsv1 = (b(0) & kRsv1) != 0;
  out->opcode = static_cast<Opcode>(b(0) & kOpcodeMask);
  out->masked = (b(1) & kMaskBit) != 0;
  uint64_t len = b(1) & 0x7F;
  size_t h = 2;
  if (len == 126) {
    if (wire.size() < 4) return false;
    len = uint64_t{b(2)} << 8 | b(3);
    h = 4;
  } else if (len == 127) {
    if (wire.size() < 10) return false;
    len = 0;
    for (size_t i = 2; i < 10; ++i) len = len << 8 | b(i);
    h = 10;
  }
  if (out->masked || wire.size() != h + len) return false;
  out->header_size = h;
  out->payload = std::string(wire.substr(h));
  return true;
}

}  // namespace pounce::ws::testing
