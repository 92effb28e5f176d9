// File bodies on an HTTP/1 connection: respond_parts (static files, a
// plugin's response_file) and write_file (stream_write_file).
//
// The head, and any byte parts before the first file part, go through the
// loop's output buffer like any response. From the first file part on, the
// connection's output is a queue (files_): the bytes in flight (writing_,
// queued_) first, then the queue's segments in order, then whatever is
// written meanwhile (the rest of a multipart body, a chunk's CRLF, the
// responses to pipelined requests), appended to the queue's tail. The
// queue is sent by pump_files():
//   - cleartext: sendfile(2) from the file to the socket, never through
//     user space. When the socket is full (EAGAIN), writability is awaited
//     on a uv_poll_t (WritableWatch in file_output.h).
//   - TLS: a piece of at most kTlsPiece bytes is pread, encrypted and
//     written; when the kernel does not take it all, the rest is a normal
//     uv_write, whose completion (on_write) pumps again.
// Memory is bounded either way: one piece per connection, plus what the
// socket would not take of it.
//
// While the queue exists the connection counts as writing (output_busy):
// it reads no new request, pipelined requests wait in in_, and
// --write-timeout is armed at every piece the socket takes (progress), so
// a client that stops reading is closed as with any other response.
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "async/stream.h"
#include "log/logger.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "net/file_output.h"
#include "tls/session.h"

namespace pounce {

namespace {

// One TLS piece: large enough for few system calls and full records, small
// enough that a slow client pins little memory.
constexpr size_t kTlsPiece = 64 * 1024;
// One sendfile call at most this much (the kernel caps a call near 2 GiB).
constexpr uint64_t kSendfileSlice = uint64_t{1} << 30;

}  // namespace

bool Connection::respond_parts(const exchange::ResponseStart& s,
                               const exchange::BodyPart* parts, size_t count) {
  // The head (with head.content_length, the parts' sum), framed as any
  // whole response.
  if (!respond(s, {})) return false;
  ByteBuffer& out = loop_->out();
  for (size_t i = 0; i < count && phase_ != Phase::Closing; ++i) {
    const exchange::BodyPart& p = parts[i];
    if (p.file) {
      if (p.length > 0) queue_file_part(p.file, p.offset, p.length);
    } else if (p.bytes_len > 0) {
      // Through the loop's buffer: flush_output() hands it on in order
      // (to the queue's tail once a file part is queued). A failure shows
      // as out.failed() there and closes the connection: the head is out.
      out.append(p.bytes, p.bytes_len);
    }
  }
  return true;
}

void Connection::write_file(exchange::OpenFile* file, uint64_t offset,
                            uint64_t length) {
  if (length == 0 || phase_ == Phase::Closing) return;
  ByteBuffer& out = loop_->out();
  const bool chunked = response_framing_ == http1::Framing::Chunked;
  if (chunked) {
    char* p = out.prepare(24);
    if (!p) return;  // out.failed(): flush_output() closes the connection
    // A chunk's size is a size_t on the wire: a range past it is sent as
    // several chunks.
    uint64_t left = length;
    uint64_t at = offset;
    const uint64_t max_chunk = uint64_t{1} << 40;
    for (bool first = true; left > 0; first = false) {
      const uint64_t n = left < max_chunk ? left : max_chunk;
      if (!first && !(p = out.prepare(24))) return;
      out.commit(http1::write_chunk_size(p, static_cast<size_t>(n)));
      queue_file_part(file, at, n);
      if (phase_ == Phase::Closing) return;
      out.append("\r\n", 2);
      at += n;
      left -= n;
    }
    return;
  }
  queue_file_part(file, offset, length);
}

void Connection::queue_file_part(exchange::OpenFile* file, uint64_t offset,
                                 uint64_t length) {
  // What the loop's buffer holds comes first: to the wire when no file is
  // queued yet, else to the queue's tail.
  flush_output();
  if (phase_ == Phase::Closing) return;
  try {
    if (!files_) files_ = std::make_unique<FileOutput>();
    FileOutput::Segment& seg = files_->segments.emplace_back();
    file->ref();
    seg.file = exchange::FileRef(file);
    seg.offset = offset;
    seg.length = length;
    files_->pending += length;
    files_->file_bytes += length;
  } catch (const std::bad_alloc&) {
    fail_output_memory();
    return;
  }
  if (!write_in_flight_) pump_files();
}

bool Connection::queue_file_bytes(const char* data, size_t len) {
  try {
    if (files_->segments.empty() || files_->segments.back().file) {
      files_->segments.emplace_back();
    }
  } catch (const std::bad_alloc&) {
    return false;
  }
  if (!files_->segments.back().bytes.append(data, len)) return false;
  files_->pending += len;
  return true;
}

void Connection::pump_files() {
  bool progress = false;
  while (files_ && !write_in_flight_ && phase_ != Phase::Closing) {
    if (files_->segments.empty()) {
      files_.reset();  // all out: the connection writes normally again
      break;
    }
    FileOutput::Segment& seg = files_->segments.front();
    if (!seg.file) {
      ByteBuffer bytes;
      bytes.swap(seg.bytes);
      files_->pending -= bytes.size();
      files_->segments.pop_front();
      send_plain(bytes);  // may go in flight, or close
      progress = true;
      continue;
    }
    const uint64_t before = files_->pending;
    if (!send_file_piece()) return;  // blocked (progress armed), or closed
    progress = progress || files_->pending != before;
    if (seg.length == 0) files_->segments.pop_front();
  }
  // Progress is a piece the socket took: --write-timeout starts again (a
  // uv_write that went in flight armed it already).
  if (progress && phase_ != Phase::Closing && !write_in_flight_ && files_) {
    loop_->timeouts().arm(this, TimeoutKind::Write);
  }
}

bool Connection::send_file_piece() {
  FileOutput::Segment& seg = files_->segments.front();
  const int file_fd = seg.file->fd();
  if (!tls_) {
    uv_os_fd_t sock;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock) != 0) {
      close_now();
      return false;
    }
    bool progress = false;
    while (seg.length > 0) {
      off_t off = static_cast<off_t>(seg.offset);
      const size_t want = static_cast<size_t>(
          seg.length < kSendfileSlice ? seg.length : kSendfileSlice);
      const ssize_t n = ::sendfile(sock, file_fd, &off, want);
      if (n > 0) {
        seg.offset += static_cast<uint64_t>(n);
        seg.length -= static_cast<uint64_t>(n);
        files_->pending -= static_cast<uint64_t>(n);
        files_->file_bytes -= static_cast<uint64_t>(n);
        progress = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (progress) loop_->timeouts().arm(this, TimeoutKind::Write);
        await_writable();
        return false;
      }
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET ||
                    errno == ENOTCONN || errno == ETIMEDOUT)) {
        // The socket's fault, not the file's: the client left.
        LOG_DEBUG("write to %s failed: %s", peer_text().c_str(),
                  strerror(errno));
        if (stream_) release_stream(POUNCE_CLOSE_PEER);
        close_now();
        return false;
      }
      fail_file(n == 0 ? 0 : errno);
      return false;
    }
    return true;
  }
  // TLS: one bounded piece, read, encrypted and written.
  ByteBuffer& piece = files_->piece;
  piece.clear();
  const size_t want =
      static_cast<size_t>(seg.length < kTlsPiece ? seg.length : kTlsPiece);
  char* p = piece.prepare(want);
  if (!p) {
    piece.forget_failure();
    fail_output_memory();
    return false;
  }
  ssize_t n;
  do {
    n = ::pread(file_fd, p, want, static_cast<off_t>(seg.offset));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    fail_file(n == 0 ? 0 : errno);
    return false;
  }
  piece.commit(static_cast<size_t>(n));
  seg.offset += static_cast<uint64_t>(n);
  seg.length -= static_cast<uint64_t>(n);
  files_->pending -= static_cast<uint64_t>(n);
  files_->file_bytes -= static_cast<uint64_t>(n);
  send_plain(piece);
  return phase_ != Phase::Closing;
}

