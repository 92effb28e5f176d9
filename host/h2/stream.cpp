#include "h2/stream.h"
#include "metrics/host_metrics.h"

#include <uv.h>

#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>

#include "async/stream.h"
#include "async/ws_session.h"
#include "h2/session.h"
#include "http/ascii.h"
#include "http/status_text.h"
#include "log/logger.h"
#include "net/event_loop.h"
#include "pipeline/access_log.h"
#include "pipeline/response.h"
#include "ws/handshake.h"

namespace pounce::h2 {

namespace {

// Buffers a recycled stream keeps: most requests and responses fit, and
// one large upload or download does not pin its memory to the free list.
constexpr size_t kRetainedBytes = 16 * 1024;

void trim(ByteBuffer& b) {
  if (b.capacity() > kRetainedBytes) {
    b.release();
  } else {
    b.clear();
  }
}

// No body and no content-length for 204 and 304 (RFC 9110 §8.6).
bool bodiless(int status) {
  return status == 204 || status == 304;
}

// Adds validated "Name: value\r\n" lines (the response's headers, its
// trailers, an early hint) to `nv`, each name lower-cased into `b` (HTTP/2
// field names are lower case, RFC 9113 §8.2.1); the values stay where they
// are. `b` has room reserved for the lines: `nv` points into it.
inline void add_header_lines(std::string_view lines, ByteBuffer& b,
                             std::vector<nghttp2_nv>& nv) {
  while (!lines.empty()) {
    const size_t colon = lines.find(':');
    const size_t eol = lines.find("\r\n");
    if (colon == std::string_view::npos || eol == std::string_view::npos ||
        colon > eol) {
      break;
    }
    const size_t name_len = colon;
    char* lower = b.prepare(name_len);
    for (size_t i = 0; i < name_len; ++i) {
      lower[i] = http::ascii_lower(lines[i]);
    }
    b.commit(name_len);
    nghttp2_nv v;
    v.name = reinterpret_cast<uint8_t*>(lower);
    v.namelen = name_len;
    v.value =
        reinterpret_cast<uint8_t*>(const_cast<char*>(lines.data() + colon + 2));
    v.valuelen = eol - colon - 2;
    v.flags = NGHTTP2_NV_FLAG_NONE;
    nv.push_back(v);
    lines.remove_prefix(eol + 2);
  }
}

}  // namespace

Stream::Stream(Session* session, Loop* loop)
    : Exchange(loop), session_(session) {
  http_major_ = 2;
}

Stream::~Stream() = default;

void Stream::start(int32_t id) {
  id_ = id;
  phase_ = Phase::Headers;
}

Stream* Stream::renew(Stream* old, Session* session, Loop* loop) {
  // Rebuilt rather than reset field by field: a list of resets forgot one
  // (the admission flag, so that a reused stream skipped the rate limit and
  // the forwarding headers). Only the buffers' memory carries over, empty.
  assert(!old->queued() && old->phase_ == Phase::Closed);
  ByteBuffer fields = std::move(old->fields_);
  std::vector<Field> spans = std::move(old->spans_);
  std::vector<pounce_header_t> headers = std::move(old->headers_);
  ByteBuffer body = std::move(old->body_);
  ByteBuffer trailer_bytes = std::move(old->trailer_bytes_);
  std::vector<Field> trailer_spans = std::move(old->trailer_spans_);
  std::vector<pounce_header_t> trailers = std::move(old->trailers_);
  ByteBuffer out = std::move(old->out_);
  old->~Stream();
  Stream* s = new (old) Stream(session, loop);
  trim(fields);
  spans.clear();
  headers.clear();
  trim(body);
  trim(trailer_bytes);
  trailer_spans.clear();
  trailers.clear();
  trim(out);
  s->fields_ = std::move(fields);
  s->spans_ = std::move(spans);
  s->headers_ = std::move(headers);
  s->body_ = std::move(body);
  s->trailer_bytes_ = std::move(trailer_bytes);
  s->trailer_spans_ = std::move(trailer_spans);
  s->trailers_ = std::move(trailers);
  s->out_ = std::move(out);
  return s;
}

// ---------------------------------------------------------------------------
// The request

http::ErrorCode Stream::build_head(bool* malformed) {
  *malformed = false;
  if (head_error_ != http::ErrorCode::None) return head_error_;
  std::string_view method = span(method_);
  std::string_view target = span(path_);
  const bool connect = method == "CONNECT";
  if (!connect || has_protocol_) {
    // RFC 9113 §8.3.1: origin-form, or "*" (nghttp2 allowed it for OPTIONS
    // only). Visible ASCII only, as the HTTP/1 parser requires: the target
    // is logged as it is.
    if (target.empty() || (target[0] != '/' && target != "*")) {
      *malformed = true;
      return http::ErrorCode::BadTarget;
    }
    for (char c : target) {
      if (c <= 0x20 || c >= 0x7f) {
        *malformed = true;
        return http::ErrorCode::BadTarget;
      }
    }
  }
  // §8.3.1: a Host that names another origin than :authority is malformed.
  if (has_authority_ && has_host_ &&
      !http::iequals(span(authority_), span(host_))) {
    *malformed = true;
    return http::ErrorCode::BadTarget;
  }
  // Cookies may arrive split into crumbs (§8.2.3): one field again, as an
  // HTTP/1 application expects.
  size_t first_cookie = SIZE_MAX;
  size_t cookies = 0;
  for (size_t i = 0; i < spans_.size(); ++i) {
    if (span(spans_[i].name) == "cookie") {
      if (first_cookie == SIZE_MAX) first_cookie = i;
      ++cookies;
    }
  }
  if (cookies > 1) {
    const size_t at = fields_.size();
    bool ok = true;
    size_t kept = 0;
    for (size_t i = 0; i < spans_.size(); ++i) {
      if (span(spans_[i].name) != "cookie") {
        spans_[kept++] = spans_[i];
        continue;
      }
      if (fields_.size() > at) ok = ok && fields_.append("; ");
      // Appending may move the buffer: copy through a stable offset.
      const Span v = spans_[i].value;
      ok = ok && fields_.reserve(fields_.size() + v.len);
      if (ok) {
        fields_.append(fields_.data() + v.off, v.len);
      }
      if (i == first_cookie) spans_[kept++] = spans_[i];
    }
    spans_.resize(kept);
    if (!ok) return http::ErrorCode::OutOfMemory;
    for (Field& f : spans_) {
      if (span(f.name) == "cookie") {
        f.value = {static_cast<uint32_t>(at),
                   static_cast<uint32_t>(fields_.size() - at)};
      }
    }
  }
  headers_.resize(spans_.size());
  for (size_t i = 0; i < spans_.size(); ++i) {
    headers_[i].name = {fields_.data() + spans_[i].name.off,
                        spans_[i].name.len};
    headers_[i].value = {fields_.data() + spans_[i].value.off,
                         spans_[i].value.len};
  }
  http::RequestHead& h = head_;
  h.method = method;
  h.target = target;
  const size_t q = target.find('?');
  h.path = q == std::string_view::npos ? target : target.substr(0, q);
  h.query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  h.version_minor = 0;
  h.headers = headers_.data();
  h.header_count = headers_.size();
  h.body_kind = request_ended_         ? http::BodyKind::None
                : content_length_ >= 0 ? http::BodyKind::ContentLength
                                       : http::BodyKind::Chunked;
  h.content_length =
      content_length_ >= 0 ? static_cast<uint64_t>(content_length_) : 0;
  h.keep_alive = true;
  h.expect_continue = false;
  h.host = has_authority_ ? span(authority_)
           : has_host_    ? span(host_)
                          : std::string_view();
  h.head_size = 0;
  h.upgrade_websocket = connect && has_protocol_;
  head_request_ = method == "HEAD";
  head_ok_ = true;
  if (connect && !has_protocol_) {
    // A tunnel to another host: not something a plugin host offers.
    return http::ErrorCode::BadMethod;
  }
  if (connect && !http::iequals(span(protocol_), "websocket")) {
    return http::ErrorCode::BadTarget;
  }
  return http::ErrorCode::None;
}

// ---------------------------------------------------------------------------
// The exchange

const PeerAddress& Stream::peer() {
  return session_->transport()->peer();
}

bool Stream::local_address(PeerAddress* out) {
  return session_->transport()->local_address(out);
}

tls::InfoSource* Stream::tls_source() {
  return session_->transport()->tls_source();
}

const ProxyTlvs* Stream::proxy_tlvs() {
  return session_->transport()->proxy_tlvs();
}

bool Stream::submit_head(const exchange::ResponseStart& h, bool end_stream) {
  ByteBuffer& b = session_->nv_scratch();
  std::vector<nghttp2_nv>& nv = session_->nv_array();
  b.clear();
  nv.clear();
  // Everything the names and numbers need, reserved at once: the nv array
  // points into `b`, which must not move while it is built.
  if (!b.reserve(h.headers.size() + 64)) return false;
  // nghttp2 copies each name and value until the frame is out; a string
  // literal needs no copy (NO_COPY_*). A value unique to the response
  // (the request id) is never indexed: it would only push reusable
  // entries out of the client's HPACK table, at a cost to both sides.
  auto add = [&nv](std::string_view name, std::string_view value,
                   uint8_t flags = NGHTTP2_NV_FLAG_NONE) {
    nghttp2_nv v;
    v.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
    v.namelen = name.size();
    v.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
    v.valuelen = value.size();
    v.flags = flags;
    nv.push_back(v);
  };
  constexpr uint8_t kLiteralName = NGHTTP2_NV_FLAG_NO_COPY_NAME;
  constexpr uint8_t kLiterals =
      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  char* status = b.prepare(3);
  status[0] = static_cast<char>('0' + h.status / 100 % 10);
  status[1] = static_cast<char>('0' + h.status / 10 % 10);
  status[2] = static_cast<char>('0' + h.status % 10);
  b.commit(3);
  add(":status", std::string_view(status, 3), kLiteralName);
  // "Date: <29 characters>\r\n" from the loop's cache.
  std::string_view date = loop()->date().date_header();
  if (date.size() > 8) {
    add("date", date.substr(6, date.size() - 8), kLiteralName);
  }
  add("server", "pounce", kLiterals);
  add_header_lines(h.headers, b, nv);  // the plugin's, validated
  if (!h.content_encoding.empty()) {
    add("content-encoding", h.content_encoding, kLiteralName);
  }
  if (h.vary_accept_encoding) add("vary", "accept-encoding", kLiterals);
  if (!h.server_timing.empty()) {
    add("server-timing", h.server_timing, kLiteralName);
  }
  if (!request_id().empty()) {
    add("x-request-id", request_id(), kLiteralName | NGHTTP2_NV_FLAG_NO_INDEX);
  }
  if (h.content_length >= 0 && !bodiless(h.status)) {
    char* digits = b.prepare(20);
    size_t n = format_decimal(digits, static_cast<uint64_t>(h.content_length));
    b.commit(n);
    add("content-length", std::string_view(digits, n), kLiteralName);
  }
  nghttp2_data_provider provider;
  provider.source.ptr = this;
  provider.read_callback = read_body_trampoline;
  int rv = nghttp2_submit_response(session_->ng(), id_, nv.data(), nv.size(),
                                   end_stream ? nullptr : &provider);
  return rv == 0;
}

void Stream::send_early_hints(std::string_view lines) {
  // Interim responses go before the final one only (RFC 9113 §8.1), on a
  // stream that is still open, of a session on its loop.
  if (phase_ == Phase::Closed || response_started_ || session_->detached()) {
    return;
  }
  ByteBuffer& b = session_->nv_scratch();
  std::vector<nghttp2_nv>& nv = session_->nv_array();
  b.clear();
  nv.clear();
  // The nv array points into `b`, which must not move while it is built.
  if (!b.reserve(lines.size())) return;  // advisory: dropped
  auto add = [&nv](std::string_view name, std::string_view value,
                   uint8_t flags) {
    nghttp2_nv v;
    v.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
    v.namelen = name.size();
    v.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
    v.valuelen = value.size();
    v.flags = flags;
    nv.push_back(v);
  };
  add(":status", "103",
      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE);
  add_header_lines(lines, b, nv);  // validated by format_early_hints
  // nghttp2 copies the fields. A 1xx HEADERS frame leaves the stream
  // waiting for its final response, which nghttp2 then sends as a second
  // HEADERS frame (NGHTTP2_HCAT_HEADERS).
  if (nghttp2_submit_headers(session_->ng(), NGHTTP2_FLAG_NONE, id_, nullptr,
                             nv.data(), nv.size(), nullptr) < 0) {
    return;
  }
  // Now, while the handler still works: sync handlers run outside
  // nghttp2's callbacks (Session::run_ready), blocking ones' hints come
  // from the loop.
  session_->send_now();
}

ssize_t Stream::read_body(size_t length, uint32_t* flags) {
  if (pending_bytes_ > 0 && out_.size() - out_off_ < length &&
      !fill_from_pending(length)) {
    // RST_STREAM INTERNAL_ERROR: the body is cut, never padded.
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  const size_t avail = out_.size() - out_off_;
  if (avail == 0 && pending_bytes_ == 0 && !out_eof_) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  const size_t n = avail < length ? avail : length;
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (n == avail && pending_bytes_ == 0 && out_eof_) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailer_lines_.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      submit_trailers();
    }
  }
  return static_cast<ssize_t>(n);
}

