#include "async/stream.h"

#include <cstring>

#include "async/timers.h"
#include "log/logger.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "pipeline/content_type_rules.h"
#include "pipeline/response_compression.h"
#include "pipeline/server_timing.h"
#include "plugin/generation.h"
#include "server/crash_report.h"

namespace pounce {

AsyncStream::AsyncStream(Connection* conn, const Mount* mount,
                         GenerationPin pin, const http::RequestHead& head,
                         uint64_t request_start_ns)
    : pin_(std::move(pin)),
      conn_(conn),
      loop_(conn->loop()),
      mount_(mount),
      head_request_(head.method == "HEAD"),
      http10_(head.version_minor == 0),
      keep_alive_(head.keep_alive),
      coding_(pipeline::Coding::Identity),
      request_start_ns_(request_start_ns) {
  const Config& cfg = conn->loop()->config();
  if (cfg.compression) {
    coding_ = pipeline::negotiate_encoding(head.headers, head.header_count);
  }
  if (cfg.access_log) {
    char buf[600];
    request_line_ = format_request_line(&head, buf, sizeof buf);
  }
}

AsyncStream::~AsyncStream() {
  if (compressor_) loop_->compressors().release(compressor_);
}

size_t AsyncStream::queued() const {
  return conn_->queued_output();
}

int AsyncStream::start(int status, const pounce_header_t* headers, size_t count,
                       int64_t content_length) {
  if (!conn_) return POUNCE_ERR_CLOSED;
  if (state_ != State::Waiting) return POUNCE_ERR_STATE;
  PluginCallDepth::Scope scope(calls_);
  if (status < 200 || status > 599 || (!headers && count)) {
    LOG_ERROR("plugin %s: stream_start with status %d; answering 500",
              mount_->module->name().c_str(), status);
    conn_->fail_stream(http::ErrorCode::PluginError);
    return POUNCE_ERR_INVALID;
  }
  EventLoop* loop = conn_->loop();
  const Config& cfg = loop->config();
  pounce_response& res = loop->scratch_response();
  res.reset(mount_->module->name().c_str());
  for (size_t i = 0; i < count; ++i) {
    add_response_header(&res, headers[i].name, headers[i].value);
  }
  if (res.error != http::ErrorCode::None) {
    conn_->fail_stream(res.error);
    return POUNCE_ERR_INVALID;
  }
  status_ = status;
  declared_length_ = content_length;
  keep_alive_ = keep_alive_ && !loop->draining();

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
      if (!head_request_) compressor_ = loop->compressors().acquire(coding_);
      if (head_request_ || compressor_) encoding = coding_;
    }
    weak_etag = encoding != pipeline::Coding::Identity ||
                (d == pipeline::CompressDecision::NotModified &&
                 coding_ != pipeline::Coding::Identity);
  }
  const bool encoded = encoding != pipeline::Coding::Identity;

  pipeline::ResponseHead h;
  h.status = status;
  h.date_header = loop->date().date_header();
  if (weak_etag) pipeline::weaken_etag(&res);
  h.plugin_headers = res.headers.view();
  h.vary_accept_encoding = considered;
  if (encoded) h.content_encoding = pipeline::coding_name(encoding);
  bool bodiless = status == 204 || status == 304;
  if (bodiless) {
    h.framing = pipeline::Framing::NoBody;
  } else if (content_length >= 0 && !encoded) {
    h.framing = pipeline::Framing::ContentLength;
    h.content_length = static_cast<uint64_t>(content_length);
  } else if (http10_) {
    // No chunked encoding in HTTP/1.0: the close ends the body.
    h.framing = pipeline::Framing::CloseDelimited;
    keep_alive_ = false;
  } else {
    h.framing = pipeline::Framing::Chunked;
  }
  framing_ = h.framing;
  if (!keep_alive_) {
    h.connection = pipeline::ConnectionHeader::Close;
  } else if (http10_) {
    h.connection = pipeline::ConnectionHeader::KeepAlive;
  }
  char timing[96];
  if (cfg.server_timing) {
    // A streamed response's head goes out before its body exists: parse and
    // app (the time to the response start) only (ARCHITECTURE.md §5).
    h.server_timing = pipeline::format_server_timing(
        timing, sizeof timing, conn_->parse_ns(),
        uv_hrtime() - request_start_ns_ - conn_->parse_ns(), -1);
  }
  pipeline::write_response_head(loop->out(), h);
  state_ = State::Started;
  conn_->on_stream_started();
  // A HEAD response is complete with its head: end it now, so that the
  // connection moves on even if the plugin streams forever (an SSE feed).
  // Its writes and end() are accepted and dropped until on_close(DONE).
  if (head_request_) state_ = State::Ended;
  conn_->send_output();
  return POUNCE_OK;
}

void AsyncStream::frame_chunk(const char* data, size_t len) {
  if (len == 0) return;
  ByteBuffer& out = conn_->loop()->out();
  if (framing_ == pipeline::Framing::Chunked) {
    char* p = out.prepare(len + 24);
    if (!p) return;  // out.failed(): the connection's flush closes it
    size_t n = pipeline::write_chunk_size(p, len);
    memcpy(p + n, data, len);
    p[n + len] = '\r';
    p[n + len + 1] = '\n';
    out.commit(n + len + 2);
  } else {
    out.append(data, len);
  }
}

