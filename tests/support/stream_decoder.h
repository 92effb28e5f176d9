// Decodes a zstd or gzip response body incrementally, the way a browser
// does: each chunk fed in yields whatever it can decode right away.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct ZSTD_DCtx_s;
struct z_stream_s;

namespace pounce::test {

class StreamDecoder {
 public:
  enum class Coding { Zstd, Gzip };
  explicit StreamDecoder(Coding c);
  ~StreamDecoder();
  StreamDecoder(const StreamDecoder&) = delete;
  StreamDecoder& operator=(const StreamDecoder&) = delete;

  // Feeds compressed bytes; returns the decoded bytes now available. Sets
  // ok() false on a decoding error.
  std::string feed(std::string_view compressed);
  bool ok() const { return ok_; }
  // The stream ended properly (zstd frame end / gzip trailer seen).
  bool finished() const { return finished_; }

 private:
  Coding coding_;
  ZSTD_DCtx_s* zstd_ = nullptr;
  std::unique_ptr<z_stream_s> gzip_;
  bool ok_ = true;
  bool finished_ = false;
};

// Decodes a whole body at once.
std::string decode_all(StreamDecoder::Coding c, std::string_view body,
                       bool* ok = nullptr);

}  // namespace pounce::test
