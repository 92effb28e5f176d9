#include "h2/session.h"

#include "admin/readiness.h"
#include "h2/nghttp2_memory.h"
#include "pipeline/admission.h"

#include <uv.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

#include "async/stream.h"
#include "async/ws_session.h"
#include "http/ascii.h"
#include "log/logger.h"
#include "net/event_loop.h"
#include "pipeline/response.h"
#include "plugin/generation.h"
#include "plugin/request_response.h"

namespace pounce::h2 {

namespace {

// Frames pulled from nghttp2 may wait this long for the socket; past it
// they stay in nghttp2 (and bodies in their streams) until the socket
// drains. Large enough for a burst of full windows to go out in one write.
constexpr size_t kSendBuffer = 128 * 1024;
constexpr size_t kBatchSendBytes = 64 * 1024;
// A DATA payload at least this large is written from the stream's buffer
// (cleartext): below it, copying is cheaper than another iovec.
constexpr size_t kReferenceMin = 4 * 1024;
// The connection's receive window (RFC 9113 §6.9.2): 65,535 by default,
// which would cap a connection's uploads at one stream's window per round
// trip; raised as the issue asks, the per-stream window stays the flag's.
constexpr int32_t kConnectionWindow = 1024 * 1024;

}  // namespace

void return_relayed_job(EventLoop* origin, BlockingJob* job) {
  // The job belongs to the loop that submitted it (its free list); a loop
  // that has finished has no list any more.
  if (!origin->post([origin, job] { origin->release_job(job); })) {
    job->recycle();
    delete job;
  }
}

namespace {

// Waits, on the loop that submitted a job, for the job of a stream that
// moved away; frees itself once it handed the answer on.
class RelayOwner final : public BlockingOwner {
 public:
  RelayOwner(std::shared_ptr<JobRelay> relay, EventLoop* origin,
             EventLoop* target)
      : relay_(std::move(relay)), origin_(origin), target_(target) {}

  void finish_blocking(BlockingJob* job) override {
    job->owner = nullptr;
    std::shared_ptr<JobRelay> relay = relay_;
    EventLoop* origin = origin_;
    const bool posted = target_->post([relay, job, origin] {
      if (relay->stream) {
        relay->stream->finish_relayed(job, origin);
      } else {
        return_relayed_job(origin, job);
      }
    });
    if (!posted) origin_->release_job(job);
    delete this;
  }

  // The stream's new loop sends them; posted ahead of the answer, which
  // travels the same queue.
  void send_early_hints(std::string_view lines) override {
    std::shared_ptr<JobRelay> relay = relay_;
    try {
      target_->post([relay, l = std::string(lines)] {
        if (relay->stream) relay->stream->send_early_hints(l);
      });
    } catch (const std::bad_alloc&) {
      // Advisory: dropped.
    }
  }

 private:
  std::shared_ptr<JobRelay> relay_;
  EventLoop* origin_;
  EventLoop* target_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Life cycle

Session::Session(EventLoop* loop, Transport* t)
    : loop_(loop),
      transport_(t),
      last_output_ms_(uv_now(loop->uv())),
      idle_since_ms_(uv_now(loop->uv())),
      budget_(uv_now(loop->uv())) {}

std::unique_ptr<Session> Session::create(EventLoop* loop, Transport* t) {
  std::unique_ptr<Session> s(new (std::nothrow) Session(loop, t));
  if (!s || !s->init()) {
    LOG_ERROR("cannot start an HTTP/2 session for %s (out of memory)",
              t->describe_peer().c_str());
    return nullptr;
  }
  return s;
}

bool Session::init() {
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return false;
  nghttp2_session_callbacks_set_send_callback(cb, on_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_error_callback2(cb, on_error);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
      cb, on_invalid_frame);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return false;
  }
  int rv = nghttp2_session_server_new3(&ng_, cb, this, opt, session_memory());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    ng_ = nullptr;
    return false;
  }
  const Config& cfg = loop_->config();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg.h2_max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg.h2_initial_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, cfg.h2_max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(cfg.h2_max_header_list_size)},
      // RFC 8441: WebSockets over extended CONNECT.
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  if (nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings,
                              sizeof settings / sizeof settings[0]) != 0) {
    return false;
  }
  return nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                               kConnectionWindow) == 0;
}

Session::~Session() {
  // Every stream's app side was let go (on_transport_closed); what is left
  // is memory.
  for (Stream* s : all_) delete s;
  while (Stream* s = dead_) {
    dead_ = s->next_free_;
    delete s;
  }
  if (ng_) nghttp2_session_del(ng_);
}

Stream* Session::new_stream(int32_t id) {
  Stream* s = stream_pool::take();
  if (s) {
    s = Stream::renew(s, this, loop_);
  } else {
    s = new (std::nothrow) Stream(this, loop_);
    if (!s) return nullptr;
  }
  s->start(id);
  all_.push_back(s);
  ++open_streams_;
  return s;
}

void Session::reap() {
  while (Stream* s = dead_) {
    dead_ = s->next_free_;
    s->next_free_ = nullptr;
    stream_pool::give(s);
  }
}

// ---------------------------------------------------------------------------
// Input

void Session::feed(const char* data, size_t len, uint64_t read_started_ns) {
  if (closed_) return;
  reap();
  read_started_ns_ = read_started_ns;
  ++in_ng_;
  ssize_t rv = nghttp2_session_mem_recv(
      ng_, reinterpret_cast<const uint8_t*>(data), len);
  --in_ng_;
  if (closed_ || rv < 0) {
    // Not served: the connection ends.
    for (Stream* s : ready_) s->route_ = Route{};
    ready_.clear();
    if (!closed_) fail("input", static_cast<int>(rv));
    return;
  }
  if (!ready_.empty()) run_ready();
  send();
}