size_t Connection::queued_file_output() const {
  return files_ ? static_cast<size_t>(files_->file_bytes) : 0;
}

void Connection::fail_file(int err) {
  const FileOutput::Segment& seg = files_->segments.front();
  const unsigned long long at = seg.offset;
  const unsigned long long end = seg.offset + seg.length;
  if (err == 0) {
    LOG_WARN(
        "file response to %s: the file (fd %d) ended at byte %llu of %llu; "
        "closing",
        peer_text().c_str(), seg.file->fd(), at, end);
  } else {
    LOG_WARN(
        "file response to %s: reading the file (fd %d) at byte %llu of %llu "
        "failed: %s; closing",
        peer_text().c_str(), seg.file->fd(), at, end, strerror(err));
  }
  // Never padded: the client sees fewer bytes than the framing promised.
  if (stream_) {
    abort_stream(POUNCE_CLOSE_ERROR);
  }
  close_now();
}

void Connection::await_writable() {
  if (!watch_) {
    uv_os_fd_t sock;
    int dup_fd = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock) == 0) {
      dup_fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
    }
    auto* w = dup_fd >= 0 ? new (std::nothrow) WritableWatch : nullptr;
    if (!w || uv_poll_init(loop_->uv(), &w->poll, dup_fd) != 0) {
      LOG_ERROR("file response to %s: cannot watch the socket: %s; closing",
                peer_text().c_str(),
                dup_fd < 0 ? strerror(errno) : "out of memory");
      if (dup_fd >= 0) ::close(dup_fd);
      delete w;
      if (stream_) release_stream(POUNCE_CLOSE_ERROR);
      close_now();
      return;
    }
    w->fd = dup_fd;
    w->owner = this;
    w->poll.data = w;
    watch_ = w;
  }
  if (uv_poll_start(&watch_->poll, UV_WRITABLE, on_writable) != 0) {
    if (stream_) release_stream(POUNCE_CLOSE_ERROR);
    close_now();
    return;
  }
  // The socket took nothing since the last progress: the write timeout
  // keeps counting from there (a first wait starts it).
  if (!queued() || kind != TimeoutKind::Write) {
    loop_->timeouts().arm(this, TimeoutKind::Write);
  }
}

void Connection::on_writable(uv_poll_t* p, int status, int) {
  auto* w = static_cast<WritableWatch*>(p->data);
  Connection* c = w->owner;
  uv_poll_stop(p);
  if (!c || c->phase_ == Phase::Closing) return;
  if (status < 0) {
    LOG_DEBUG("write to %s failed: %s", c->peer_text().c_str(),
              uv_strerror(status));
    if (c->stream_) c->release_stream(POUNCE_CLOSE_PEER);
    c->close_now();
    return;
  }
  c->pump_files();
  if (c->phase_ == Phase::Closing) return;
  if (c->output_busy()) {
    if (c->stream_) c->stream_->on_output(c->queued_output());
    return;
  }
  c->output_done();
}

void Connection::close_watch() {
  WritableWatch* w = watch_;
  watch_ = nullptr;
  w->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) {
    auto* w = static_cast<WritableWatch*>(h->data);
    ::close(w->fd);  // the socket's last descriptor goes with the watch
    delete w;
  });
}

}  // namespace pounce
