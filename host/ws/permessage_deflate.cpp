#include "ws/permessage_deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "http/byte_buffer.h"
#include "http/char_class.h"
#include "ws/header_lists.h"

namespace pounce::ws {
namespace {

using detail::ieq;

// ---- Sec-WebSocket-Extensions (RFC 6455 §9.1) ----
//   extension-list = 1#extension
//   extension      = token *( ";" extension-param )
//   extension-param = token [ "=" ( token / quoted-string ) ]
// with optional whitespace around the separators.

struct Param {
  std::string_view name;
  std::string_view value;  // a token, or a quoted-string without its quotes
  bool has_value = false;
  bool quoted = false;
};

// An offer with more parameters than this is declined: permessage-deflate
// defines four, each allowed once.
constexpr size_t kMaxParams = 8;

class Cursor {
 public:
  explicit Cursor(std::string_view v) : p_(v.data()), e_(v.data() + v.size()) {}
  bool end() const { return p_ == e_; }
  char peek() const { return *p_; }
  void advance() { ++p_; }
  void skip_ows() {
    while (p_ != e_ && http::cc::is_ows(*p_)) ++p_;
  }
  std::string_view token() {
    const char* s = p_;
    while (p_ != e_ && http::cc::is_tchar(*p_)) ++p_;
    return {s, static_cast<size_t>(p_ - s)};
  }
  // At a '"': the contents of the quoted-string (RFC 9110 §5.6.4).
  bool quoted_string(std::string_view* out) {
    ++p_;
    const char* s = p_;
    while (p_ != e_) {
      const char c = *p_;
      if (c == '"') {
        *out = {s, static_cast<size_t>(p_ - s)};
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (++p_ == e_ || !http::cc::has(*p_, http::cc::kQuotedPair)) {
          return false;
        }
      } else if (!http::cc::has(c, http::cc::kQdtext)) {
        return false;
      }
      ++p_;
    }
    return false;
  }

