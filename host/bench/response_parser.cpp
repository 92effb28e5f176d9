#include "bench/response_parser.h"

#include <algorithm>
#include <cstring>

namespace pounce::bench {

namespace {

constexpr std::string_view kHeadEnd = "\r\n\r\n";

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? char(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != b[i]) return false;
  }
  return true;
}

// True when the comma-separated list `value` holds `token` (lower case).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The last coding of a Transfer-Encoding list decides the framing
// (RFC 9112 §6.3).
bool last_coding_is_chunked(std::string_view value) {
  size_t comma = value.rfind(',');
  std::string_view last =
      comma == std::string_view::npos ? value : value.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) {
    last.remove_prefix(1);
  }
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) {
    last.remove_suffix(1);
  }
  return iequals(last, "chunked");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

ResponseParser::Step ResponseParser::fail(size_t consumed, const char* reason) {
  error_ = reason;
  Step s;
  s.consumed = consumed;
  s.error = true;
  return s;
}

ResponseParser::Step ResponseParser::finish(size_t consumed) {
  state_ = State::Head;
  Step s;
  s.consumed = consumed;
  s.complete = true;
  return s;
}

bool ResponseParser::parse_head(std::string_view head) {
  // Status line: HTTP/1.x SP 3DIGIT [SP reason]
  if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') {
    error_ = "malformed status line";
    return false;
  }
  bool http10 = head[7] == '0';
  int code = 0;
  for (int i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') {
      error_ = "malformed status code";
      return false;
    }
    code = code * 10 + (head[i] - '0');
  }
  status_ = code;
  keep_alive_ = !http10;

  bool chunked = false;
  bool have_length = false;
  uint64_t length = 0;
  size_t eol = head.find("\r\n");
  std::string_view rest = head.substr(eol + 2);
  while (!rest.empty()) {
    size_t end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error_ = "header line without a colon";
      return false;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    if (iequals(name, "content-length")) {
      uint64_t v = 0;
      if (value.empty()) {
        error_ = "empty Content-Length";
        return false;
      }
      for (char c : value) {
        if (c == ' ' || c == '\t') break;
        if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
          error_ = "bad Content-Length";
          return false;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      if (have_length && v != length) {
        error_ = "conflicting Content-Length";
        return false;
      }
      have_length = true;
      length = v;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = last_coding_is_chunked(value);
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) keep_alive_ = false;
      if (has_token(value, "keep-alive")) keep_alive_ = true;
    }
  }

  // RFC 9112 §6.3: 1xx, 204 and 304 have no body, whatever they declare.
  if ((code >= 100 && code < 200) || code == 204 || code == 304) {
    remaining_ = 0;
    state_ = State::Length;
  } else if (chunked) {
    state_ = State::ChunkSize;
    chunk_digits_ = 0;
    remaining_ = 0;
  } else if (have_length) {
    state_ = State::Length;
    remaining_ = length;
  } else {
    state_ = State::UntilEof;
    keep_alive_ = false;
  }
  return true;
}

ResponseParser::Step ResponseParser::feed(const char* data, size_t len,
                                          BodySink* sink) {
  size_t used = 0;
  while (state_ == State::Head) {
    std::string_view head;
    if (pending_.empty()) {
      const void* at = memmem(data + used, len - used, kHeadEnd.data(), 4);
      if (!at) {
        if (len - used > kMaxHead) return fail(len, "response head too large");
        pending_.assign(data + used, len - used);
        return Step{len, false, false};
      }
      size_t end = static_cast<const char*>(at) - data + 4;
      head = std::string_view(data + used, end - used);
      used = end;
    } else {
      // The terminator may straddle the previous read and this one.
      size_t old = pending_.size();
      pending_.append(data + used, len - used);
      size_t from = old >= 3 ? old - 3 : 0;
      size_t pos = pending_.find(kHeadEnd, from);
      if (pos == std::string::npos) {
        if (pending_.size() > kMaxHead) {
          return fail(len, "response head too large");
        }
        return Step{len, false, false};
      }
      used += pos + 4 - old;
      pending_.resize(pos + 4);
      head = pending_;
    }
    bool ok = parse_head(head);
    pending_.clear();
    if (!ok) return fail(used, error_);
    // An interim response (100 Continue): the final one follows.
    if (status_ >= 100 && status_ < 200) {
      state_ = State::Head;
      continue;
    }
    if (state_ == State::Length && remaining_ == 0) return finish(used);
  }
  return body(data, len, used, sink);
}

ResponseParser::Step ResponseParser::body(const char* data, size_t len,
                                          size_t used, BodySink* sink) {
  while (used < len) {
    switch (state_) {
      case State::Head:
        return Step{used, false, false};
      case State::Length: {
        uint64_t n = std::min<uint64_t>(remaining_, len - used);
        if (sink && n) sink->on_body(std::string_view(data + used, n));
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) return finish(used);
        break;
      }
      case State::UntilEof:
        if (sink) sink->on_body(std::string_view(data + used, len - used));
        return Step{len, false, false};
      case State::ChunkSize: {
        char c = data[used];
        int h = hex_value(c);
        if (h >= 0) {
          if (++chunk_digits_ > 15) return fail(used, "chunk size overflow");
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(h);
          ++used;
        } else if (chunk_digits_ == 0) {
          return fail(used, "bad chunk size");
        } else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
          state_ = State::ChunkExt;
          ++used;
        } else if (c == '\n') {
          // A bare LF after the size: lenient, no server we measure does it
          // but it is harmless to accept on the client side.
          state_ = State::ChunkExt;
        } else {
          return fail(used, "bad chunk size");
        }
        break;
      }
      case State::ChunkExt: {
        const void* lf = memchr(data + used, '\n', len - used);
        if (!lf) return Step{len, false, false};
        used = static_cast<const char*>(lf) - data + 1;
        chunk_digits_ = 0;
        state_ = remaining_ == 0 ? State::TrailerStart : State::ChunkData;
        break;
      }
      case State::ChunkData: {
        uint64_t n = std::min<uint64_t>(remaining_, len - used);
        if (sink) sink->on_body(std::string_view(data + used, n));
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::ChunkDataCr;
        break;
      }
      case State::ChunkDataCr:
        if (data[used] != '\r') return fail(used, "no CRLF after chunk data");
        ++used;
        state_ = State::ChunkDataLf;
        break;
      case State::ChunkDataLf:
        if (data[used] != '\n') return fail(used, "no CRLF after chunk data");
        ++used;
        state_ = State::ChunkSize;
        break;
      case State::TrailerStart:
        if (data[used] == '\r') {
          ++used;
          state_ = State::TrailerLf;
        } else if (data[used] == '\n') {
          return finish(used + 1);
        } else {
          state_ = State::TrailerLine;
        }
        break;
      case State::TrailerLine: {
        const void* lf = memchr(data + used, '\n', len - used);
        if (!lf) return Step{len, false, false};
        used = static_cast<const char*>(lf) - data + 1;
        state_ = State::TrailerStart;
        break;
      }
      case State::TrailerLf:
        if (data[used] != '\n') return fail(used, "bad end of chunked body");
        return finish(used + 1);
    }
  }
  return Step{used, false, false};
}

bool ResponseParser::finish_eof() {
  bool ends = state_ == State::UntilEof;
  state_ = State::Head;
  pending_.clear();
  return ends;
}

}  // namespace pounce::bench
