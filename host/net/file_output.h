// The file-body queue of an HTTP/1 connection (connection_file.cpp): what
// must reach the socket after the bytes already in flight, while a file
// part is among it. Plaintext: on TLS it is encrypted as it leaves, in
// order, so that records never get ahead of the file bytes before them.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>

#include "exchange/open_file.h"
#include "http/byte_buffer.h"
#include "net/connection.h"

namespace pounce {

struct Connection::FileOutput {
  struct Segment {
    exchange::FileRef file;  // null: `bytes`
    uint64_t offset = 0;     // the file's next byte to send
    uint64_t length = 0;     // the file's bytes left to send
    ByteBuffer bytes;        // plaintext, when no file
  };
  std::deque<Segment> segments;
  // Bytes left in all segments: part of queued_output().
  uint64_t pending = 0;
  uint64_t file_bytes = 0;  // of `pending`, the files' (queued_file_output)
  // TLS: the piece read from the file, to be encrypted (bounded).
  ByteBuffer piece;
};

// A uv_poll_t on a dup() of the connection's socket. libuv has no
// "writable" callback for a uv_tcp_t (only a write's completion), and
// sendfile(2) writes behind libuv's back; epoll tracks the duplicate
// descriptor apart from the one uv_tcp_t registered, so the two never
// disturb each other. Heap-allocated apart from the connection: its close
// completes on its own, after the connection may be gone. The duplicate
// keeps the socket open, so it is closed with the connection
// (close_watch()).
struct Connection::WritableWatch {
  uv_poll_t poll{};
  int fd = -1;
  Connection* owner = nullptr;  // null once the connection let go
};

}  // namespace pounce