ssize_t Stream::read_body_trampoline(nghttp2_session*, int32_t, uint8_t*,
                                     size_t length, uint32_t* flags,
                                     nghttp2_data_source* source, void*) {
  return static_cast<Stream*>(source->ptr)->read_body(length, flags);
}

void Stream::submit_trailers() {
  ByteBuffer& b = session_->nv_scratch();
  std::vector<nghttp2_nv>& nv = session_->nv_array();
  b.clear();
  nv.clear();
  std::string_view lines = trailer_lines_.view();
  if (!b.reserve(lines.size())) return;
  add_header_lines(lines, b, nv);
  nghttp2_submit_trailer(session_->ng(), id_, nv.data(), nv.size());
}

bool Stream::respond(const exchange::ResponseStart& h, std::string_view body) {
  if (phase_ == Phase::Closed) return true;  // the client reset it: dropped
  const bool end_stream = body.empty();
  out_.clear();
  out_off_ = 0;
  if (!end_stream && h.body_owner && h.body_owner->size() == body.size() &&
      h.body_owner->data() == body.data()) {
    // The body waits here until the windows let it out: take the caller's
    // buffer, and leave it ours (empty) to reuse, rather than copy.
    out_.swap(*h.body_owner);
    h.body_owner->clear();
  } else if (!end_stream && !out_.append(body)) {
    out_.forget_failure();
    return false;
  }
  out_eof_ = true;
  status_ = h.status;
  if (!submit_head(h, end_stream)) {
    out_.clear();
    return false;
  }
  response_started_ = true;
  phase_ = Phase::Answered;
  session_->stream_output(this);
  return true;
}