 private:
  const char* p_;
  const char* e_;
};

// Calls on_extension(name, params, count, overflow) for each element of one
// field value. Returns false on a syntax error.
template <typename Fn>
bool parse_extension_list(std::string_view v, Fn&& on_extension) {
  Cursor c(v);
  while (true) {
    c.skip_ows();
    if (c.end()) return true;
    if (c.peek() == ',') {  // an empty element
      c.advance();
      continue;
    }
    const std::string_view name = c.token();
    if (name.empty()) return false;
    Param params[kMaxParams];
    size_t count = 0;
    bool overflow = false;
    c.skip_ows();
    while (!c.end() && c.peek() == ';') {
      c.advance();
      c.skip_ows();
      Param param;
      param.name = c.token();
      if (param.name.empty()) return false;
      c.skip_ows();
      if (!c.end() && c.peek() == '=') {
        c.advance();
        c.skip_ows();
        if (!c.end() && c.peek() == '"') {
          if (!c.quoted_string(&param.value)) return false;
          param.quoted = true;
        } else {
          param.value = c.token();
          if (param.value.empty()) return false;
        }
        param.has_value = true;
        c.skip_ows();
      }
      if (count < kMaxParams) {
        params[count++] = param;
      } else {
        overflow = true;
      }
    }
    if (!c.end()) {
      if (c.peek() != ',') return false;
      c.advance();
    }
    on_extension(name, params, count, overflow);
  }
}

// A window-bits value: "8" to "15", decimal without leading zeros
// (RFC 7692 §7.1.2.1). A quoted value is unescaped first (RFC 6455 §9.1).
// Returns 0 when invalid.
int parse_window_bits(const Param& p) {
  char digits[3];
  size_t n = 0;
  for (size_t i = 0; i < p.value.size(); ++i) {
    char c = p.value[i];
    if (p.quoted && c == '\\' && i + 1 < p.value.size()) c = p.value[++i];
    if (c < '0' || c > '9' || n == sizeof digits) return 0;
    digits[n++] = c;
  }
  if (n == 1 && digits[0] >= '8') return digits[0] - '0';
  if (n == 2 && digits[0] == '1' && digits[1] <= '5') {
    return 10 + (digits[1] - '0');
  }
  return 0;
}

uint8_t clamp_bits(int bits) {
  return static_cast<uint8_t>(std::clamp(bits, 9, 15));
}

// Decides one permessage-deflate offer (RFC 7692 §7.1). Fills *out and
// returns true when we can accept it.
bool evaluate_offer(const Param* params, size_t count, bool overflow,
                    const DeflateConfig& config, DeflateNegotiation* out) {
  if (overflow) return false;
  bool server_nct = false, client_nct = false;
  bool has_server_bits = false, has_client_bits = false;
  int server_bits = 15, client_bits = 15;
  for (size_t i = 0; i < count; ++i) {
    const Param& p = params[i];
    if (ieq(p.name, "server_no_context_takeover")) {
      if (server_nct || p.has_value) return false;
      server_nct = true;
    } else if (ieq(p.name, "client_no_context_takeover")) {
      if (client_nct || p.has_value) return false;
      client_nct = true;
    } else if (ieq(p.name, "server_max_window_bits")) {
      if (has_server_bits || !p.has_value) return false;
      server_bits = parse_window_bits(p);
      if (server_bits == 0) return false;
      has_server_bits = true;
    } else if (ieq(p.name, "client_max_window_bits")) {
      // The value is optional in an offer (§7.1.2.2).
      if (has_client_bits) return false;
      if (p.has_value) {
        client_bits = parse_window_bits(p);
        if (client_bits == 0) return false;
      }
      has_client_bits = true;
    } else {
      return false;  // §7.1: unknown parameters decline the offer
    }
  }

  DeflateParams agreed;
  // Our deflate window: the configured one, lowered to the offer's limit.
  // zlib has no 8-bit raw deflate, so an offer that requires 8 is declined.
  int ours = clamp_bits(config.server_max_window_bits);
  if (has_server_bits) ours = std::min(ours, server_bits);
  if (ours < 9) return false;
  agreed.server_max_window_bits = static_cast<uint8_t>(ours);
  agreed.server_no_context_takeover =
      server_nct || config.server_no_context_takeover;
  agreed.client_no_context_takeover =
      client_nct || config.client_no_context_takeover;
  // The client's window: only limited when the offer allows it (§7.1.2.2:
  // a response to an offer without client_max_window_bits must not carry
  // it). Our inflater gets at least 9 bits: a wider inflate window is
  // always safe and covers zlib clients whose "8" is really 9.
  int theirs = 15;
  bool send_client_bits = false;
  if (has_client_bits) {
    theirs =
        std::min<int>(clamp_bits(config.client_max_window_bits), client_bits);
    send_client_bits = theirs < 15;
  }
  agreed.client_max_window_bits = clamp_bits(theirs);

  // The response (§7.1): the parameters the server agreed to.
  // server_no_context_takeover must be echoed when offered (§7.1.1.1) and
  // server_max_window_bits when offered (§7.1.2.1).
  char* buf = out->response_buf;
  size_t n = 0;
  auto add = [&](std::string_view s) {
    copy_view(buf + n, s);
    n += s.size();
  };
  auto add_bits = [&](int bits) {
    if (bits >= 10) buf[n++] = '1';
    buf[n++] = static_cast<char>('0' + bits % 10);
  };
  add("permessage-deflate");
  if (agreed.server_no_context_takeover) add("; server_no_context_takeover");
  if (agreed.client_no_context_takeover) add("; client_no_context_takeover");
  if (has_server_bits) {
    add("; server_max_window_bits=");
    add_bits(ours);
  }
  if (send_client_bits) {
    add("; client_max_window_bits=");
    add_bits(theirs);
  }
  out->response_len = n;
  out->params = agreed;
  out->accepted = true;
  return true;
}

// The negotiation over several field values, as one list.
class Negotiator {
 public:
  explicit Negotiator(const DeflateConfig& config) : config_(config) {}