bool Session::wants_read() const {
  return !closed_ && !moving_ && nghttp2_session_want_read(ng_) != 0;
}

void Session::fail(const char* what, int rv) {
  // The peer broke the protocol past what a GOAWAY nghttp2 queued itself
  // can express (a bad preface, a flood), or memory ran out: tell it
  // (best effort) and close. After stop_input() (which stopped the input
  // with a callback failure) it is all done: logged, and GOAWAY queued.
  if (!stopped_) {
    if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      LOG_INFO("HTTP/2 from %s: not a client preface; closing",
               transport_->describe_peer().c_str());
    } else {
      LOG_INFO("HTTP/2 %s from %s: %s; closing", what,
               transport_->describe_peer().c_str(), nghttp2_strerror(rv));
    }
    if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
      // Floods (of control frames to answer, of CONTINUATION frames): the
      // peer is told to calm down, not that it broke the protocol.
      nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (rv != NGHTTP2_ERR_NOMEM && rv != NGHTTP2_ERR_CALLBACK_FAILURE) {
      nghttp2_session_terminate_session(ng_, NGHTTP2_PROTOCOL_ERROR);
    }
  }
  ++in_ng_;
  (void)nghttp2_session_send(ng_);
  --in_ng_;
  if (closed_) {
    drop_refs();
    return;
  }
  flush_wire();
  if (closed_) return;
  finishing_ = true;
  transport_->wire_finish();
}

int Session::on_begin_headers(nghttp2_session* ng, const nghttp2_frame* frame,
                              void* user) {
  auto* self = static_cast<Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  Stream* s = self->new_stream(frame->hd.stream_id);
  if (!s) {
    LOG_ERROR("out of memory for an HTTP/2 stream of %s",
              self->transport_->describe_peer().c_str());
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM
  }
  nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, s);
  self->loop_->counters().h2_streams.add(1);
  // A header block left unfinished holds the whole connection (no other
  // frame may come before its END_HEADERS): --header-timeout bounds it.
  self->loop_->timeouts().arm(s, TimeoutKind::Header);
  return 0;
}

int Session::on_header(nghttp2_session* ng, const nghttp2_frame* frame,
                       const uint8_t* name_bytes, size_t namelen,
                       const uint8_t* value_bytes, size_t valuelen, uint8_t,
                       void* user) {
  auto* self = static_cast<Session*>(user);
  auto* s = static_cast<Stream*>(
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (!s || s->phase_ == Stream::Phase::Closed) return 0;
  const Config& cfg = self->loop_->config();
  std::string_view name(reinterpret_cast<const char*>(name_bytes), namelen);
  std::string_view value(reinterpret_cast<const char*>(value_bytes), valuelen);
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    // Trailers (RFC 9113 §8.1): nghttp2 allowed them only after the head,
    // with END_STREAM and without pseudo-fields. The same bounds as a
    // chunked body's trailer section.
    if (s->head_error_ != http::ErrorCode::None) return 0;
    s->header_list_bytes_ += namelen + valuelen + 32;
    if (s->trailer_spans_.size() >= cfg.max_headers ||
        s->trailer_bytes_.size() + namelen + valuelen > cfg.max_header_size) {
      s->head_error_ = http::ErrorCode::TrailersTooLarge;
      return 0;
    }
    Stream::Field f;
    f.name.off = static_cast<uint32_t>(s->trailer_bytes_.size());
    f.name.len = static_cast<uint32_t>(namelen);
    s->trailer_bytes_.append(name);
    f.value.off = static_cast<uint32_t>(s->trailer_bytes_.size());
    f.value.len = static_cast<uint32_t>(valuelen);
    s->trailer_bytes_.append(value);
    s->trailer_spans_.push_back(f);
    return 0;
  }
  // The decoded size counts as it arrives (RFC 9113 §6.5.2: name, value and
  // 32 bytes each): a header list past --h2-max-header-list-size is
  // refused, whatever the HPACK encoding made it cost on the wire.
  s->header_list_bytes_ += namelen + valuelen + 32;
  if (s->head_error_ != http::ErrorCode::None) return 0;
  if (s->header_list_bytes_ > cfg.h2_max_header_list_size) {
    s->head_error_ = http::ErrorCode::HeadersTooLarge;
    return 0;
  }
  const size_t at = s->fields_.size();
  if (!s->fields_.append(name) || !s->fields_.append(value)) {
    s->head_error_ = http::ErrorCode::OutOfMemory;
    return 0;
  }
  Stream::Span n{static_cast<uint32_t>(at), static_cast<uint32_t>(namelen)};
  Stream::Span v{static_cast<uint32_t>(at + namelen),
                 static_cast<uint32_t>(valuelen)};
  if (!name.empty() && name[0] == ':') {
    // nghttp2 checked the pseudo-fields (RFC 9113 §8.3): known names, each
    // once, before the ordinary fields, none in trailers.
    if (name == ":method") {
      s->method_ = v;
    } else if (name == ":path") {
      s->path_ = v;
    } else if (name == ":scheme") {
      s->scheme_ = v;
    } else if (name == ":authority") {
      s->authority_ = v;
      s->has_authority_ = true;
    } else if (name == ":protocol") {
      s->protocol_ = v;
      s->has_protocol_ = true;
    }
    return 0;
  }
  if (s->spans_.size() >= cfg.max_headers) {
    s->head_error_ = http::ErrorCode::TooManyHeaders;
    return 0;
  }
  if (name == "host") {
    s->host_ = v;
    s->has_host_ = true;
  } else if (name == "content-length") {
    // nghttp2 checked the value (digits, one value) and will check it
    // against the DATA received.
    uint64_t n_value = 0;
    for (char c : value)
      n_value = n_value * 10 + static_cast<uint64_t>(c - '0');
    s->content_length_ = static_cast<int64_t>(n_value);
  }
  s->spans_.push_back({n, v});
  return 0;
}