bool Stream::respond_parts(const exchange::ResponseStart& h,
                           const exchange::BodyPart* parts, size_t count) {
  if (phase_ == Phase::Closed) return true;  // the client reset it: dropped
  out_.clear();
  out_off_ = 0;
  drop_pending();
  uint64_t total = 0;
  try {
    for (size_t i = 0; i < count; ++i) {
      const exchange::BodyPart& p = parts[i];
      if (p.file) {
        if (p.length == 0) continue;
        PendingPart& q = pending_.emplace_back();
        p.file->ref();
        q.file = exchange::FileRef(p.file);
        q.offset = p.offset;
        q.length = p.length;
        pending_bytes_ += p.length;
        pending_file_bytes_ += p.length;
        total += p.length;
      } else if (p.bytes_len > 0) {
        const std::string_view b(p.bytes, p.bytes_len);
        if (!(pending_.empty() ? out_.append(b) : pending_bytes_append(b))) {
          out_.forget_failure();
          out_.clear();
          drop_pending();
          return false;
        }
        total += p.bytes_len;
      }
    }
  } catch (const std::bad_alloc&) {
    out_.clear();
    drop_pending();
    return false;
  }
  out_eof_ = true;
  status_ = h.status;
  if (!submit_head(h, total == 0)) {
    out_.clear();
    drop_pending();
    return false;
  }
  response_started_ = true;
  phase_ = Phase::Answered;
  session_->stream_output(this);
  return true;
}