int AsyncStream::write(const void* data, size_t len) {
  if (!conn_) return POUNCE_ERR_CLOSED;
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
  if (head_request_ || framing_ == pipeline::Framing::NoBody || len == 0) {
    return POUNCE_OK;
  }
  const char* bytes = static_cast<const char*>(data);
  if (compressor_) {
    ByteBuffer& scratch = conn_->loop()->compress_scratch();
    scratch.clear();
    if (!compressor_->compress_chunk(std::string_view(bytes, len), scratch)) {
      LOG_ERROR("compression failed; aborting the stream");
      abort();
      return POUNCE_ERR_CLOSED;
    }
    frame_chunk(scratch.data(), scratch.size());
  } else {
    frame_chunk(bytes, len);
  }
  conn_->send_output();
  if (!conn_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  const Config& cfg = conn_->loop()->config();
  size_t q = queued();
  loop_->handles().publish_queued(handle_, static_cast<int64_t>(q));
  if (q > cfg.stream_max_buffer) {
    LOG_WARN(
        "plugin %s: stream over --stream-max-buffer (%zu bytes queued); "
        "closing it",
        mount_->module->name().c_str(), q);
    conn_->abort_stream(POUNCE_CLOSE_OVERFLOW);
    return POUNCE_ERR_CLOSED;
  }
  if (q > cfg.stream_high_water) {
    want_writable_ = true;
    return POUNCE_HIGH_WATER;
  }
  return POUNCE_OK;
}

int AsyncStream::end(const pounce_header_t* trailers, size_t count) {
  if (!conn_) return POUNCE_ERR_CLOSED;
  PluginCallDepth::Scope scope(calls_);
  if (state_ == State::Waiting) {
    // Ending before starting: an empty 200... a plugin that means "no
    // content" should say 204; treat this as a response with no body.
    int rc = start(200, nullptr, 0, 0);
    if (rc != POUNCE_OK) return rc;
    if (!conn_) return POUNCE_ERR_CLOSED;
  }
  if (state_ == State::Ended && head_request_) return POUNCE_OK;  // start()
  if (state_ != State::Started) return POUNCE_ERR_STATE;
  if (declared_length_ >= 0 && !compressor_ &&
      body_written_ != static_cast<uint64_t>(declared_length_)) {
    LOG_ERROR("plugin %s: ended after %llu of %lld declared bytes; closing",
              mount_->module->name().c_str(),
              static_cast<unsigned long long>(body_written_),
              static_cast<long long>(declared_length_));
    conn_->abort_stream(POUNCE_CLOSE_ERROR);
    return POUNCE_ERR_INVALID;
  }
  ByteBuffer& out = conn_->loop()->out();
  if (compressor_ && !head_request_) {
    ByteBuffer& scratch = conn_->loop()->compress_scratch();
    scratch.clear();
    compressor_->finish(scratch);
    frame_chunk(scratch.data(), scratch.size());
  }
  if (framing_ == pipeline::Framing::Chunked && !head_request_) {
    out.append("0\r\n");
    if (count && trailers) {
      pounce_response& res = conn_->loop()->scratch_response();
      res.reset(mount_->module->name().c_str());
      for (size_t i = 0; i < count; ++i) {
        add_response_header(&res, trailers[i].name, trailers[i].value);
      }
      // An invalid trailer is dropped (the head is long gone), with the log
      // line add_response_header wrote.
      if (res.error == http::ErrorCode::None) out.append(res.headers.view());
    }
    out.append("\r\n");
  }
  state_ = State::Ended;
  conn_->send_output();  // on_output() finishes the stream once all is out
  return POUNCE_OK;
}

int AsyncStream::abort() {
  if (!conn_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  PluginCallDepth::Scope scope(calls_);
  if (state_ == State::Waiting) {
    conn_->fail_stream(http::ErrorCode::PluginError);
    return POUNCE_OK;
  }
  conn_->abort_stream(POUNCE_CLOSE_ERROR);
  return POUNCE_OK;
}

void AsyncStream::on_output(size_t q) {
  loop_->handles().publish_queued(handle_, static_cast<int64_t>(q));
  if (state_ == State::Ended && q == 0) {
    if (!in_plugin_call()) {
      conn_->finish_stream();
      return;
    }
    Loop* loop = loop_;
    uint64_t h = handle_;
    loop->post([loop, h] {
      auto* s = static_cast<AsyncStream*>(
          loop->handles().lookup(h, HandleKind::Stream));
      if (s && s->connection() && s->state() == State::Ended) {
        s->connection()->finish_stream();
      }
    });
    return;
  }
  if (want_writable_ && state_ == State::Started &&
      q < conn_->loop()->config().stream_high_water / 2) {
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
    if (s->connection()) s->on_output(s->connection()->queued_output());
  });
}

void AsyncStream::want_writable() {
  if (!conn_ || state_ != State::Started) return;
  want_writable_ = true;
  on_output(conn_->queued_output());
}

void AsyncStream::end_by_host(pounce_close_reason_t reason) {
  if (!conn_) return;
  switch (state_) {
    case State::Waiting:
      conn_->fail_stream(reason == POUNCE_CLOSE_TIMEOUT
                             ? http::ErrorCode::ResponseTimeout
                             : http::ErrorCode::PluginError);
      break;
    case State::Started:
      if (framing_ == pipeline::Framing::ContentLength &&
          body_written_ != static_cast<uint64_t>(declared_length_)) {
        conn_->abort_stream(reason);  // cannot complete a declared length
        return;
      }
      keep_alive_ = false;
      end(nullptr, 0);
      break;
    default:
      break;
  }
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