int Session::on_frame_recv(nghttp2_session* ng, const nghttp2_frame* frame,
                           void* user) {
  auto* self = static_cast<Session*>(user);
  const bool ack = (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0;
  const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  // The frames that carry no request draw on their budget.
  FrameKind kind = FrameKind::Count;
  switch (frame->hd.type) {
    case NGHTTP2_RST_STREAM:
      kind = FrameKind::Reset;
      break;
    case NGHTTP2_SETTINGS:
      if (!ack) kind = FrameKind::Settings;
      break;
    case NGHTTP2_PING:
      if (!ack) kind = FrameKind::Ping;
      break;
    case NGHTTP2_PRIORITY:
      kind = FrameKind::Priority;
      break;
    case NGHTTP2_DATA:
      // hd.length counts the padding (and its length byte): a frame of
      // padding only carries nothing either.
      if (!end && frame->hd.length <= frame->data.padlen) {
        kind = FrameKind::EmptyData;
      }
      break;
    default:
      break;
  }
  if (kind != FrameKind::Count && self->over_budget(kind)) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
    return 0;
  }
  auto* s = static_cast<Stream*>(
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (!s || s->phase_ == Stream::Phase::Closed) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    s->request_ended_ = end;
    s->ended_with_head_ = end;
    self->on_request_head(s);
    return 0;
  }
  if (end) {
    s->request_ended_ = true;
    self->on_request_end(s);
  }
  return 0;
}

int Session::on_data_chunk(nghttp2_session* ng, uint8_t, int32_t stream_id,
                           const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<Session*>(user);
  auto* s =
      static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, stream_id));
  if (!s || s->phase_ == Stream::Phase::Closed) return 0;
  self->on_request_data(s, reinterpret_cast<const char*>(data), len);
  return 0;
}

int Session::on_stream_close(nghttp2_session* ng, int32_t stream_id,
                             uint32_t error_code, void* user) {
  auto* self = static_cast<Session*>(user);
  auto* s =
      static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng, stream_id));
  if (!s || s->phase_ == Stream::Phase::Closed) return 0;
  // Our END_STREAM went out and nobody reset the stream: the response is
  // complete (the app side may not have heard yet: the close can come
  // while nghttp2 sends the last frame). Otherwise what still runs for it
  // was cut by the peer's RST_STREAM (or a stream error), and the
  // connection lives on (ABI 1.1).
  s->release_app(s->end_sent_ && error_code == NGHTTP2_NO_ERROR
                     ? POUNCE_CLOSE_DONE
                     : POUNCE_CLOSE_RESET);
  s->phase_ = Stream::Phase::Closed;
  s->route_ = Route{};
  s->drop_pending();  // the files it was sending close now
  self->pending_.erase(
      std::remove(self->pending_.begin(), self->pending_.end(), s),
      self->pending_.end());
  self->all_.erase(std::remove(self->all_.begin(), self->all_.end(), s),
                   self->all_.end());
  if (--self->open_streams_ == 0) {
    self->idle_since_ms_ = uv_now(self->loop_->uv());
  }
  // Reused from a later turn only: an exchange outlives the calls on the
  // stack (exchange.h).
  s->next_free_ = self->dead_;
  self->dead_ = s;
  return 0;
}

