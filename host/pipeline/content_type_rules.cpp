// Skip rules for compression (content_type_rules.h).
//
// Decisions:
// - application/octet-stream, and a response with no Content-Type, are not
//   compressed. Both mean "unknown bytes": most often a download that is
//   already compressed, where compressing costs CPU and wins nothing. The
//   echo plugin answers with octet-stream by default, so echo benchmarks
//   measure the server, not deflate. A plugin that wants compression names
//   its type.
// - Besides 1xx and 204 (no body, RFC 9110 §15.2, §15.3.5) we skip 205 (no
//   content either, §15.3.6) and 206: Content-Range counts bytes of the
//   representation the plugin cut, and compressing the part would make it
//   lie. A 304 has no body either, but must carry the ETag and Vary of the
//   200 it stands for (§15.4.5), so it is decided as that 200.
// - HEAD is decided as GET: its header fields are the GET's (§9.3.2),
//   Content-Encoding, the compressed Content-Length and the weak ETag
//   included.
// - The list is a deny-list: a text or structured type we never heard of
//   (application/x-ndjson, text/x-whatever) is compressed.
#include "pipeline/content_type_rules.h"

#include <array>

#include "http/ascii.h"

namespace pounce::pipeline {
namespace {

using http::iends_with;
using http::iequals;
using http::istarts_with;

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// Subtypes of application/ whose bodies are compressed already.
constexpr std::array<std::string_view, 29> kCompressedApplication = {
    "octet-stream",  // unknown binary: see the note at the top
    "pdf",
    "zip",
    "x-zip-compressed",
    "gzip",
    "x-gzip",
    "zstd",
    "x-zstd",
    "x-bzip",
    "x-bzip2",
    "x-xz",
    "x-lzip",
    "x-lzma",
    "x-lz4",
    "x-compress",
    "x-compressed",
    "x-7z-compressed",
    "x-rar-compressed",
    "vnd.rar",
    "x-brotli",
    "java-archive",
    "x-java-archive",
    "vnd.android.package-archive",
    "vnd.ms-cab-compressed",
    "x-apple-diskimage",
    "ogg",
    "font-woff",
    "font-woff2",
    "x-font-woff",
};

bool is_compressed_application(std::string_view sub) {
  for (std::string_view s : kCompressedApplication) {
    if (iequals(sub, s)) return true;
  }
  // Zip containers: docx, xlsx, pptx, odt, ods, ...
  return istarts_with(sub, "vnd.openxmlformats-officedocument.") ||
         istarts_with(sub, "vnd.oasis.opendocument.");
}

}  // namespace

bool is_compressible_type(std::string_view ct) {
  // media-type = type "/" subtype parameters (RFC 9110 §8.3.1)
  size_t b = 0;
  while (b < ct.size() && is_ows(ct[b])) ++b;
  size_t e = ct.find(';', b);
  if (e == std::string_view::npos) e = ct.size();
  while (e > b && is_ows(ct[e - 1])) --e;
  const std::string_view media = ct.substr(b, e - b);
  const size_t slash = media.find('/');
  if (slash == std::string_view::npos || slash == 0 ||
      slash + 1 == media.size()) {
    return false;  // absent or unreadable: unknown bytes
  }
  const std::string_view type = media.substr(0, slash);
  const std::string_view sub = media.substr(slash + 1);
  // Structured syntax suffixes of compressed formats (RFC 6839 +zip, and
  // the +gzip and +zstd registrations).
  if (iends_with(sub, "+zip") || iends_with(sub, "+gzip") ||
      iends_with(sub, "+zstd")) {
    return false;
  }
  switch (type.size()) {
    case 4:
      // font/woff and font/woff2 are compressed (zlib, brotli); ttf and
      // otf are not.
      if (iequals(type, "font")) {
        return !iequals(sub, "woff") && !iequals(sub, "woff2");
      }
      break;
    case 5:
      if (iequals(type, "image")) return iequals(sub, "svg+xml");
      if (iequals(type, "video") || iequals(type, "audio")) return false;
      break;
    case 9:
      if (iequals(type, "multipart")) return !iequals(sub, "byteranges");
      break;
    case 11:
      if (iequals(type, "application")) return !is_compressed_application(sub);
      break;
    default:
      break;
  }
  return true;
}

CompressDecision decide_compression(const ResponseFacts& r, uint64_t min_size) {
  if (r.status == 304) {
    ResponseFacts as_ok = r;
    as_ok.status = 200;
    as_ok.content_length = ResponseFacts::kUnknownLength;
    const CompressDecision d = decide_compression(as_ok, min_size);
    return d == CompressDecision::Compress ? CompressDecision::NotModified : d;
  }
  if (r.status < 200 || r.status == 204 || r.status == 205 || r.status == 206) {
    return CompressDecision::SkipStatus;
  }
  if (r.has_content_encoding) return CompressDecision::SkipEncoded;
  if (!is_compressible_type(r.content_type)) {
    return CompressDecision::SkipContentType;
  }
  if (r.content_length != ResponseFacts::kUnknownLength &&
      r.content_length < min_size) {
    return CompressDecision::SkipSmall;
  }
  return CompressDecision::Compress;
}

bool is_weak_etag(std::string_view etag) {
  return etag.size() >= 2 && etag[0] == 'W' && etag[1] == '/';
}

void append_weak_etag(std::string_view etag, ByteBuffer& out) {
  if (!is_weak_etag(etag)) out.append("W/", 2);
  out.append(etag);
}

}  // namespace pounce::pipeline