void Stream::write_file(exchange::OpenFile* file, uint64_t offset,
                        uint64_t length) {
  if (end_with_headers_ || out_eof_ || phase_ == Phase::Closed || length == 0) {
    return;
  }
  try {
    PendingPart& q = pending_.emplace_back();
    file->ref();
    q.file = exchange::FileRef(file);
    q.offset = offset;
    q.length = length;
    pending_bytes_ += length;
    pending_file_bytes_ += length;
  } catch (const std::bad_alloc&) {
    LOG_ERROR("out of memory for an HTTP/2 stream of %s; resetting it",
              session_->transport()->describe_peer().c_str());
    abort(POUNCE_CLOSE_ERROR);
    return;
  }
  resume();
}

bool Stream::pending_bytes_append(std::string_view bytes) {
  if (pending_.empty() || pending_.back().file) pending_.emplace_back();
  if (!pending_.back().bytes.append(bytes)) {
    pending_.back().bytes.forget_failure();
    return false;
  }
  pending_bytes_ += bytes.size();
  return true;
}

void Stream::drop_pending() {
  pending_.clear();
  pending_bytes_ = 0;
  pending_file_bytes_ = 0;
}

bool Stream::fill_from_pending(size_t want) {
  // A piece of at least this much per read: few system calls per DATA
  // frame, and little memory per stream whose window is closed.
  constexpr size_t kPiece = 32 * 1024;
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > 0) {
    out_.consume(out_off_);
    out_off_ = 0;
  }
  while (!pending_.empty() && out_.size() < want) {
    PendingPart& q = pending_.front();
    if (!q.file) {
      if (!out_.append(q.bytes.view())) {
        out_.forget_failure();
        LOG_ERROR("out of memory for an HTTP/2 stream of %s; resetting it",
                  session_->transport()->describe_peer().c_str());
        return false;
      }
      pending_bytes_ -= q.bytes.size();
      pending_.pop_front();
      continue;
    }
    const size_t room =
        want - out_.size() > kPiece ? want - out_.size() : kPiece;
    const size_t n_want =
        static_cast<size_t>(q.length < room ? q.length : room);
    char* p = out_.prepare(n_want);
    if (!p) {
      out_.forget_failure();
      LOG_ERROR("out of memory for an HTTP/2 stream of %s; resetting it",
                session_->transport()->describe_peer().c_str());
      return false;
    }
    ssize_t n;
    do {
      n = ::pread(q.file->fd(), p, n_want, static_cast<off_t>(q.offset));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      const unsigned long long at = q.offset;
      const unsigned long long end = q.offset + q.length;
      if (n == 0) {
        LOG_WARN(
            "file response to %s, stream %d: the file (fd %d) ended at byte "
            "%llu of %llu; resetting the stream",
            session_->transport()->describe_peer().c_str(), id_, q.file->fd(),
            at, end);
      } else {
        LOG_WARN(
            "file response to %s, stream %d: reading the file (fd %d) at "
            "byte %llu of %llu failed: %s; resetting the stream",
            session_->transport()->describe_peer().c_str(), id_, q.file->fd(),
            at, end, strerror(errno));
      }
      drop_pending();
      return false;
    }
    out_.commit(static_cast<size_t>(n));
    q.offset += static_cast<uint64_t>(n);
    q.length -= static_cast<uint64_t>(n);
    pending_bytes_ -= static_cast<uint64_t>(n);
    pending_file_bytes_ -= static_cast<uint64_t>(n);
    if (q.length == 0) pending_.pop_front();
  }
  return true;
}