int Session::on_invalid_frame(nghttp2_session*, const nghttp2_frame*, int,
                              void* user) {
  // A frame that nghttp2 answers with a stream error (RST_STREAM): the
  // peer makes the server reset streams, which costs what a reset of its
  // own does (the "MadeYouReset" variant of rapid reset): the same budget.
  auto* self = static_cast<Session*>(user);
  return self->over_budget(FrameKind::Reset) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

int Session::on_begin_frame(nghttp2_session* ng, const nghttp2_frame_hd* hd,
                            void* user) {
  if (hd->type != NGHTTP2_HEADERS || (hd->stream_id & 1) == 0) return 0;
  auto* self = static_cast<Session*>(user);
  const int32_t id = hd->stream_id;
  if (id > self->highest_stream_id_) {
    // The ids between the last stream and this one are closed unused
    // (RFC 9113 §5.1.1): remembered, a few ranges, for the check below.
    const int32_t lo = self->highest_stream_id_ + 2;
    if (lo <= id - 2) {
      self->skipped_[self->skipped_next_++ % kSkippedRanges] = {lo, id - 2};
    }
    self->highest_stream_id_ = id;
    return 0;
  }
  // Below the highest id: trailers on an open stream, or a frame on a
  // stream that closed (nghttp2 ignores it, or answers STREAM_CLOSED). An
  // id the client skipped was never opened: nghttp2 drops that HEADERS
  // unanswered, but it is a connection error (RFC 9113 §5.1.1).
  if (nghttp2_session_get_stream_user_data(ng, id) != nullptr) return 0;
  for (const IdRange& r : self->skipped_) {
    if (id >= r.lo && id <= r.hi) {
      self->stop_input(NGHTTP2_PROTOCOL_ERROR,
                       "HEADERS on stream %d, an id it skipped (stream %d "
                       "is open or done)",
                       id, self->highest_stream_id_);
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  }
  return 0;
}

void Session::stop_input(uint32_t error_code, const char* fmt, ...) {
  stopped_ = true;
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  LOG_INFO("HTTP/2 from %s: %s; GOAWAY %s", transport_->describe_peer().c_str(),
           why, nghttp2_http2_strerror(error_code));
  nghttp2_session_terminate_session(ng_, error_code);
}

bool Session::over_budget(FrameKind k) {
  if (stopped_) return true;
  if (budget_.take(k, uv_now(loop_->uv()))) return false;
  const FrameLimit& lim = frame_limit(k);
  stop_input(NGHTTP2_ENHANCE_YOUR_CALM,
             "flood of %s frames, past %u at once and %u a second", lim.name,
             lim.burst, lim.per_second);
  return true;
}

int Session::on_frame_send(nghttp2_session* ng, const nghttp2_frame* frame,
                           void* user) {
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    static_cast<Session*>(user)->loop_->counters().h2_goaways.add(1);
  }
  if (frame->hd.type == NGHTTP2_GOAWAY &&
      frame->goaway.error_code != NGHTTP2_NO_ERROR) {
    // nghttp2 ended the connection: a protocol error, a flood it caught,
    // or ours (fail()). One line, with the code the peer got; stop_input()
    // said it already.
    auto* self = static_cast<Session*>(user);
    if (self->stopped_) return 0;
    LOG_INFO("HTTP/2 GOAWAY to %s: %s (last stream %d)",
             self->transport_->describe_peer().c_str(),
             nghttp2_http2_strerror(frame->goaway.error_code),
             frame->goaway.last_stream_id);
    return 0;
  }
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  auto* s = static_cast<Stream*>(
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id));
  if (s) s->end_sent_ = true;
  return 0;
}

int Session::on_error(nghttp2_session*, int, const char* msg, size_t len,
                      void* user) {
  auto* self = static_cast<Session*>(user);
  LOG_DEBUG("HTTP/2 from %s: %.*s", self->transport_->describe_peer().c_str(),
            static_cast<int>(len), msg);
  return 0;
}

// ---------------------------------------------------------------------------
// Requests

