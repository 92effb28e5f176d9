#include "bench/sse_parser.h"

namespace pounce::bench {

bool SseParser::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      if (partial_.size() + bytes.size() > kMaxLine) return false;
      partial_.append(bytes);
      return true;
    }
    // Lines end with CRLF, LF or CR (all three are valid in SSE).
    skip_lf_ = bytes[end] == '\r';
    if (partial_.empty()) {
      line(bytes.substr(0, end));
    } else {
      if (partial_.size() + end > kMaxLine) return false;
      partial_.append(bytes.substr(0, end));
      line(partial_);
      partial_.clear();
    }
    bytes.remove_prefix(end + 1);
  }
  return true;
}

void SseParser::reset() {
  partial_.clear();
  id_.clear();
  data_.clear();
  has_data_ = false;
  skip_lf_ = false;
}

void SseParser::line(std::string_view l) {
  if (l.empty()) {
    if (has_data_) on_event_(SseEvent{id_, data_});
    data_.clear();
    has_data_ = false;
    return;
  }
  if (l.front() == ':') return;  // a comment, e.g. a keep-alive ping
  size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "id") {
    id_.assign(value);
  }
}

std::optional<uint64_t> sse_stamp_ns(std::string_view data) {
  constexpr std::string_view kKey = "\"t\"";
  size_t at = data.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + kKey.size();
  while (i < data.size() && (data[i] == ' ' || data[i] == '\t')) ++i;
  if (i >= data.size() || data[i] != ':') return std::nullopt;
  ++i;
  while (i < data.size() && (data[i] == ' ' || data[i] == '\t')) ++i;
  uint64_t v = 0;
  size_t digits = 0;
  for (; i < data.size() && data[i] >= '0' && data[i] <= '9'; ++i, ++digits) {
    if (digits == 19) return std::nullopt;  // would overflow
    v = v * 10 + static_cast<uint64_t>(data[i] - '0');
  }
  if (digits == 0) return std::nullopt;
  return v;
}

}  // namespace pounce::bench
