// An incremental text/event-stream parser (WHATWG HTML §9.2.6, the parts a
// benchmark needs): `data:` lines are joined, `id:` is kept, comments and
// other fields are skipped, and a blank line dispatches the event. Bytes come
// from the decoded response body in any split.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pounce::bench {

struct SseEvent {
  std::string_view id;
  std::string_view data;  // data lines joined by '\n'
};

class SseParser {
 public:
  // An event's views live until the callback returns.
  using Callback = std::function<void(const SseEvent&)>;
  explicit SseParser(Callback on_event) : on_event_(std::move(on_event)) {}

  // Returns false when a line grows past kMaxLine (a stream that is not
  // SSE, or a server bug): the caller treats the stream as broken.
  bool feed(std::string_view bytes);

  // Forgets any partial line and event (a new stream begins).
  void reset();

  static constexpr size_t kMaxLine = 64 * 1024;

 private:
  void line(std::string_view l);

  Callback on_event_;
  std::string partial_;  // a line without its end yet
  std::string id_;
  std::string data_;
  bool has_data_ = false;
  bool skip_lf_ = false;  // the last line ended with CR; a LF may follow
};

// The `"t":<ns>` member of a stamped event's JSON data (the sse plugin's
// stamp=1), or nullopt. Only the digits are read: the field order and
// spacing of the rest of the object do not matter.
std::optional<uint64_t> sse_stamp_ns(std::string_view data);

}  // namespace pounce::bench