void Session::on_request_head(Stream* s) {
  loop_->timeouts().disarm(s);  // the head is complete
  if (read_started_ns_) {
    s->read_started_ns_ = read_started_ns_;
    s->parse_ns_ = uv_hrtime() - read_started_ns_;
  } else {
    s->read_started_ns_ = 0;
    s->parse_ns_ = 0;
  }
  bool malformed = false;
  http::ErrorCode e = s->build_head(&malformed);
  if (malformed) {
    // RFC 9113 §8.1.1: a malformed request is a stream error.
    LOG_DEBUG("HTTP/2 from %s: malformed request on stream %d",
              transport_->describe_peer().c_str(), s->id_);
    reset_stream(s, NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  if (e != http::ErrorCode::None) {
    s->respond_error(e, s->head_ok_ ? &s->head_ : nullptr);
    return;
  }
  route_and_start(s);
}

void Session::route_and_start(Stream* s) {
  const http::RequestHead& head = s->head_;
  const Config& cfg = loop_->config();
  if (head.path == "*") {
    // Asterisk-form: a server-wide OPTIONS, answered by the host (as on
    // HTTP/1; nghttp2 allowed "*" for OPTIONS only).
    pounce_response& res = loop_->response();
    res.reset("host");
    pipeline::send_response(*s, head, res);
    return;
  }
  if (!s->admitted_) {
    // Once per stream, though a stream that waits for its connection's move
    // is routed again on the async loop.
    s->admitted_ = true;
    const http::ErrorCode admitted = pipeline::Admission::admit(*s, head);
    if (admitted != http::ErrorCode::None) {
      s->respond_error(admitted, &head);
      return;
    }
  }
  if (moving_) {
    // The connection is on its way to an async loop: every request from
    // now on starts there (routed by that loop), none here.
    s->phase_ = Stream::Phase::Pending;
    pending_.push_back(s);
    if (!s->request_ended_) loop_->timeouts().arm(s, TimeoutKind::Body);
    return;
  }
  Route r;
  r.generation = loop_->generation();
  http::ErrorCode error = resolve_route(head, loop_->path_buffer(), &r);
  if (const std::string& health = cfg.health_check_path;
      !health.empty() &&
      (error == http::ErrorCode::None || error == http::ErrorCode::NoRoute) &&
      r.path == health) {
    // --health-check-path, as on HTTP/1 (net/connection.cpp).
    pounce_response& res = loop_->response();
    res.reset("host");
    char body[96];
    res.body.append(body, admin::ready_answer(body, sizeof body, &res.status));
    add_response_header(&res, {"Content-Type", 12}, {"application/json", 16});
    add_response_header(&res, {"Cache-Control", 13}, {"no-store", 8});
    pipeline::send_response(*s, head, res);
    return;
  }
  if (error != http::ErrorCode::None) {
    s->respond_error(error, &head);
    return;
  }
  // Answered before reading, as over HTTP/1 (the async path included: its
  // on_body has the same bound).
  if (s->content_length_ >= 0 &&
      static_cast<uint64_t>(s->content_length_) > cfg.max_body_size &&
      !head.upgrade_websocket) {
    s->respond_error(http::ErrorCode::BodyTooLarge, &head);
    return;
  }
  if (r.async) {
    if (transport_->wire_request_move()) {
      // The connection moves to an async loop (docs/http2.md); the stream
      // starts there, routed again by that loop's generation.
      s->phase_ = Stream::Phase::Pending;
      pending_.push_back(s);
      moving_ = true;
      if (!s->request_ended_) loop_->timeouts().arm(s, TimeoutKind::Body);
      return;
    }
    if (head.upgrade_websocket) {
      start_websocket(s, r);
    } else {
      start_async(s, r);
    }
    return;
  }
  if (s->request_ended_) {
    s->route_ = std::move(r);
    dispatch(s);
    return;
  }
  // The body arrives over later frames: the route must hold until then,
  // so its generation is pinned and a normalized path copied out of the
  // loop's buffer.
  if (!r.pin) r.pin = GenerationPin(r.generation);
  if (r.path.data() == loop_->path_buffer()) {
    s->path_copy_.clear();
    if (!s->path_copy_.append(r.path)) {
      s->respond_error(http::ErrorCode::OutOfMemory, &head);
      return;
    }
    const size_t info = r.path_info.size();
    r.path = s->path_copy_.view();
    r.path_info = r.path.substr(r.path.size() - info);
  }
  s->route_ = std::move(r);
  s->phase_ = Stream::Phase::Body;
  loop_->timeouts().arm(s, TimeoutKind::Body);
}

void Session::on_request_data(Stream* s, const char* data, size_t len) {
  s->body_bytes_ += len;
  const Config& cfg = loop_->config();
  switch (s->phase_) {
    case Stream::Phase::Body:
    case Stream::Phase::Pending:
      if (s->body_.size() + len > cfg.max_body_size) {
        s->route_ = Route{};
        if (s->phase_ == Stream::Phase::Pending) {
          pending_.erase(std::remove(pending_.begin(), pending_.end(), s),
                         pending_.end());
        }
        s->respond_error(http::ErrorCode::BodyTooLarge, &s->head_);
        return;
      }
      if (!s->body_.append(data, len)) {
        s->route_ = Route{};
        s->respond_error(http::ErrorCode::OutOfMemory, &s->head_);
        return;
      }
      loop_->timeouts().arm(s, TimeoutKind::Body);  // progress
      return;
    case Stream::Phase::Async:
      if (!s->async_ || s->body_done_for_app_) return;
      if (s->body_bytes_ > cfg.max_body_size) {
        if (s->async_->started()) {
          s->abort(POUNCE_CLOSE_ERROR);
        } else {
          s->fail(http::ErrorCode::BodyTooLarge);
        }
        return;
      }
      loop_->timeouts().arm(s, TimeoutKind::Body);
      // nghttp2's input buffer is ours (the read buffer): the plugin reads
      // it as const, as on HTTP/1.
      s->async_->deliver_body(const_cast<char*>(data), len, false);
      return;
    case Stream::Phase::WebSocket:
      if (s->ws_) s->ws_->feed(const_cast<char*>(data), len);
      return;
    default:
      return;  // answered already: the rest of the request is dropped
  }
}

void Session::on_request_end(Stream* s) {
  // Trailers, as views now that no more are coming.
  s->trailers_.clear();
  for (const Stream::Field& f : s->trailer_spans_) {
    s->trailers_.push_back(
        {{s->trailer_bytes_.data() + f.name.off, f.name.len},
         {s->trailer_bytes_.data() + f.value.off, f.value.len}});
  }
  switch (s->phase_) {
    case Stream::Phase::Body:
      loop_->timeouts().disarm(s);
      if (s->head_error_ != http::ErrorCode::None) {
        s->route_ = Route{};
        s->respond_error(s->head_error_, &s->head_);
        return;
      }
      dispatch(s);
      return;
    case Stream::Phase::Async:
      if (!s->async_ || s->body_done_for_app_) return;
      s->body_done_for_app_ = true;
      if (!s->async_->started()) {
        loop_->timeouts().arm(s, TimeoutKind::ResponseStart);
      } else {
        loop_->timeouts().disarm(s);
      }
      s->async_->deliver_body(nullptr, 0, true);
      return;
    case Stream::Phase::Pending:
      loop_->timeouts().disarm(s);
      return;
    case Stream::Phase::WebSocket:
      // The client ended its side of the tunnel (RFC 8441 §4: a TCP FIN):
      // as when an HTTP/1 WebSocket's connection ends, the session closes
      // (with the close code it agreed on, else 1006), and our side ends
      // once what is queued (a close reply) is out.
      s->release_app(POUNCE_CLOSE_PEER);
      s->end_response({});
      return;
    default:
      return;
  }
}

void Session::defer_sync(Stream* s) {
  Route& r = s->route_;
  // The route must hold until run_ready(). Its generation needs no pin:
  // run_ready() runs in the same loop callback (feed), and a reload swaps
  // generations only between callbacks (docs/architecture.md). A
  // normalized path must leave the loop's buffer, which the read's next
  // request reuses (as for a body that arrives later, in route_and_start).
  if (r.path.data() == loop_->path_buffer()) {
    s->path_copy_.clear();
    if (!s->path_copy_.append(r.path)) {
      s->route_ = Route{};
      s->respond_error(http::ErrorCode::OutOfMemory, &s->head_);
      return;
    }
    const size_t info = r.path_info.size();
    r.path = s->path_copy_.view();
    r.path_info = r.path.substr(r.path.size() - info);
  }
  s->phase_ = Stream::Phase::Body;  // complete, waiting for its handler
  ready_.push_back(s);
}

void Session::run_ready() {
  running_.swap(ready_);
  batching_ = true;
  size_t batch_bytes = 0;
  for (Stream* s : running_) {
    // A stream the peer reset meanwhile (or a session that closed, through
    // a 103's send) is not served.
    if (closed_ || s->phase_ != Stream::Phase::Body) {
      s->route_ = Route{};
      continue;
    }
    dispatch(s);
    batch_bytes += s->queued_output();
    if (batch_bytes >= kBatchSendBytes && !closed_) {
      send_now();
      batch_bytes = 0;
    }
  }
  batching_ = false;
  running_.clear();
}

void Session::send_now() {
  const bool batching = batching_;
  batching_ = false;
  send();
  batching_ = batching;
}

void Session::dispatch(Stream* s) {
  if (in_ng_ > 0 && !s->route_.blocking) {
    defer_sync(s);
    return;
  }
  Route r = std::move(s->route_);
  std::string_view body = s->body_.view();
  const pounce_header_t* trailers =
      s->trailers_.empty() ? nullptr : s->trailers_.data();
  if (r.blocking) {
    s->route_ = std::move(r);
    start_blocking(s);
    return;
  }
  s->phase_ = Stream::Phase::Answered;
  call_sync(*s, s->head_, r, body, trailers, s->trailers_.size());
}

void Session::start_blocking(Stream* s) {
  Route r = std::move(s->route_);
  const http::RequestHead& head = s->head_;
  BlockingJob* job = loop_->acquire_job();
  if (!job ||
      !job->capture_fields(head, s->body_.view(), r.path, r.path_info,
                           s->trailers_.empty() ? nullptr : s->trailers_.data(),
                           s->trailers_.size())) {
    if (job) loop_->release_job(job);
    s->respond_error(http::ErrorCode::OutOfMemory, &head);
    return;
  }
  job->bind(*s, s, *r.mount,
            r.pin ? std::move(r.pin) : GenerationPin(r.generation),
            transport_->tls_snapshot());
  BlockingPool* pool = loop_->blocking_pool();
  if (!pool || !pool->submit(job)) {
    loop_->release_job(job);
    s->respond_error(http::ErrorCode::BlockingQueueFull, &head);
    return;
  }
  s->job_ = job;
  s->phase_ = Stream::Phase::Blocking;
  loop_->timeouts().arm(s, TimeoutKind::ResponseStart);
}

void Session::start_async(Stream* s, Route& r) {
  // The stream keeps its generation until it is freed.
  GenerationPin pin = r.pin ? std::move(r.pin) : GenerationPin(r.generation);
  auto* a = new AsyncStream(s, r.mount, std::move(pin), s->head_);
  s->async_ = a;
  s->phase_ = Stream::Phase::Async;
  s->body_done_for_app_ = s->ended_with_head_;
  a->begin(s->head_, r);
  if (s->async_ != a || s->phase_ != Stream::Phase::Async) return;
  // A body that arrived while the stream waited for its loop.
  if (!s->body_.empty() || (s->request_ended_ && !s->body_done_for_app_)) {
    s->body_done_for_app_ = s->request_ended_;
    a->deliver_body(s->body_.data(), s->body_.size(), s->request_ended_);
    s->body_.clear();
    if (s->async_ != a || s->phase_ != Stream::Phase::Async) return;
  }
  if (!s->body_done_for_app_) {
    loop_->timeouts().arm(s, TimeoutKind::Body);
  } else if (!a->started()) {
    loop_->timeouts().arm(s, TimeoutKind::ResponseStart);
  }
}

void Session::start_websocket(Stream* s, Route& r) {
  ws::Handshake hs =
      ws::validate_extended_connect(s->head_, websocket_deflate_policy(*loop_));
  if (!hs.ok()) {
    LOG_INFO("refused WebSocket (RFC 8441) from %s: %s",
             transport_->describe_peer().c_str(), hs.detail);
    s->respond_error(hs.error, &s->head_);
    return;
  }
  WsSession* w = upgrade_websocket(*s, s->head_, r, hs);
  if (!w) return;  // refused: the answer is queued
  s->ws_ = w;
  s->phase_ = Stream::Phase::WebSocket;
  loop_->timeouts().disarm(s);
  send();
  if (s->ws_ != w) return;
  w->open();
  // Frames that arrived while the stream waited for its loop.
  if (s->ws_ == w && !s->body_.empty()) {
    w->feed(s->body_.data(), s->body_.size());
    s->body_.clear();
  }
  if (s->ws_ == w && s->request_ended_) {
    s->release_app(POUNCE_CLOSE_PEER);
    s->end_response({});
  }
}

// ---------------------------------------------------------------------------
// Output

ssize_t Session::on_send(nghttp2_session*, const uint8_t* data, size_t len, int,
                         void* user) {
  auto* self = static_cast<Session*>(user);
  ByteBuffer& out = self->transport_->wire_output();
  if (self->output_full(out)) {
    self->blocked_ = true;
    return NGHTTP2_ERR_WOULDBLOCK;
  }
  if (!out.append(data, len)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return static_cast<ssize_t>(len);
}

int Session::on_send_data(nghttp2_session*, nghttp2_frame* frame,
                          const uint8_t* framehd, size_t len,
                          nghttp2_data_source* source, void* user) {
  auto* self = static_cast<Session*>(user);
  auto* s = static_cast<Stream*>(source->ptr);
  ByteBuffer& out = self->transport_->wire_output();
  if (self->output_full(out)) {
    self->blocked_ = true;
    return NGHTTP2_ERR_WOULDBLOCK;
  }
  const size_t pad = frame->data.padlen;
  // A large payload is written from the stream's buffer, not copied here
  // (the loop's buffer holds the frame header; see flush_wire()). Only
  // for a body all in memory: a file body's next read reuses the buffer
  // before the write.
  const bool by_reference = len >= kReferenceMin && s->pending_bytes_ == 0 &&
                            self->refs_.size() < Transport::kMaxWireRefs &&
                            self->transport_->wire_can_reference();
  char* p = out.prepare(9 + pad + (by_reference ? 0 : len));
  if (!p) return NGHTTP2_ERR_CALLBACK_FAILURE;
  memcpy(p, framehd, 9);
  size_t n = 9;
  if (pad > 0) p[n++] = static_cast<char>(pad - 1);
  if (by_reference) {
    try {
      self->refs_.push_back(
          {out.size() + n, s->out_.data() + s->out_off_, len});
    } catch (const std::bad_alloc&) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    self->ref_bytes_ += len;
  } else if (len > 0) {
    // An empty DATA frame (END_STREAM after a body that is all out) has no
    // bytes, and the stream's buffer may have none (memcpy from null).
    memcpy(p + n, s->out_.data() + s->out_off_, len);
    n += len;
  }
  if (pad > 1) {
    memset(p + n, 0, pad - 1);
    n += pad - 1;
  }
  out.commit(n);
  s->out_off_ += len;
  const uint64_t now = uv_now(self->loop_->uv());
  self->last_output_ms_ = now;
  s->stall_ms_ = now;
  if (s->out_off_ == s->out_.size()) {
    if (s->out_eof_) {
      self->loop_->recycle_body(s->out_);  // the next response fills it
    } else {
      s->out_.clear();  // a stream keeps its buffer for its next write
    }
    s->out_off_ = 0;
    // The rest is END_STREAM, in this frame, unless file parts wait.
    if (s->pending_bytes_ == 0) s->waiting_ = false;
  }
  self->stream_output(s);
  return 0;
}

bool Session::output_full(const ByteBuffer& out) const {
  return out.size() + ref_bytes_ + transport_->wire_unsent() >= kSendBuffer;
}

void Session::flush_wire() {
  if (refs_.empty()) {
    transport_->wire_send();
    return;
  }
  // The referenced payloads are still in their streams' buffers: nothing
  // ran between nghttp2_session_send() and here that could move them.
  transport_->wire_send_gathered(refs_.data(), refs_.size());
  drop_refs();
}

void Session::drop_refs() {
  refs_.clear();
  ref_bytes_ = 0;
}

bool Session::output_waiting(const Stream* s) {
  return s->queued_output() > 0 ||
         (s->out_eof_ && !s->end_sent_ && s->response_started_ &&
          !s->end_with_headers_);
}

uint64_t Session::output_deadline() const {
  uint64_t oldest = UINT64_MAX;
  for (const Stream* s : all_) {
    if (output_waiting(s) && s->stall_ms_ < oldest) oldest = s->stall_ms_;
  }
  if (oldest == UINT64_MAX) return 0;
  return oldest + loop_->timeouts().duration(TimeoutKind::Write);
}

bool Session::on_write_timeout() {
  if (closed_) return true;
  const uint64_t now = uv_now(loop_->uv());
  const uint64_t limit = loop_->timeouts().duration(TimeoutKind::Write);
  if (now - last_output_ms_ >= limit) return false;
  std::vector<Stream*> live = all_;
  for (Stream* s : live) {
    if (s->phase_ == Stream::Phase::Closed || !output_waiting(s) ||
        now - s->stall_ms_ < limit) {
      continue;
    }
    LOG_INFO(
        "HTTP/2 stream %d of %s: its window stayed closed for "
        "--write-timeout; RST_STREAM CANCEL",
        s->id_, transport_->describe_peer().c_str());
    s->release_app(POUNCE_CLOSE_TIMEOUT);
    // What it holds will never go: not output that waits any more.
    s->out_.clear();
    s->out_off_ = 0;
    s->drop_pending();
    s->out_eof_ = false;
    s->waiting_ = false;
    reset_stream(s, NGHTTP2_CANCEL);
    if (closed_) break;
  }
  return true;
}

void Session::stream_output(Stream* s) {
  if (!s->waiting_ && s->queued_output() > 0) {
    // Output starts to wait on the peer: its write timeout counts from
    // here (and from each DATA frame after).
    s->waiting_ = true;
    s->stall_ms_ = uv_now(loop_->uv());
  }
  if (!s->notify_) {
    s->notify_ = true;
    notify_.push_back(s);
  }
  send();
}

void Session::send() {
  if (closed_) return;
  if (in_ng_ > 0 || batching_) {
    send_pending_ = true;
    return;
  }
  ++in_ng_;  // no send from inside the notifications below either
  for (;;) {
    send_pending_ = false;
    blocked_ = false;
    int rv = nghttp2_session_send(ng_);
    if (rv != 0) {
      --in_ng_;
      fail("output", rv);
      return;
    }
    flush_wire();
    if (closed_) break;
    if (!notify_.empty()) {
      --in_ng_;
      notify_streams();
      ++in_ng_;
      if (closed_) break;
    }
    if (send_pending_) continue;
    if (blocked_ && transport_->wire_unsent() == 0) continue;  // it all went
    break;
  }
  --in_ng_;
  if (closed_) return;
  maybe_finish();
  // Outside a read (a timer, the blocking pool, a plugin's thread), the
  // connection learns here what changed: a stream that ended may leave it
  // idle (its timeout), a move may need reading stopped.
  if (!closed_ && !finishing_) transport_->wire_refresh();
}

void Session::notify_streams() {
  // The app side may write (and queue more notifications) from here: take
  // the list first. Streams closed meanwhile are still in memory (reap).
  std::vector<Stream*> batch;
  batch.swap(notify_);
  for (Stream* s : batch) {
    s->notify_ = false;
    if (closed_) continue;
    if (s->async_) s->async_->on_output(s->queued_output());
    if (s->ws_) s->ws_->on_output(s->queued_output());
  }
  if (notify_.empty()) {
    batch.clear();
    notify_.swap(batch);  // keeps the capacity
  }
}

void Session::maybe_finish() {
  if (finishing_ || closed_) return;
  if (nghttp2_session_want_read(ng_) || nghttp2_session_want_write(ng_)) {
    return;
  }
  finishing_ = true;
  transport_->wire_finish();
}

void Session::reset_stream(Stream* s, uint32_t error_code) {
  if (s->phase_ == Stream::Phase::Closed) return;
  s->phase_ = Stream::Phase::Answered;
  nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, s->id_, error_code);
  send();
}

// ---------------------------------------------------------------------------
// The connection's events

void Session::on_header_timeout(Stream* s) {
  if (closed_) return;
  LOG_INFO(
      "HTTP/2 from %s: header block of stream %d unfinished after "
      "--header-timeout; closing",
      transport_->describe_peer().c_str(), s->id_);
  nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
  send();
}

void Session::on_idle_timeout() {
  if (closed_) return;
  nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
  send();
}

void Session::begin_drain() {
  if (closed_ || draining_) return;
  draining_ = true;
  // GOAWAY with the last stream id processed (RFC 9113 §6.8): the client
  // may retry later ones elsewhere; those in flight finish here.
  nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(ng_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  std::vector<Stream*> live = all_;
  for (Stream* s : live) {
    if (s->ws_) s->ws_->go_away();  // close 1001, then the peer's answer
  }
  send();
}

void Session::force_close() {
  if (closed_) return;
  std::vector<Stream*> live = all_;
  for (Stream* s : live) {
    // A final DATA frame rather than a cut, where the stream can end.
    if (s->async_) s->async_->end_by_host(POUNCE_CLOSE_SHUTDOWN);
  }
  for (Stream* s : live) {
    if (s->phase_ != Stream::Phase::Closed) {
      s->release_app(POUNCE_CLOSE_SHUTDOWN);
    }
  }
  nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
  send();
  if (closed_) return;
  finishing_ = true;
  transport_->wire_finish();
}

void Session::end_streams_of(const Generation* g) {
  if (closed_) return;
  std::vector<Stream*> live = all_;
  for (Stream* s : live) {
    if (s->async_ && s->async_->generation() == g) {
      s->async_->end_by_host(POUNCE_CLOSE_SHUTDOWN);
    }
    if (s->ws_ && s->ws_->generation() == g) s->ws_->go_away();
  }
  send();
}

void Session::on_transport_closed() {
  if (closed_) return;
  closed_ = true;
  for (Stream* s : all_) s->release_app(POUNCE_CLOSE_PEER);
  pending_.clear();
}

// ---------------------------------------------------------------------------
// The hand-off

void Session::detach(EventLoop* origin, EventLoop* target) {
  detached_ = true;
  for (Stream* s : all_) {
    loop_->timeouts().disarm(s);
    if (s->job_) {
      // No stream waits for another's plugin: the connection moves now,
      // and this answer follows it.
      auto relay = std::make_shared<JobRelay>();
      relay->stream = s;
      s->relay_ = relay;
      s->job_->owner = new RelayOwner(std::move(relay), origin, target);
      s->job_ = nullptr;
    }
  }
}

void Session::attach(EventLoop* loop, Transport* t) {
  loop_ = loop;
  transport_ = t;
  moving_ = false;
  detached_ = false;
  for (Stream* s : all_) s->rebind_loop(loop);
  for (Stream* s = dead_; s; s = s->next_free_) s->rebind_loop(loop);
  std::vector<Stream*> waiting;
  waiting.swap(pending_);
  for (Stream* s : all_) {
    if (s->phase_ == Stream::Phase::Body) {
      loop_->timeouts().arm(s, TimeoutKind::Body);
    } else if (s->phase_ == Stream::Phase::Blocking) {
      loop_->timeouts().arm(s, TimeoutKind::ResponseStart);
    }
  }
  for (Stream* s : waiting) {
    if (closed_) break;
    if (s->phase_ != Stream::Phase::Pending) continue;
    route_and_start(s);
  }
  // Answers relayed before the connection itself arrived here.
  std::vector<Stream*> parked;
  for (Stream* s : all_) {
    if (s->parked_job_) parked.push_back(s);
  }
  for (Stream* s : parked) {
    BlockingJob* job = s->parked_job_;
    EventLoop* origin = s->parked_origin_;
    s->parked_job_ = nullptr;
    s->parked_origin_ = nullptr;
    if (closed_) {
      return_relayed_job(origin, job);
    } else {
      s->finish_relayed(job, origin);
    }
  }
  send();
}

}  // namespace pounce::h2
