#include "stream_decoder.h"

#include <zlib.h>
#include <zstd.h>

namespace pounce::test {

StreamDecoder::StreamDecoder(Coding c) : coding_(c) {
  if (c == Coding::Zstd) {
    zstd_ = ZSTD_createDCtx();
  } else {
    gzip_ = std::make_unique<z_stream_s>();
    *gzip_ = {};
    ok_ = inflateInit2(gzip_.get(), 15 + 16) == Z_OK;  // gzip wrapper
  }
}

StreamDecoder::~StreamDecoder() {
  if (zstd_) ZSTD_freeDCtx(zstd_);
  if (gzip_) inflateEnd(gzip_.get());
}

std::string StreamDecoder::feed(std::string_view in) {
  std::string out;
  char buf[65536];
  if (coding_ == Coding::Zstd) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      ZSTD_outBuffer output{buf, sizeof buf, 0};
      size_t rc = ZSTD_decompressStream(zstd_, &output, &input);
      if (ZSTD_isError(rc)) {
        ok_ = false;
        return out;
      }
      out.append(buf, output.pos);
      if (rc == 0) finished_ = true;
      // Done when all input is used and the output buffer was not filled.
      if (input.pos == input.size && output.pos < output.size) break;
    }
    return out;
  }
  z_stream_s* z = gzip_.get();
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z->avail_in = static_cast<uInt>(in.size());
  for (;;) {
    z->next_out = reinterpret_cast<Bytef*>(buf);
    z->avail_out = sizeof buf;
    int rc = inflate(z, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z->avail_out);
    if (rc == Z_STREAM_END) {
      finished_ = true;
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ok_ = false;
      break;
    }
    if (z->avail_in == 0 && z->avail_out != 0) break;
  }
  return out;
}

std::string decode_all(StreamDecoder::Coding c, std::string_view body,
                       bool* ok) {
  StreamDecoder d(c);
  std::string out = d.feed(body);
  if (ok) *ok = d.ok() && d.finished();
  return out;
}

}  // namespace pounce::test
