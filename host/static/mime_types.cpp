#include "static/mime_types.h"

#include <fstream>
#include <sstream>

#include "http/ascii.h"

namespace pounce::static_files {
namespace {

// The types a web site's assets need, for a system without
// /etc/mime.types (a minimal container image).
constexpr std::pair<const char*, const char*> kBuiltin[] = {
    {"html", "text/html"},       {"htm", "text/html"},
    {"css", "text/css"},         {"js", "text/javascript"},
    {"mjs", "text/javascript"},  {"json", "application/json"},
    {"map", "application/json"}, {"webmanifest", "application/manifest+json"},
    {"xml", "application/xml"},  {"txt", "text/plain"},
    {"md", "text/markdown"},     {"csv", "text/csv"},
    {"svg", "image/svg+xml"},    {"png", "image/png"},
    {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},        {"webp", "image/webp"},
    {"avif", "image/avif"},      {"ico", "image/vnd.microsoft.icon"},
    {"bmp", "image/bmp"},        {"woff", "font/woff"},
    {"woff2", "font/woff2"},     {"ttf", "font/ttf"},
    {"otf", "font/otf"},         {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},  {"zip", "application/zip"},
    {"gz", "application/gzip"},  {"zst", "application/zstd"},
    {"mp4", "video/mp4"},        {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},       {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
};

constexpr std::string_view kUnknown = "application/octet-stream";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = http::ascii_lower(c);
  return out;
}

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

bool MimeTypes::is_text(std::string_view t) {
  return t.substr(0, 5) == "text/" || t == "application/javascript" ||
         t == "application/json" || t == "application/xml" ||
         t == "application/ecmascript" || ends_with(t, "+json") ||
         ends_with(t, "+xml");
}

void MimeTypes::add(std::string_view ext, std::string_view type) {
  std::string value(type);
  if (is_text(value)) value += "; charset=utf-8";
  by_ext_[lower(ext)] = std::move(value);
}

MimeTypes::MimeTypes(const char* path) {
  for (const auto& [ext, type] : kBuiltin) add(ext, type);
  if (!path) return;
  std::ifstream in(path);
  if (!in) return;
  std::string line;
  while (std::getline(in, line)) {
    // "type ext ext ...", '#' comments, whitespace separated.
    std::istringstream words(line);
    std::string type;
    if (!(words >> type) || type[0] == '#' ||
        type.find('/') == std::string::npos) {
      continue;
    }
    // The type goes into responses unchecked (static/handler.cpp): a byte
    // a field value may not hold skips the line.
    bool printable = true;
    for (unsigned char ch : type)
      printable = printable && ch > 0x20 && ch < 0x7f;
    if (!printable) continue;
    std::string ext;
    while (words >> ext) {
      if (ext[0] == '#') break;
      add(ext, lower(type));
      ++from_file_;
    }
  }
}

std::string_view MimeTypes::for_name(std::string_view name) const {
  const size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= name.size()) return kUnknown;
  const std::string_view ext = name.substr(dot + 1);
  char buf[32];
  if (ext.size() > sizeof buf) return kUnknown;
  for (size_t i = 0; i < ext.size(); ++i) buf[i] = http::ascii_lower(ext[i]);
  // Looked up when a file enters the open-file cache, not per request.
  auto it = by_ext_.find(std::string(buf, ext.size()));
  return it == by_ext_.end() ? kUnknown : std::string_view(it->second);
}

const MimeTypes& MimeTypes::global() {
  static const MimeTypes table("/etc/mime.types");
  return table;
}

}  // namespace pounce::static_files
