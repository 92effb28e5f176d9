// Content-Type from a file name's extension: /etc/mime.types (Debian's
// media-types package), read once at startup, over a built-in table that
// also serves when that file is missing. Text types, and the JSON,
// JavaScript and XML types that are text in practice, carry
// "; charset=utf-8". Read-only once built: the loops share it without
// locks.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace pounce::static_files {

class MimeTypes {
 public:
  // The built-in table, then the entries of `path` (which win) when it can
  // be read. The table the host uses is global() below.
  explicit MimeTypes(const char* path = "/etc/mime.types");

  // The Content-Type for a file name (the last extension, case-
  // insensitive): "application/octet-stream" when unknown.
  std::string_view for_name(std::string_view file_name) const;

  // How many extensions came from the file (0: it was missing). For the
  // startup log and the tests.
  size_t from_file() const { return from_file_; }

  // The host's table, built on first use (the main thread, when a
  // generation with a static mount is built).
  static const MimeTypes& global();

  // Whether a type gets "; charset=utf-8".
  static bool is_text(std::string_view type);

 private:
  void add(std::string_view ext, std::string_view type);
  std::unordered_map<std::string, std::string> by_ext_;
  size_t from_file_ = 0;
};

}  // namespace pounce::static_files
