// A deliberately simple HTTP/1.1 client over a raw socket, for tests that
// need exact bytes on the wire: error rows, pipelining, fragmented heads,
// 100-continue and lingering closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pounce::test {

struct HttpResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;

  // The first header called `name` (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
  size_t header_count(std::string_view name) const;
};

// Socket options set before connect(), for tests that need the socket
// buffers small and fixed: a receive buffer (no autotuning) and a small
// maximum segment size (the server's send buffer is sized from it).
struct ClientSocketOptions {
  int receive_buffer = 0;  // SO_RCVBUF, 0: the system's default
  int max_segment = 0;     // TCP_MAXSEG, 0: the system's default
};

class RawClient {
 public:
  explicit RawClient(uint16_t port, ClientSocketOptions options = {});
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // The socket, for options a test needs (SO_RCVBUF, SO_LINGER).
  int fd() const { return fd_; }
  // Sends everything; false when the peer reset the connection.
  bool send(std::string_view bytes);
  void shutdown_write();

  // Reads one response. `head_request`: it has no body whatever it says.
  std::optional<HttpResponse> read_response(
      bool head_request = false,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads only the status line and headers (for a streamed body).
  std::optional<HttpResponse> read_head(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads the next chunk of a chunked body. Returns an empty optional at the
  // last chunk (after reading the trailers) or on error/timeout; *ended
  // tells which.
  std::optional<std::string> read_chunk(
      bool* ended,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // True when the server closes (EOF) within `timeout`; *extra receives any
  // bytes that arrived first.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                   std::string* extra = nullptr);
  // Everything until EOF or the timeout.
  std::string read_all(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The bytes buffered or arriving next (at least one unless EOF/timeout).
  std::string read_some(std::chrono::milliseconds timeout);
  // True when nothing arrives (and no EOF) within `quiet`.
  bool stays_open(std::chrono::milliseconds quiet);
  // Whether the last read ended with a reset (ECONNRESET) instead of EOF.
  bool saw_reset() const { return reset_; }

 private:
  // Reads more bytes into buf_; false on EOF, error or timeout.
  bool fill(std::chrono::steady_clock::time_point deadline);
  bool read_line(std::string* line, std::chrono::steady_clock::time_point d);
  bool read_exact(size_t n, std::string* out,
                  std::chrono::steady_clock::time_point d);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  bool reset_ = false;
};

// One request on a fresh connection; returns the response, if any.
std::optional<HttpResponse> one_request(uint16_t port, std::string_view bytes);

}  // namespace pounce::test
