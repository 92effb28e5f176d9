// libFuzzer target: random client bytes through the frame decoder and the
// message assembler, with and without permessage-deflate.
//
// Input layout: byte 0 selects the configuration, byte 1 seeds how the
// rest is cut into reads, the rest is the wire. Checked, besides "no crash,
// no leak, no UB" (ASan/UBSan):
// - split invariance: the wire fed whole and fed in random pieces gives
//   the same events (see below for the one exception);
// - no message over the limit; text messages and close reasons are valid
//   UTF-8 by an independent decoder; control payloads <= 125 bytes; close
//   codes valid (or 1005); nothing after a Close or an Error;
// - the assembler never holds more than limit + 1 bytes;
// - each message, compressed back by the server side and inflated by a
//   plain zlib client, round-trips.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "http/byte_buffer.h"
#include "ws/close_codes.h"
#include "ws/frame_writer.h"
#include "ws/message_assembler.h"
#include "ws/permessage_deflate.h"

namespace {

using namespace pounce;
using namespace pounce::ws;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
      abort();                                                          \
    }                                                                   \
  } while (0)

// A reference decoder, written differently from Utf8Validator: decode each
// code point, then check its range and its minimal length.
bool reference_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      n = 4;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

struct Rec {
  EventType type;
  Opcode opcode;
  uint16_t code;
  std::string data;
  bool operator==(const Rec& o) const {
    if (type != o.type || code != o.code) return false;
    if (type == EventType::Error) return true;
    return opcode == o.opcode && data == o.data;
  }
};

struct Setup {
  bool deflate;
  DeflateParams params;
  uint64_t limit;
};

struct Receiver {
  explicit Receiver(const Setup& s)
      : pmd(s.deflate
                ? std::make_unique<PerMessageDeflate>(s.params, DeflateConfig{})
                : nullptr),
        rx({s.limit}, pmd.get()) {}
  std::unique_ptr<PerMessageDeflate> pmd;
  MessageAssembler rx;
};

// Feeds `wire` cut before each offset of `cuts` and collects events.
std::vector<Rec> run(const Setup& setup, const uint8_t* wire, size_t size,
                     const std::vector<size_t>& cuts) {
  Receiver r(setup);
  std::vector<Rec> out;
  bool finished = false;
  size_t start = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : size;
    const size_t n = end - start;
    // An exact-size heap copy: ASan sees any read past the read.
    std::unique_ptr<char[]> buf(new char[n + 1]);
    memcpy(buf.get(), wire + start, n);
    size_t pos = 0;
    do {
      Event ev;
      const size_t used = r.rx.feed(buf.get() + pos, n - pos, &ev);
      CHECK(used <= n - pos);
      pos += used;
      CHECK(r.rx.memory_usage() <= setup.limit + 1);
      if (ev.type == EventType::None) {
        CHECK(pos == n);
        continue;
      }
      CHECK(!finished);  // no event after a Close or an Error
      out.push_back({ev.type, ev.opcode, ev.code, std::string(ev.data)});
      const Rec& e = out.back();
      switch (e.type) {
        case EventType::Message:
          CHECK(e.opcode == Opcode::Text || e.opcode == Opcode::Binary);
          CHECK(e.data.size() <= setup.limit);
          if (e.opcode == Opcode::Text) CHECK(reference_utf8(e.data));
          break;
        case EventType::Ping:
        case EventType::Pong:
          CHECK(e.data.size() <= kMaxControlPayload);
          break;
        case EventType::Close:
          CHECK(e.code == close_code::kNoStatus || is_valid_close_code(e.code));
          CHECK(e.data.size() <= kMaxCloseReason);
          CHECK(reference_utf8(e.data));
          finished = true;
          break;
        case EventType::Error:
          CHECK(e.code == close_code::kProtocolError ||
                e.code == close_code::kInvalidPayload ||
                e.code == close_code::kMessageTooBig);
          finished = true;
          break;
        case EventType::None:
          break;
      }
      if (finished) CHECK(r.rx.finished());
    } while (pos < n);
    start = end;
  }
  return out;
}

// The server's compressed form of each message, inflated by a plain zlib
// client, gives the message back.
void check_round_trip(const Setup& setup, const std::vector<Rec>& events) {
  DeflateConfig config;
  config.min_compress_size = 0;
  DeflateParams params = setup.params;
  PerMessageDeflate server(params, config);
  z_stream client{};
  CHECK(inflateInit2(&client, -15) == Z_OK);
  for (const Rec& e : events) {
    if (e.type != EventType::Message) continue;
    ByteBuffer out;
    CHECK(append_message(out, e.opcode, e.data, &server));
    const uint8_t len7 = static_cast<uint8_t>(out.data()[1]) & 0x7F;
    const size_t h = len7 < 126 ? 2 : len7 == 126 ? 4 : 10;
    CHECK((static_cast<uint8_t>(out.data()[0]) & kRsv1) != 0);
    std::string in(out.data() + h, out.size() - h);
    in.append("\0\0\xff\xff", 4);
    std::string back(e.data.size() + 64, '\0');
    client.next_in = reinterpret_cast<Bytef*>(in.data());
    client.avail_in = static_cast<uInt>(in.size());
    client.next_out = reinterpret_cast<Bytef*>(back.data());
    client.avail_out = static_cast<uInt>(back.size());
    const int rc = inflate(&client, Z_SYNC_FLUSH);
    CHECK(rc == Z_OK || rc == Z_BUF_ERROR);
    CHECK(client.avail_in == 0);
    back.resize(back.size() - client.avail_out);
    CHECK(back == e.data);
  }
  inflateEnd(&client);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  uint32_t seed = data[1];
  data += 2;
  size -= 2;

  static const uint64_t kLimits[4] = {64, 1000, 65536, kDefaultMaxMessageSize};
  Setup setup;
  setup.deflate = (flags & 1) != 0;
  setup.params.client_no_context_takeover = (flags & 2) != 0;
  setup.params.server_no_context_takeover = (flags & 2) != 0;
  setup.params.client_max_window_bits = (flags & 4) != 0 ? 9 : 15;
  setup.params.server_max_window_bits = (flags & 4) != 0 ? 10 : 15;
  setup.limit = kLimits[(flags >> 3) & 3];

  const std::vector<Rec> whole = run(setup, data, size, {});

  std::vector<size_t> cuts;
  size_t at = 0;
  while (true) {
    seed = seed * 1103515245u + 12345u;
    at += (seed >> 16) % 24;  // pieces of 0..23 bytes, empty ones included
    if (at >= size) break;
    cuts.push_back(at);
  }
  const std::vector<Rec> split = run(setup, data, size, cuts);
  // With an inflate window under 15 bits, zlib checks a match distance
  // against the window only when the match reaches before the output of
  // the current inflate() call, so a client that breaks its negotiated
  // window may be accepted or refused depending on how its bytes were cut
  // into reads (memory-safe either way). With 15 bits every distance the
  // format allows is checked against the same history: split-invariant.
  if (setup.params.client_max_window_bits == 15 || !setup.deflate) {
    CHECK(whole == split);
  }

  if (setup.deflate) check_round_trip(setup, whole);
  return 0;
}
