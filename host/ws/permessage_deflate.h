// permessage-deflate (RFC 7692): negotiation from the client's
// Sec-WebSocket-Extensions offers, and the per-socket codec.
//
// Negotiation (§5, §7.1): the offers are tried in the client's order and
// the first acceptable one wins; no acceptable offer means the socket opens
// without compression (never a failed handshake). An offer is declined when
// it has an unknown parameter, a parameter twice, a bad value, or asks for
// something we cannot do: zlib cannot deflate with an 8-bit window (raw
// deflate refuses windowBits 8, and zlib's "8" is really 9), so an offer of
// server_max_window_bits=8 is declined. A syntax error anywhere in the
// header disables compression for the socket.
//
// Codec (§7.2): one raw deflate stream per direction. A message is
// compressed with Z_SYNC_FLUSH and its trailing 00 00 FF FF removed; the
// receiver appends it back. With context takeover the LZ77 window carries
// over to the next message; without it the stream is reset -- here even
// freed -- after each message, so that an idle socket holds no zlib memory.
//
// Memory (zlib 1.2.13, x86-64; the PerMessageDeflate.ReportsMemoryPerSocket
// test prints it): deflate takes (1 << (windowBits + 2)) + (1 << (memLevel
// + 9)) bytes plus ~5.8 KiB of state, inflate 1 << windowBits (allocated at
// its first output) plus ~7 KiB. Held between messages by a socket that
// has compressed and inflated one message each way:
//   15-bit windows, memLevel 8 (default)          301 KiB
//   server 12 / client 12 bits, memLevel 5         49 KiB
//   server 10 / client 10 bits, memLevel 3         22 KiB
//   no context takeover, both directions            0 (262 KiB peak)
// Every allocation goes through counting zalloc/zfree: memory_usage() is
// exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <pounce/pounce.h>

namespace pounce {
class ByteBuffer;
}

struct z_stream_s;

namespace pounce::ws {

// Server policy: what we accept and ask for.
struct DeflateConfig {
  bool enabled = true;  // --ws-compression
  // Always declare server_no_context_takeover: our deflate state is freed
  // after every message. The host may set it past a number of sockets to
  // bound memory (RFC 7692 §7.1.1.1 lets the server add it unasked).
  bool server_no_context_takeover = false;
  // Always ask the client for client_no_context_takeover (§7.1.1.2), so
  // that our inflate state can be freed after every message too.
  bool client_no_context_takeover = false;
  // The window of our deflater, 9..15. Below 15 it saves memory; the client
  // needs not be told (a smaller window is decodable by any inflater), but
  // an offer's server_max_window_bits lowers it further.
  uint8_t server_max_window_bits = 15;
  // The window asked of clients whose offer carries client_max_window_bits
  // (9..15). Without that parameter in the offer the client keeps 15 bits
  // and so does our inflater. Below 15, a client that breaks the window it
  // agreed to may be accepted or refused (1007) depending on how its bytes
  // were cut into reads: zlib checks a match distance against the window
  // only when the match reaches before the output of the current inflate()
  // call. Memory-safe either way; at 15 bits the outcome is exact.
  uint8_t client_max_window_bits = 15;
  // zlib level (1..9) and memLevel (1..9; 0 = derived from the window:
  // windowBits - 7, clamped to 1..8, which balances the two halves of
  // deflate's memory).
  int level = 6;
  int mem_level = 0;
  // Messages shorter than this are sent uncompressed (RSV1 clear): below a
  // few dozen bytes deflate only adds bytes and CPU. Context takeover is
  // unaffected: a skipped message is simply not in the window.
  size_t min_compress_size = 32;
};

// What was agreed for one socket.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  uint8_t server_max_window_bits = 15;  // our deflater's window
  uint8_t client_max_window_bits = 15;  // our inflater's window
};

