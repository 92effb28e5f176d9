#include "bench/sse_client.h"

#include <cstdio>

#include "bench/load_thread.h"

namespace pounce::bench {

namespace {

// `text` is exactly the decimal `value`.
bool is_decimal(std::string_view text, uint64_t value) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%llu",
                   static_cast<unsigned long long>(value));
  return text == std::string_view(digits, static_cast<size_t>(n));
}

// The sse plugin's event `seq`: id "<seq>", data {"seq":<seq>,"t":...}.
bool is_event(const SseEvent& e, uint64_t seq) {
  constexpr std::string_view kPrefix = "{\"seq\":";
  if (!is_decimal(e.id, seq)) return false;
  if (e.data.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = e.data.substr(kPrefix.size());
  size_t end = rest.find_first_of(",}");
  if (end == std::string_view::npos || !is_decimal(rest.substr(0, end), seq)) {
    return false;
  }
  return e.data.back() == '}';
}

}  // namespace

SseStreamReader::SseStreamReader()
    : sse_([this](const SseEvent& e) {
        ++events_;
        // The first event of a stream sets the count (a resumed stream may
        // start anywhere); each next one must follow it. After a gap the
        // count follows the stream again: one gap is one wrong event.
        uint64_t id = 0;
        bool numeric = !e.id.empty() && e.id.size() < 20;
        for (char c : e.id) {
          numeric = numeric && c >= '0' && c <= '9';
          id = id * 10 + static_cast<uint64_t>(c - '0');
        }
        if (!seq_started_) {
          next_seq_ = id;
          seq_started_ = true;
        }
        bool right = numeric && is_event(e, next_seq_);
        next_seq_ = (numeric ? id : next_seq_) + 1;
        if (auto t = sse_stamp_ns(e.data)) {
          latencies_.push_back(now_ > *t ? now_ - *t : 0);
        } else {
          ++unstamped_;
          right = false;
        }
        if (!right) ++wrong_;
      }) {}

void SseStreamReader::on_body(std::string_view bytes) {
  // Only a 2xx body is an event stream; an error page is not parsed.
  if (parser_.status() < 200 || parser_.status() > 299) return;
  if (!sse_.feed(bytes)) broken_ = true;
}

bool SseStreamReader::feed(const char* data, size_t len, uint64_t now_ns) {
  now_ = now_ns;
  complete_ = false;
  while (len > 0 && !complete_) {
    ResponseParser::Step step = parser_.feed(data, len, this);
    if (step.error || broken_) return false;
    data += step.consumed;
    len -= step.consumed;
    complete_ = step.complete;
    if (complete_) seq_started_ = false;  // a next stream counts afresh
  }
  // Bytes after the end of a stream's response have no request to answer.
  return len == 0;
}

void SseStreamReader::reset() {
  parser_ = ResponseParser();
  sse_.reset();
  seq_started_ = false;
  broken_ = false;
  complete_ = false;
  latencies_.clear();
}

SseConnection::SseConnection(LoadThread& thread, const std::string& request)
    : Connection(thread), request_(request) {}

void SseConnection::start_traffic() {
  if (requested_) return;
  requested_ = true;
  send(request_.data(), request_.size());
}

void SseConnection::drain(uint64_t) {
  LoadCounters& live = thread_.live();
  live.completed += reader_.take_events();
  live.wrong_body += reader_.take_wrong();
  for (uint64_t ns : reader_.latencies()) thread_.record_latency(ns);
  reader_.clear_latencies();
  thread_.publish_progress();
}

void SseConnection::on_read(const char* data, size_t len, uint64_t now) {
  bool ok = reader_.feed(data, len, now);
  drain(now);
  if (!ok) {
    ++thread_.live().protocol_errors;
    reconnect(true);
    return;
  }
  if (reader_.response_complete()) {
    // A finite stream ended (or an error page arrived): ask again.
    int status = reader_.status();
    if (status < 200 || status > 299) ++thread_.live().non_2xx;
    bool keep = reader_.keep_alive();
    requested_ = false;
    if (keep) {
      start_traffic();
    } else {
      reconnect(false);
    }
  }
}

bool SseConnection::on_eof() {
  bool framed_by_eof = reader_.finish_eof();
  // An endless stream that the server closes is an error; one framed by EOF
  // simply ended.
  return requested_ && !framed_by_eof;
}

void SseConnection::on_reset() {
  reader_.reset();
  requested_ = false;
}

}  // namespace pounce::bench
