// Every reason the host answers a request itself with an error status.
//
// The name of each code is sent as `X-Pounce-Error: <NAME>` and documented in
// docs/errors.md (ARCHITECTURE.md §4). Keep this table, that document and the
// tests in step.
#pragma once

#include <cstdint>
#include <string_view>

namespace pounce::http {

#define POUNCE_ERROR_CODES(X)                                             \
  X(None, 0, "NONE")                                                      \
  /* request line */                                                      \
  X(BadRequestLine, 400, "BAD_REQUEST_LINE")                              \
  X(BadMethod, 400, "BAD_METHOD")                                         \
  X(BadTarget, 400, "BAD_TARGET")                                         \
  X(BadLineEnding, 400, "BAD_LINE_ENDING")                                \
  X(VersionNotSupported, 505, "VERSION_NOT_SUPPORTED")                    \
  /* header fields */                                                     \
  X(BadHeaderName, 400, "BAD_HEADER_NAME")                                \
  X(WhitespaceBeforeColon, 400, "WHITESPACE_BEFORE_COLON")                \
  X(BadHeaderValue, 400, "BAD_HEADER_VALUE")                              \
  X(ObsFold, 400, "OBS_FOLD")                                             \
  X(MissingHost, 400, "MISSING_HOST")                                     \
  X(DuplicateHost, 400, "DUPLICATE_HOST")                                 \
  X(HeadersTooLarge, 431, "HEADERS_TOO_LARGE")                            \
  X(TooManyHeaders, 431, "TOO_MANY_HEADERS")                              \
  /* message framing */                                                   \
  X(DuplicateContentLength, 400, "DUPLICATE_CONTENT_LENGTH")              \
  X(InvalidContentLength, 400, "INVALID_CONTENT_LENGTH")                  \
  X(ClTeConflict, 400, "CL_TE_CONFLICT")                                  \
  X(TransferEncodingInHttp10, 400, "TE_IN_HTTP10")                        \
  X(BadTransferEncoding, 400, "BAD_TRANSFER_ENCODING")                    \
  X(UnsupportedTransferCoding, 501, "UNSUPPORTED_TRANSFER_CODING")        \
  X(BadChunkSize, 400, "BAD_CHUNK_SIZE")                                  \
  X(BadChunkExtension, 400, "BAD_CHUNK_EXTENSION")                        \
  X(BadChunkData, 400, "BAD_CHUNK_DATA")                                  \
  X(BadTrailer, 400, "BAD_TRAILER")                                       \
  X(TrailersTooLarge, 400, "TRAILERS_TOO_LARGE")                          \
  X(BodyTooLarge, 413, "BODY_TOO_LARGE")                                  \
  /* routing (NO_ROUTE is the one code that keeps the connection open) */ \
  X(NoRoute, 404, "NO_ROUTE")                                             \
  X(BadPath, 400, "BAD_PATH")                                             \
  X(PathEscapesRoot, 400, "PATH_ESCAPES_ROOT")                            \
  X(WebSocketUnsupported, 400, "WEBSOCKET_UNSUPPORTED")                   \
  X(BadWebSocketHandshake, 400, "BAD_WEBSOCKET_HANDSHAKE")                \
  X(WebSocketVersion, 426, "WEBSOCKET_VERSION")                           \
  /* connection */                                                        \
  X(HeaderTimeout, 408, "HEADER_TIMEOUT")                                 \
  X(BodyTimeout, 408, "BODY_TIMEOUT")                                     \
  X(TooManyConnections, 503, "TOO_MANY_CONNECTIONS")                      \
  X(OutOfMemory, 503, "OUT_OF_MEMORY")                                    \
  X(BlockingQueueFull, 503, "BLOCKING_QUEUE_FULL")                        \
  X(PlainHttpToHttpsPort, 400, "HTTP_TO_HTTPS_PORT")                      \
  X(RateLimited, 429, "RATE_LIMITED")                                     \
  /* plugin faults */                                                     \
  X(PluginError, 500, "PLUGIN_ERROR")                                     \
  X(InvalidResponseHeader, 500, "INVALID_RESPONSE_HEADER")                \
  X(FramingHeaderSet, 500, "FRAMING_HEADER_SET")                          \
  X(ResponseTimeout, 500, "RESPONSE_TIMEOUT")

enum class ErrorCode : uint8_t {
#define POUNCE_X(id, status, name) id,
  POUNCE_ERROR_CODES(POUNCE_X)
#undef POUNCE_X
      Count
};

// The HTTP status the host answers with for `code`.
constexpr int error_status(ErrorCode code) {
  switch (code) {
#define POUNCE_X(id, status, name) \
  case ErrorCode::id:              \
    return status;
    POUNCE_ERROR_CODES(POUNCE_X)
#undef POUNCE_X
    default:
      return 500;
  }
}

// The X-Pounce-Error value for `code`.
constexpr std::string_view error_name(ErrorCode code) {
  switch (code) {
#define POUNCE_X(id, status, name) \
  case ErrorCode::id:              \
    return name;
    POUNCE_ERROR_CODES(POUNCE_X)
#undef POUNCE_X
    default:
      return "UNKNOWN";
  }
}

}  // namespace pounce::http