  void add_field(std::string_view value) {
    if (syntax_error_) return;
    const bool ok = parse_extension_list(
        value, [this](std::string_view name, const Param* params, size_t count,
                      bool overflow) {
          if (result_.accepted || !ieq(name, "permessage-deflate")) return;
          DeflateNegotiation candidate;
          if (evaluate_offer(params, count, overflow, config_, &candidate)) {
            result_ = candidate;
          }
        });
    if (!ok) syntax_error_ = true;
  }

  DeflateNegotiation result() const {
    if (syntax_error_ || !config_.enabled) return DeflateNegotiation{};
    return result_;
  }

 private:
  const DeflateConfig& config_;
  DeflateNegotiation result_;
  bool syntax_error_ = false;
};

constexpr uint8_t kTail[4] = {0x00, 0x00, 0xFF, 0xFF};

// zlib's counters are 32-bit.
constexpr size_t kMaxZChunk = size_t{1} << 30;

}  // namespace

DeflateNegotiation negotiate_permessage_deflate(const pounce_header_t* headers,
                                                size_t count,
                                                const DeflateConfig& config) {
  Negotiator negotiator(config);
  if (!config.enabled) return negotiator.result();
  for (size_t i = 0; i < count; ++i) {
    if (ieq(detail::view_of(headers[i].name), "sec-websocket-extensions")) {
      negotiator.add_field(detail::view_of(headers[i].value));
    }
  }
  return negotiator.result();
}

DeflateNegotiation negotiate_permessage_deflate(std::string_view value,
                                                const DeflateConfig& config) {
  Negotiator negotiator(config);
  if (config.enabled) negotiator.add_field(value);
  return negotiator.result();
}

// ---- the codec ----

bool client_params_from_response(std::string_view value, DeflateParams* out) {
  DeflateParams p;
  size_t extensions = 0;
  bool usable = false;
  const bool syntax_ok = parse_extension_list(
      value, [&](std::string_view name, const Param* params, size_t count,
                 bool overflow) {
        ++extensions;
        if (!ieq(name, "permessage-deflate") || overflow) return;
        bool seen[4] = {false, false, false, false};
        for (size_t i = 0; i < count; ++i) {
          const Param& q = params[i];
          // Mirrored: the server's deflater is our inflater (the "client"
          // fields of DeflateParams) and the other way round.
          if (ieq(q.name, "server_no_context_takeover") && !q.has_value &&
              !seen[0]) {
            seen[0] = true;
            p.client_no_context_takeover = true;
          } else if (ieq(q.name, "client_no_context_takeover") &&
                     !q.has_value && !seen[1]) {
            seen[1] = true;
            p.server_no_context_takeover = true;
          } else if (ieq(q.name, "server_max_window_bits") && q.has_value &&
                     !seen[2]) {
            seen[2] = true;
            // Our inflater keeps 15 bits: a larger window decodes any
            // smaller one.
            if (parse_window_bits(q) == 0) return;
          } else if (ieq(q.name, "client_max_window_bits") && q.has_value &&
                     !seen[3]) {
            seen[3] = true;
            // zlib cannot deflate with an 8-bit window (see the header).
            const int bits = parse_window_bits(q);
            if (bits < 9) return;
            p.server_max_window_bits = static_cast<uint8_t>(bits);
          } else {
            return;
          }
        }
        usable = true;
      });
  // One extension only: the client offered one.
  if (!syntax_ok || extensions != 1 || !usable) return false;
  *out = p;
  return true;
}

PerMessageDeflate::PerMessageDeflate(const DeflateParams& params,
                                     const DeflateConfig& config)
    : params_(params),
      level_(std::clamp(config.level, 1, 9)),
      mem_level_(config.mem_level != 0
                     ? std::clamp(config.mem_level, 1, 9)
                     : std::clamp(params.server_max_window_bits - 7, 1, 8)),
      min_compress_size_(config.min_compress_size) {
  params_.server_max_window_bits = clamp_bits(params.server_max_window_bits);
  params_.client_max_window_bits = clamp_bits(params.client_max_window_bits);
}

PerMessageDeflate::~PerMessageDeflate() {
  free_inflater();
  free_deflater();
}

// Each block carries its size in front, so that zfree can count it.
void* PerMessageDeflate::zalloc(void* opaque, unsigned items, unsigned size) {
  auto* self = static_cast<PerMessageDeflate*>(opaque);
  const size_t bytes = static_cast<size_t>(items) * size;
  void* raw = malloc(bytes + 16);
  if (raw == nullptr) return Z_NULL;
  memcpy(raw, &bytes, sizeof bytes);
  self->mem_now_ += bytes;
  self->mem_peak_ = std::max(self->mem_peak_, self->mem_now_);
  return static_cast<char*>(raw) + 16;
}

void PerMessageDeflate::zfree(void* opaque, void* p) {
  if (p == nullptr) return;
  auto* self = static_cast<PerMessageDeflate*>(opaque);
  char* raw = static_cast<char*>(p) - 16;
  size_t bytes;
  memcpy(&bytes, raw, sizeof bytes);
  self->mem_now_ -= bytes;
  free(raw);
}

bool PerMessageDeflate::ensure_inflater() {
  if (inflater_ != nullptr) return true;
  auto* z = new (std::nothrow) z_stream{};
  if (z == nullptr) return false;
  z->zalloc = &PerMessageDeflate::zalloc;
  z->zfree = &PerMessageDeflate::zfree;
  z->opaque = this;
  if (inflateInit2(z, -params_.client_max_window_bits) != Z_OK) {
    delete z;
    return false;
  }
  inflater_ = z;
  mem_now_ += sizeof(z_stream);
  mem_peak_ = std::max(mem_peak_, mem_now_);
  return true;
}

bool PerMessageDeflate::ensure_deflater() {
  if (deflater_ != nullptr) return true;
  auto* z = new (std::nothrow) z_stream{};
  if (z == nullptr) return false;
  z->zalloc = &PerMessageDeflate::zalloc;
  z->zfree = &PerMessageDeflate::zfree;
  z->opaque = this;
  if (deflateInit2(z, level_, Z_DEFLATED, -params_.server_max_window_bits,
                   mem_level_, Z_DEFAULT_STRATEGY) != Z_OK) {
    delete z;
    return false;
  }
  deflater_ = z;
  mem_now_ += sizeof(z_stream);
  mem_peak_ = std::max(mem_peak_, mem_now_);
  return true;
}

void PerMessageDeflate::free_inflater() {
  if (inflater_ == nullptr) return;
  inflateEnd(inflater_);
  delete inflater_;
  inflater_ = nullptr;
  mem_now_ -= sizeof(z_stream);
}

void PerMessageDeflate::free_deflater() {
  if (deflater_ == nullptr) return;
  deflateEnd(deflater_);
  delete deflater_;
  deflater_ = nullptr;
  mem_now_ -= sizeof(z_stream);
}

PerMessageDeflate::InflateResult PerMessageDeflate::inflate(const uint8_t* in,
                                                            size_t n,
                                                            uint8_t* out,
                                                            size_t cap) {
  // §7.2.3.4: data after a block with BFINAL set is not part of the
  // deflate stream.
  if (stream_ended_) return {InflateStatus::Ok, n, 0};
  if (!ensure_inflater()) return {InflateStatus::NoMemory, 0, 0};
  z_stream* z = inflater_;
  const size_t in_n = std::min(n, kMaxZChunk);
  const size_t out_n = std::min(cap, kMaxZChunk);
  z->next_in = const_cast<Bytef*>(in);
  z->avail_in = static_cast<uInt>(in_n);
  z->next_out = out;
  z->avail_out = static_cast<uInt>(out_n);
  const int rc = ::inflate(z, Z_SYNC_FLUSH);
  InflateResult r{InflateStatus::Ok, in_n - z->avail_in, out_n - z->avail_out};
  z->next_in = nullptr;  // the caller's bytes are gone after this call
  z->next_out = nullptr;
  switch (rc) {
    case Z_OK:
    case Z_BUF_ERROR:  // no progress possible: needs input or output
      break;
    case Z_STREAM_END:
      stream_ended_ = true;
      r.consumed = n;
      break;
    case Z_MEM_ERROR:
      r.status = InflateStatus::NoMemory;
      break;
    default:  // Z_DATA_ERROR, Z_NEED_DICT
      r.status = InflateStatus::DataError;
      break;
  }
  return r;
}

PerMessageDeflate::InflateResult PerMessageDeflate::inflate_tail(uint8_t* out,
                                                                 size_t cap) {
  InflateResult r = inflate(kTail + tail_sent_, 4u - tail_sent_, out, cap);
  tail_sent_ = static_cast<uint8_t>(tail_sent_ + r.consumed);
  return r;
}

bool PerMessageDeflate::end_inflate_message() {
  bool ok = true;
  if (inflater_ != nullptr && !stream_ended_) {
    // After the appended empty stored block, inflate waits for the next
    // block header (zlib reports that as bit 7 of data_type). Anything
    // else means the message's data was cut inside a block.
    ok = tail_sent_ == 4 && (inflater_->data_type & 128) != 0;
  }
  if (params_.client_no_context_takeover) {
    free_inflater();
  } else if (stream_ended_ && inflater_ != nullptr) {
    // A sender that ended the stream with BFINAL and keeps the context
    // starts the next message as a new stream over the same window.
    auto dict = std::unique_ptr<Bytef[]>(new (std::nothrow) Bytef[32768]);
    uInt len = 32768;
    if (dict == nullptr ||
        inflateGetDictionary(inflater_, dict.get(), &len) != Z_OK ||
        inflateReset(inflater_) != Z_OK ||
        (len != 0 &&
         inflateSetDictionary(inflater_, dict.get(), len) != Z_OK)) {
      free_inflater();
      ok = false;
    }
  }
  tail_sent_ = 0;
  stream_ended_ = false;
  return ok;
}

bool PerMessageDeflate::compress(const void* data, size_t len,
                                 ByteBuffer& out) {
  if (len == 0) {
    // The compressed empty message is one empty stored block minus its
    // 00 00 FF FF (§7.2.3.6). Computed here because zlib emits nothing
    // for a second flush without input.
    return out.push_back('\0');
  }
  if (!ensure_deflater()) return false;
  z_stream* z = deflater_;
  const size_t start = out.size();
  const auto* in = static_cast<const Bytef*>(data);
  size_t left = len;
  bool ok = true;
  while (ok) {
    const size_t piece = std::min(left, kMaxZChunk);
    const int flush = piece == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    z->next_in = const_cast<Bytef*>(in);
    z->avail_in = static_cast<uInt>(piece);
    while (true) {
      const size_t room =
          std::min<size_t>(deflateBound(z, z->avail_in) + 16, kMaxZChunk);
      char* dst = out.prepare(room);
      if (!dst) {
        ok = false;  // no memory for the output
        break;
      }
      z->next_out = reinterpret_cast<Bytef*>(dst);
      z->avail_out = static_cast<uInt>(room);
      const int rc = ::deflate(z, flush);
      out.commit(room - z->avail_out);
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        ok = false;
        break;
      }
      // Done with this piece once its input is in and, for the flush,
      // the output did not fill up (zlib had all of it out).
      if (z->avail_in == 0 && (flush == Z_NO_FLUSH || z->avail_out != 0)) {
        break;
      }
    }
    in += piece;
    left -= piece;
    if (left == 0) break;
  }
  z->next_in = nullptr;
  z->next_out = nullptr;
  if (ok) {
    const size_t produced = out.size() - start;
    ok = produced >= 4 &&
         memcmp(out.data() + out.size() - 4, kTail, sizeof kTail) == 0;
    if (ok) out.truncate(out.size() - 4);
  }
  if (!ok) {
    out.truncate(start);
    free_deflater();
  } else if (params_.server_no_context_takeover) {
    free_deflater();
  }
  return ok;
}

}  // namespace pounce::ws
