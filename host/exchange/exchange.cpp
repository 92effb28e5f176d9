#include "exchange/exchange.h"

#include <unistd.h>

#include <cerrno>

#include "log/logger.h"

namespace pounce::exchange {

namespace {

// Appends `length` bytes of `file` from `offset` to `out`. false on a read
// error or a file shorter than the range.
bool read_range(OpenFile* file, uint64_t offset, uint64_t length,
                ByteBuffer& out) {
  while (length > 0) {
    const size_t want =
        length < (1u << 20) ? static_cast<size_t>(length) : size_t{1} << 20;
    char* p = out.prepare(want);
    if (!p) return false;
    ssize_t n = ::pread(file->fd(), p, want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      LOG_ERROR("file response: %s at offset %llu",
                n == 0 ? "the file ended early" : "read failed",
                static_cast<unsigned long long>(offset));
      return false;
    }
    out.commit(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

bool Exchange::respond_parts(const ResponseStart& head, const BodyPart* parts,
                             size_t count) {
  ByteBuffer body;
  for (size_t i = 0; i < count; ++i) {
    const BodyPart& p = parts[i];
    if (p.file) {
      if (!read_range(p.file, p.offset, p.length, body)) return false;
    } else {
      body.append(std::string_view(p.bytes, p.bytes_len));
    }
  }
  if (body.failed()) return false;
  return respond(head, body.view());
}

void Exchange::write_file(OpenFile* file, uint64_t offset, uint64_t length) {
  ByteBuffer piece;
  if (!read_range(file, offset, length, piece)) {
    abort(POUNCE_CLOSE_ERROR);
    return;
  }
  write_body(piece.view());
}

}  // namespace pounce::exchange