struct DeflateNegotiation {
  bool accepted = false;
  DeflateParams params;
  // The Sec-WebSocket-Extensions value of the 101 when accepted, e.g.
  // "permessage-deflate; server_no_context_takeover".
  std::string_view response() const { return {response_buf, response_len}; }

  char response_buf[160];
  size_t response_len = 0;
};

// Negotiates from every Sec-WebSocket-Extensions field among `headers`
// (the values form one list, in field order).
DeflateNegotiation negotiate_permessage_deflate(const pounce_header_t* headers,
                                                size_t count,
                                                const DeflateConfig& config);
// The same over one field value.
DeflateNegotiation negotiate_permessage_deflate(std::string_view value,
                                                const DeflateConfig& config);

// The client's side of a 101's Sec-WebSocket-Extensions value (a client
// that offered permessage-deflate, such as the bench's load generator).
// The params come back mirrored for a PerMessageDeflate on the client: its
// "server" fields drive the client's deflater, its "client" fields the
// inflater. False when the value is not one permessage-deflate response the
// client can follow (a client_max_window_bits of 8 included).
bool client_params_from_response(std::string_view value, DeflateParams* out);

// One socket's compression state, owned by the socket's loop. Streams are
// created on first use, so a socket that never sends or receives a
// compressed message costs sizeof(*this) only.
class PerMessageDeflate {
 public:
  PerMessageDeflate(const DeflateParams& params, const DeflateConfig& config);
  ~PerMessageDeflate();
  PerMessageDeflate(const PerMessageDeflate&) = delete;
  PerMessageDeflate& operator=(const PerMessageDeflate&) = delete;

  const DeflateParams& params() const { return params_; }

  // ---- receiving (driven by the MessageAssembler) ----
  enum class InflateStatus : uint8_t {
    Ok,         // all input consumed, or the output span is full
    DataError,  // not a valid deflate stream
    NoMemory,
  };
  struct InflateResult {
    InflateStatus status;
    size_t consumed;
    size_t produced;
  };
  // Inflates from in[0..n) into out[0..cap). Call again while input is left
  // or the output span came back full. After a block with BFINAL (§7.2.3.4)
  // the rest of the message's input is consumed and ignored.
  InflateResult inflate(const uint8_t* in, size_t n, uint8_t* out, size_t cap);
  // Inflates the 00 00 FF FF that the sender removed (§7.2.2). Same
  // contract as inflate(); call until it consumes nothing more and leaves
  // room in `out`.
  InflateResult inflate_tail(uint8_t* out, size_t cap);
  // Ends a received message. False when its data did not end on a deflate
  // block boundary (the sender's flush was missing or the data truncated):
  // the stream would be out of step for the next message.
  bool end_inflate_message();

  // ---- sending ----
  // Whether a message of `len` bytes is worth compressing.
  bool should_compress(size_t len) const { return len >= min_compress_size_; }
  // Appends the compressed payload of one whole message to `out`, without
  // the trailing 00 00 FF FF. False when zlib could not allocate.
  bool compress(const void* data, size_t len, ByteBuffer& out);

  // ---- memory ----
  // Bytes zlib holds for this socket now, and the most it ever held.
  size_t memory_usage() const { return mem_now_; }
  size_t peak_memory_usage() const { return mem_peak_; }

 private:
  static void* zalloc(void* opaque, unsigned items, unsigned size);
  static void zfree(void* opaque, void* p);
  bool ensure_inflater();
  bool ensure_deflater();
  void free_inflater();
  void free_deflater();

  DeflateParams params_;
  int level_;
  int mem_level_;
  size_t min_compress_size_;
  z_stream_s* inflater_ = nullptr;
  z_stream_s* deflater_ = nullptr;
  uint8_t tail_sent_ = 0;  // bytes of 00 00 FF FF inflated so far
  bool stream_ended_ = false;
  size_t mem_now_ = 0;
  size_t mem_peak_ = 0;
};

}  // namespace pounce::ws
