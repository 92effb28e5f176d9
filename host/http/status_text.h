#pragma once

#include <string_view>

namespace pounce::http {

// The reason phrase for a status code (RFC 9110 §15), or "Unknown".
std::string_view status_reason(int status);

// "HTTP/1.1 200 OK\r\n" for a status in 100..999; precomputed for the
// registered codes so that the hot path copies a constant.
std::string_view status_line(int status);

}  // namespace pounce::http
