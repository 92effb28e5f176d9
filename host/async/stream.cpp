#include "async/stream.h"

#include <cstring>

#include "async/timers.h"
#include "exchange/exchange.h"
#include "exchange/loop.h"
#include "exchange/open_file.h"
#include "log/logger.h"
#include "pipeline/access_log.h"
#include "pipeline/content_type_rules.h"
#include "pipeline/response_compression.h"
#include "pipeline/server_timing.h"
#include "plugin/generation.h"
#include "server/crash_report.h"

namespace pounce {

AsyncStream::AsyncStream(exchange::Exchange* ex, const Mount* mount,
                         GenerationPin pin, const http::RequestHead& head)
    : pin_(std::move(pin)),
      ex_(ex),
      loop_(ex->loop()),
      mount_(mount),
      head_request_(head.method == "HEAD"),
      coding_(pipeline::Coding::Identity),
      request_start_ns_(ex->request_start_ns() ? ex->request_start_ns()
                                               : uv_hrtime()) {
  const Config& cfg = loop_->config();
  if (cfg.compression) {
    coding_ = pipeline::negotiate_encoding(head.headers, head.header_count);
  }
  if (cfg.access_log) {
    char buf[600];
    request_line_ =
        pipeline::format_request_line(&head, ex->http_major(), buf, sizeof buf);
  }
  handle_ = loop_->handles().allocate(this, HandleKind::Stream, generation());
}

AsyncStream::~AsyncStream() {
  if (compressor_) loop_->compressors().release(compressor_);
}

void AsyncStream::begin(const http::RequestHead& head, const Route& r) {
  pounce_request_view_t view;
  fill_view(*ex_, head, r, {}, &view);
  const pounce_plugin_t& d = mount_->module->desc();
  int rc;
  try {
    crash::PluginCallScope scope(mount_, "on_request", head.method, r.path);
    rc = d.on_request(mount_->instance, handle_, &view);
  } catch (...) {
    LOG_ERROR("plugin %s: exception escaped on_request",
              mount_->module->name().c_str());
    rc = -1;
  }
  // Whatever on_request did to the stream happened inside the plugin's own
  // calls, so the stream is still in memory here; detached (ex_ null) if
  // the exchange let go of it.
  if (rc == 0 || !ex_) return;
  if (!started()) {
    if (rc != -1) {
      LOG_ERROR("plugin %s: on_request returned %d; answering 500",
                mount_->module->name().c_str(), rc);
    }
    ex_->fail(http::ErrorCode::PluginError);  // may free the stream
    return;
  }
  // After stream_start the status is on its way: the error can only end
  // the response early, as stream_abort does (ABI 1.1; 1.0 ignored it).
  LOG_ERROR(
      "plugin %s: on_request returned %d after stream_start; aborting the "
      "stream",
      mount_->module->name().c_str(), rc);
  abort();
}

void AsyncStream::deliver_body(char* data, size_t len, bool done) {
  const pounce_plugin_t& d = mount_->module->desc();
  if (!d.on_body) return;
  try {
    crash::PluginCallScope scope(mount_, "on_body");
    d.on_body(mount_->instance, handle_, user_, data, len, done ? 1 : 0);
  } catch (...) {
    LOG_ERROR("plugin %s: exception escaped on_body",
              mount_->module->name().c_str());
    abort();
  }
}

int AsyncStream::start(int status, const pounce_header_t* headers, size_t count,
                       int64_t content_length) {
  if (!ex_) return POUNCE_ERR_CLOSED;
  if (state_ != State::Waiting) return POUNCE_ERR_STATE;
  PluginCallDepth::Scope scope(calls_);
  if (status < 200 || status > 599 || (!headers && count)) {
    LOG_ERROR("plugin %s: stream_start with status %d; answering 500",
              mount_->module->name().c_str(), status);
    ex_->fail(http::ErrorCode::PluginError);
    return POUNCE_ERR_INVALID;
  }
  const Config& cfg = loop_->config();
  pounce_response& res = loop_->scratch_response();
  res.reset(mount_->module->name().c_str(), mount_->metrics_index);
  for (size_t i = 0; i < count; ++i) {
    add_response_header(&res, headers[i].name, headers[i].value);
  }
  if (res.error != http::ErrorCode::None) {
    ex_->fail(res.error);
    return POUNCE_ERR_INVALID;
  }
  status_ = status;
  declared_length_ = content_length;

  // Compression: considered for a body that may be compressible. Past the
  // pool's cap the response goes out uncompressed, never refused. A HEAD
  // gets the head its GET would get (RFC 9110 §9.3.2), with no context: it
  // has no body. A 304 gets its 200's Vary and weak ETag (§15.4.5).
  bool considered = false;
  bool weak_etag = false;
  pipeline::Coding encoding = pipeline::Coding::Identity;
  if (cfg.compression) {
    pipeline::ResponseFacts facts;
    facts.status = status;
    facts.has_content_encoding = res.has_content_encoding;
    facts.content_type = res.content_type();
    if (content_length >= 0) {
      facts.content_length = static_cast<uint64_t>(content_length);
    }
    pipeline::CompressDecision d =
        pipeline::decide_compression(facts, cfg.compression_min_size);
    considered = pipeline::varies_on_accept_encoding(d);
    if (d == pipeline::CompressDecision::Compress &&
        coding_ != pipeline::Coding::Identity) {
      if (!head_request_) compressor_ = loop_->compressors().acquire(coding_);
      if (head_request_ || compressor_) encoding = coding_;
    }
    weak_etag = encoding != pipeline::Coding::Identity ||
                (d == pipeline::CompressDecision::NotModified &&
                 coding_ != pipeline::Coding::Identity);
  }
  const bool encoded = encoding != pipeline::Coding::Identity;

  exchange::ResponseStart h;
  h.status = status;
  if (weak_etag) pipeline::weaken_etag(&res);
  h.headers = res.headers.view();
  h.vary_accept_encoding = considered;
  if (encoded) h.content_encoding = pipeline::coding_name(encoding);
  // A compressed body's length is known only once it is all out.
  h.content_length = content_length >= 0 && !encoded ? content_length : -1;
  bodiless_ = status == 204 || status == 304;
  fixed_length_ = !bodiless_ && h.content_length >= 0;
  char timing[96];
  if (cfg.server_timing) {
    // A streamed response's head goes out before its body exists: parse and
    // app (the time to the response start) only (ARCHITECTURE.md §5).
    h.server_timing = pipeline::format_server_timing(
        timing, sizeof timing, ex_->parse_ns(),
        uv_hrtime() - request_start_ns_ - ex_->parse_ns(), -1);
  }
  ex_->start_response(h);
  state_ = State::Started;
  // A HEAD response is complete with its head: end it now, so that the
  // exchange moves on even if the plugin streams forever (an SSE feed).
  // Its writes and end() are accepted and dropped until on_close(DONE).
  if (head_request_) state_ = State::Ended;
  ex_->flush();
  return POUNCE_OK;
}

int AsyncStream::write(const void* data, size_t len) {
  if (!ex_) return POUNCE_ERR_CLOSED;
  PluginCallDepth::Scope scope(calls_);
  if (state_ == State::Waiting) return POUNCE_ERR_STATE;
  if (state_ == State::Ended && head_request_) return POUNCE_OK;  // see start()
  if (state_ != State::Started) return POUNCE_ERR_STATE;
  if (!data && len) return POUNCE_ERR_INVALID;
  if (declared_length_ >= 0 &&
      body_written_ + len > static_cast<uint64_t>(declared_length_)) {
    LOG_ERROR("plugin %s: wrote more than the declared length %lld",
              mount_->module->name().c_str(),
              static_cast<long long>(declared_length_));
    return POUNCE_ERR_INVALID;
  }
  body_written_ += len;
  if (head_request_ || bodiless_ || len == 0) return POUNCE_OK;
  const char* bytes = static_cast<const char*>(data);
  if (compressor_) {
    ByteBuffer& scratch = loop_->compress_scratch();
    scratch.clear();
    if (!compressor_->compress_chunk(std::string_view(bytes, len), scratch)) {
      LOG_ERROR("compression failed; aborting the stream");
      abort();
      return POUNCE_ERR_CLOSED;
    }
    const size_t k = coding_ == pipeline::Coding::Zstd ? 1 : 0;
    loop_->counters().compressed_in[k].add(len);
    loop_->counters().compressed_out[k].add(scratch.size());
    ex_->write_body(scratch.view());
  } else {
    ex_->write_body(std::string_view(bytes, len));
  }
  ex_->flush();
  return after_write();
}

int AsyncStream::write_file(exchange::OpenFile* file, uint64_t offset,
                            uint64_t length) {
  if (!ex_) return POUNCE_ERR_CLOSED;
  PluginCallDepth::Scope scope(calls_);
  if (state_ == State::Waiting) return POUNCE_ERR_STATE;
  if (state_ == State::Ended && head_request_) return POUNCE_OK;  // see start()
  if (state_ != State::Started) return POUNCE_ERR_STATE;
  if (declared_length_ >= 0 &&
      (length > static_cast<uint64_t>(declared_length_) ||
       body_written_ + length > static_cast<uint64_t>(declared_length_))) {
    LOG_ERROR("plugin %s: wrote more than the declared length %lld",
              mount_->module->name().c_str(),
              static_cast<long long>(declared_length_));
    return POUNCE_ERR_INVALID;
  }
  if (compressor_) {
    // Compressing would read the range through memory, unbounded: the
    // plugin reads it itself (stream_write) if it wants that.
    LOG_ERROR(
        "plugin %s: stream_write_file on a compressed stream is refused "
        "(POUNCE_ERR_UNSUPPORTED)",
        mount_->module->name().c_str());
    return POUNCE_ERR_UNSUPPORTED;
  }
  body_written_ += length;
  if (head_request_ || bodiless_ || length == 0) return POUNCE_OK;
  ex_->write_file(file, offset, length);
  if (!ex_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  ex_->flush();
  return after_write();
}

int AsyncStream::after_write() {
  if (!ex_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  const Config& cfg = loop_->config();
  size_t q = ex_->queued_output();
  loop_->handles().publish_queued(handle_, static_cast<int64_t>(q));
  if (q - ex_->queued_file_output() > cfg.stream_max_buffer) {
    LOG_WARN(
        "plugin %s: stream over --stream-max-buffer (%zu bytes queued); "
        "closing it",
        mount_->module->name().c_str(), q);
    ex_->abort(POUNCE_CLOSE_OVERFLOW);
    return POUNCE_ERR_CLOSED;
  }
  if (q > cfg.stream_high_water) {
    want_writable_ = true;
    return POUNCE_HIGH_WATER;
  }
  return POUNCE_OK;
}

int AsyncStream::end(const pounce_header_t* trailers, size_t count) {
  if (!ex_) return POUNCE_ERR_CLOSED;
  PluginCallDepth::Scope scope(calls_);
  if (state_ == State::Waiting) {
    // Ending before starting: an empty 200... a plugin that means "no
    // content" should say 204; treat this as a response with no body.
    int rc = start(200, nullptr, 0, 0);
    if (rc != POUNCE_OK) return rc;
    if (!ex_) return POUNCE_ERR_CLOSED;
  }
  if (state_ == State::Ended && head_request_) return POUNCE_OK;  // start()
  if (state_ != State::Started) return POUNCE_ERR_STATE;
  if (declared_length_ >= 0 && !compressor_ &&
      body_written_ != static_cast<uint64_t>(declared_length_)) {
    LOG_ERROR("plugin %s: ended after %llu of %lld declared bytes; closing",
              mount_->module->name().c_str(),
              static_cast<unsigned long long>(body_written_),
              static_cast<long long>(declared_length_));
    ex_->abort(POUNCE_CLOSE_ERROR);
    return POUNCE_ERR_INVALID;
  }
  if (compressor_) {
    ByteBuffer& scratch = loop_->compress_scratch();
    scratch.clear();
    compressor_->finish(scratch);
    loop_->counters()
        .compressed_out[coding_ == pipeline::Coding::Zstd ? 1 : 0]
        .add(scratch.size());
    if (!scratch.empty()) ex_->write_body(scratch.view());
  }
  std::string_view trailer_lines;
  if (count && trailers && ex_->trailers_allowed()) {
    pounce_response& res = loop_->scratch_response();
    res.reset(mount_->module->name().c_str(), mount_->metrics_index);
    for (size_t i = 0; i < count; ++i) {
      add_response_header(&res, trailers[i].name, trailers[i].value);
    }
    // An invalid trailer is dropped (the head is long gone), with the log
    // line add_response_header wrote.
    if (res.error == http::ErrorCode::None) trailer_lines = res.headers.view();
  }
  ex_->end_response(trailer_lines);
  state_ = State::Ended;
  ex_->flush();  // on_output() completes the exchange once all is out
  return POUNCE_OK;
}

int AsyncStream::abort() {
  if (!ex_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  PluginCallDepth::Scope scope(calls_);
  if (state_ == State::Waiting) {
    ex_->fail(http::ErrorCode::PluginError);
    return POUNCE_OK;
  }
  ex_->abort(POUNCE_CLOSE_ERROR);
  return POUNCE_OK;
}

void AsyncStream::on_output(size_t q) {
  loop_->handles().publish_queued(handle_, static_cast<int64_t>(q));
  if (state_ == State::Ended && q == 0) {
    if (!in_plugin_call()) {
      ex_->complete();
      return;
    }
    Loop* loop = loop_;
    uint64_t h = handle_;
    loop->post([loop, h] {
      auto* s = static_cast<AsyncStream*>(
          loop->handles().lookup(h, HandleKind::Stream));
      if (s && s->exchange() && s->state() == State::Ended) {
        s->exchange()->complete();
      }
    });
    return;
  }
  if (want_writable_ && state_ == State::Started &&
      q < loop_->config().stream_high_water / 2) {
    if (in_plugin_call()) {
      // Drained by the plugin's own write: on_writable must not run inside
      // stream_write. The next turn looks again.
      defer_writable();
      return;
    }
    want_writable_ = false;
    const pounce_plugin_t& d = mount_->module->desc();
    if (d.on_writable) {
      try {
        crash::PluginCallScope scope(mount_, "on_writable");
        d.on_writable(mount_->instance, handle_, user_);
      } catch (...) {
        LOG_ERROR("plugin %s: exception escaped on_writable",
                  mount_->module->name().c_str());
      }
    }
  }
}

void AsyncStream::defer_writable() {
  if (writable_deferred_) return;  // one look-again is enough
  Loop* loop = loop_;
  uint64_t h = handle_;
  writable_deferred_ = loop->post([loop, h] {
    auto* s = static_cast<AsyncStream*>(
        loop->handles().lookup(h, HandleKind::Stream));
    if (!s) return;
    s->writable_deferred_ = false;
    if (s->exchange()) s->on_output(s->exchange()->queued_output());
  });
}

void AsyncStream::want_writable() {
  if (!ex_ || state_ != State::Started) return;
  want_writable_ = true;
  on_output(ex_->queued_output());
}

void AsyncStream::end_by_host(pounce_close_reason_t reason) {
  if (!ex_) return;
  switch (state_) {
    case State::Waiting:
      ex_->fail(reason == POUNCE_CLOSE_TIMEOUT
                    ? http::ErrorCode::ResponseTimeout
                    : http::ErrorCode::PluginError);
      break;
    case State::Started:
      if (fixed_length_ &&
          body_written_ != static_cast<uint64_t>(declared_length_)) {
        ex_->abort(reason);  // cannot complete a declared length
        return;
      }
      end(nullptr, 0);
      break;
    default:
      break;
  }
}

void AsyncStream::release(AsyncStream* s, pounce_close_reason_t reason) {
  Loop* loop = s->loop_;
  if (s->ex_) {
    // 499: the client left before a response started (nginx's convention).
    const std::string_view line = s->request_line();
    pipeline::record_response(*s->ex_, line, line.substr(0, line.find(' ')),
                              s->mount()->metrics_index,
                              s->status() ? s->status() : 499, s->body_bytes());
  }
  s->ex_ = nullptr;
  // on_close, then the stream's memory and, with it, its pin.
  auto finalize = [s, reason] {
    s->close(reason);
    delete s;
  };
  if (s->in_plugin_call()) {
    // Never call on_close from inside the plugin's own call.
    if (loop->post(finalize)) return;
  }
  finalize();
}

void AsyncStream::close(pounce_close_reason_t reason) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  Loop* loop = loop_;
  // The handle dies before on_close runs, not after: whatever the hook (or
  // another thread meanwhile) asks of it, a timer, a post, a write, is
  // refused (0 or POUNCE_ERR_CLOSED) instead of being accepted by an owner
  // that is about to vanish and then running after on_close.
  loop->handles().release(handle_);
  timers_.stop_all(loop);
  const pounce_plugin_t& d = mount_->module->desc();
  if (d.on_close) {
    try {
      crash::PluginCallScope scope(mount_, "on_close");
      d.on_close(mount_->instance, handle_, user_, reason);
    } catch (...) {
      LOG_ERROR("plugin %s: exception escaped on_close",
                mount_->module->name().c_str());
    }
  }
}

}  // namespace pounce
