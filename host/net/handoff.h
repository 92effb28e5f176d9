// What moves from a worker to an async-pool loop when a request goes async
// (ARCHITECTURE.md §1 "Async path"). libuv has no detach call, so the worker
// dup()s the socket, closes its own handle, and the async loop opens the
// duplicate with uv_tcp_open.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "h2/session.h"
#include "http/byte_buffer.h"
#include "plugin/generation.h"
#include "plugin/request_response.h"
#include "tls/session.h"

namespace pounce {

struct Handoff {
  int fd = -1;
  // The input not consumed yet, starting at the head of the request that
  // goes async (the async loop parses it again: cheaper than shipping views).
  ByteBuffer bytes;
  // The generation the worker routed the request with, pinned by the worker
  // on its own counter and released by whoever drops it last (the receiving
  // loop, on its counter: the sum stays exact).
  GenerationPin pin;
  PeerAddress peer;
  // The PROXY protocol TLVs the connection's header gave, if any.
  std::unique_ptr<ProxyTlvs> proxy_tlvs;
  // The connection's TLS state (https), with what it holds of the input;
  // null on cleartext.
  std::unique_ptr<tls::Session> tls;
  // HTTP/2: the whole session, its streams with it (h2/session.h); null
  // for HTTP/1.1.
  std::unique_ptr<h2::Session> h2;
  // The sending worker's count of its connections living on async loops,
  // decremented when this one closes (--max-connections counts them).
  std::atomic<int64_t>* origin_count = nullptr;
  uint16_t listener = 0;  // the connection's --listen index
};

}  // namespace pounce