void Stream::respond_error(http::ErrorCode code,
                           const http::RequestHead* request) {
  if (phase_ == Phase::Closed) return;
  const int status = http::error_status(code);
  std::string_view name = http::error_name(code);
  std::string_view reason = http::status_reason(status);
  if (status >= 500 || code != http::ErrorCode::NoRoute) {
    const int tlen =
        request
            ? static_cast<int>(std::min<size_t>(request->target.size(), 200))
            : 0;
    LOG_WARN("%d %.*s from %s%s%.*s", status, static_cast<int>(name.size()),
             name.data(), session_->transport()->describe_peer().c_str(),
             request ? " for " : "", tlen,
             request ? request->target.data() : "");
  }
  session_->loop()->timeouts().disarm(this);
  char retry_after[40];
  snprintf(retry_after, sizeof retry_after, "Retry-After: %u\r\n",
           retry_after_s());
  char lines[256];
  int n = snprintf(lines, sizeof lines,
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "X-Pounce-Error: %.*s\r\n%s%s",
                   static_cast<int>(name.size()), name.data(),
                   code == http::ErrorCode::TooManyConnections ||
                           code == http::ErrorCode::BlockingQueueFull
                       ? "Retry-After: 1\r\n"
                   : code == http::ErrorCode::RateLimited ? retry_after
                                                          : "",
                   code == http::ErrorCode::WebSocketVersion
                       ? "Sec-WebSocket-Version: 13\r\n"
                       : "");
  char body[160];
  int body_len = snprintf(body, sizeof body, "%.*s (%.*s)\n",
                          static_cast<int>(reason.size()), reason.data(),
                          static_cast<int>(name.size()), name.data());
  exchange::ResponseStart h;
  h.status = status;
  h.headers = std::string_view(lines, static_cast<size_t>(n));
  h.content_length = body_len;
  const bool head_request = request && request->method == "HEAD";
  if (!respond(h, head_request ? std::string_view()
                               : std::string_view(body, body_len))) {
    // Not even the error fits: the stream ends without a response.
    session_->reset_stream(this, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (static_cast<size_t>(code) < metrics::LoopCounters::kErrorCodes) {
    loop()->counters().rejected[static_cast<size_t>(code)].add(1);
  }
  pipeline::record_response(*this, request, metrics::kNoMount, status,
                            static_cast<size_t>(body_len));
}

void Stream::start_response(const exchange::ResponseStart& h) {
  if (phase_ == Phase::Closed) return;
  status_ = h.status;
  end_with_headers_ = bodiless(h.status) || head_request_;
  response_started_ = true;
  // The response started: --request-timeout no longer applies.
  if (kind == TimeoutKind::ResponseStart)
    session_->loop()->timeouts().disarm(this);
  if (!submit_head(h, end_with_headers_)) {
    LOG_ERROR("out of memory for an HTTP/2 response head to %s",
              session_->transport()->describe_peer().c_str());
    session_->reset_stream(this, NGHTTP2_INTERNAL_ERROR);
  }
}

void Stream::write_body(std::string_view bytes) {
  if (end_with_headers_ || out_eof_ || phase_ == Phase::Closed ||
      bytes.empty()) {
    return;
  }
  if (!pending_.empty()) {
    // Behind a file part: in order, after it.
    if (!pending_bytes_append(bytes)) {
      LOG_ERROR("out of memory for an HTTP/2 stream of %s; resetting it",
                session_->transport()->describe_peer().c_str());
      abort(POUNCE_CLOSE_ERROR);
      return;
    }
    resume();
    return;
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > out_.size() / 2) {
    out_.consume(out_off_);
    out_off_ = 0;
  }
  if (!out_.append(bytes)) {
    out_.forget_failure();
    LOG_ERROR("out of memory for an HTTP/2 stream of %s; resetting it",
              session_->transport()->describe_peer().c_str());
    abort(POUNCE_CLOSE_ERROR);
    return;
  }
  resume();
}

void Stream::end_response(std::string_view trailers) {
  if (end_with_headers_ || out_eof_ || phase_ == Phase::Closed) return;
  out_eof_ = true;
  trailer_lines_.clear();
  if (!trailers.empty() && !trailer_lines_.append(trailers)) {
    trailer_lines_.release();  // sent without them
  }
  resume();
}

void Stream::resume() {
  if (!deferred_ || phase_ == Phase::Closed) return;
  deferred_ = false;
  nghttp2_session_resume_data(session_->ng(), id_);
}

void Stream::flush() {
  // A WebSocket writes its frames straight into the queue
  // (tunnel_output()): DATA frames may be due that nghttp2 has not been
  // told of.
  if (queued_output() > 0) resume();
  session_->stream_output(this);
}

void Stream::complete() {
  app_complete_ = true;
  if (async_) {
    AsyncStream* a = async_;
    async_ = nullptr;
    AsyncStream::release(a, POUNCE_CLOSE_DONE);
  }
  if (phase_ != Phase::Closed) phase_ = Phase::Answered;
}

void Stream::fail(http::ErrorCode code) {
  release_app(POUNCE_CLOSE_ERROR);
  if (phase_ == Phase::Closed) return;
  respond_error(code, head_ok_ ? &head_ : nullptr);
  session_->send();
}

void Stream::abort(pounce_close_reason_t reason) {
  release_app(reason);
  session_->reset_stream(this, reason == POUNCE_CLOSE_SHUTDOWN
                                   ? NGHTTP2_CANCEL
                                   : NGHTTP2_INTERNAL_ERROR);
}

void Stream::release_app(pounce_close_reason_t reason) {
  if (async_) {
    AsyncStream* a = async_;
    async_ = nullptr;
    AsyncStream::release(a, reason);
  }
  if (ws_) {
    WsSession* w = ws_;
    ws_ = nullptr;
    WsSession::release(w);
  }
  if (job_) {
    // Its answer is dropped when it comes back.
    job_->owner = nullptr;
    job_->abandoned.store(true, std::memory_order_relaxed);
    job_ = nullptr;
  }
  if (relay_) {
    relay_->stream = nullptr;  // the relayed answer finds nobody
    relay_.reset();
  }
  if (parked_job_) {
    return_relayed_job(parked_origin_, parked_job_);
    parked_job_ = nullptr;
    parked_origin_ = nullptr;
  }
  session_->loop()->timeouts().disarm(this);
}

// ---------------------------------------------------------------------------
// WebSockets over the stream (RFC 8441)

bool Stream::accept_websocket(const ws::Handshake& hs, int chosen_protocol) {
  ByteBuffer lines;
  if (!ws::append_accept_header_lines(lines, hs, chosen_protocol)) {
    return false;
  }
  exchange::ResponseStart h;
  h.status = 200;
  h.headers = lines.view();
  status_ = 200;
  response_started_ = true;
  if (!submit_head(h, false)) return false;
  return true;
}

ByteBuffer& Stream::tunnel_output() {
  // Frames are appended behind what is queued; what was sent goes first.
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > out_.size() / 2) {
    out_.consume(out_off_);
    out_off_ = 0;
  }
  return out_;
}

void Stream::refuse_websocket(int status) {
  exchange::ResponseStart h;
  h.status = status;
  h.content_length = 0;
  respond(h, {});
}

void Stream::close_after_output() {
  // The close handshake is done: END_STREAM once the last frame is out.
  end_response({});
  session_->send();
}

void Stream::await_close() {
  session_->loop()->timeouts().arm(this, TimeoutKind::WsClose);
}

void Stream::drop() {
  release_app(POUNCE_CLOSE_PEER);
  session_->reset_stream(this, NGHTTP2_CANCEL);
}

// ---------------------------------------------------------------------------
// Timeouts and the blocking pool

void Stream::on_timeout(TimeoutKind kind) {
  switch (kind) {
    case TimeoutKind::Header:
      session_->on_header_timeout(this);
      return;
    case TimeoutKind::Body:
      if (async_) {
        if (async_->started()) {
          abort(POUNCE_CLOSE_TIMEOUT);
        } else {
          fail(http::ErrorCode::BodyTimeout);
        }
        break;
      }
      route_ = Route{};
      respond_error(http::ErrorCode::BodyTimeout, head_ok_ ? &head_ : nullptr);
      break;
    case TimeoutKind::ResponseStart:
      if (relay_) {
        LOG_WARN(
            "a blocking handler sent no response within "
            "--request-timeout");
        release_app(POUNCE_CLOSE_TIMEOUT);
        respond_error(http::ErrorCode::ResponseTimeout, &head_);
        break;
      }
      if (job_) {
        // The handler cannot be stopped; its result is dropped when it
        // comes back.
        LOG_WARN("plugin %s: no response within --request-timeout",
                 job_->plugin_name);
        release_app(POUNCE_CLOSE_TIMEOUT);
        respond_error(http::ErrorCode::ResponseTimeout, &head_);
        break;
      }
      if (async_ && !async_->started()) {
        LOG_WARN("plugin %s: no response within --request-timeout",
                 async_->mount()->module->name().c_str());
        fail(http::ErrorCode::ResponseTimeout);
      }
      break;
    case TimeoutKind::WsClose:
      drop();  // the peer never answered our close frame
      break;
    default:
      break;
  }
  session_->send();
}

void Stream::finish_blocking(BlockingJob* job) {
  job_ = nullptr;
  job->owner = nullptr;
  EventLoop* loop = session_->loop();
  loop->timeouts().disarm(this);
  if (job->res.error != http::ErrorCode::None) {
    respond_error(job->res.error, &job->head);
  } else {
    phase_ = Phase::Answered;
    pipeline::send_response(*this, job->head, job->res);
  }
  loop->release_job(job);
  session_->send();
}

void Stream::finish_relayed(BlockingJob* job, EventLoop* origin) {
  if (session_->detached()) {
    parked_job_ = job;
    parked_origin_ = origin;
    return;
  }
  relay_.reset();
  session_->loop()->timeouts().disarm(this);
  if (job->res.error != http::ErrorCode::None) {
    respond_error(job->res.error, &job->head);
  } else {
    phase_ = Phase::Answered;
    pipeline::send_response(*this, job->head, job->res);
  }
  return_relayed_job(origin, job);
  session_->send();
}

}  // namespace pounce::h2
