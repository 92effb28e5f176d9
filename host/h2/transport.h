// What an HTTP/2 session needs of the connection under it: the socket's
// write path, its addresses and TLS facts, its timeouts and its close. The
// HTTP/1 Connection (net/connection.h) implements it, so that both
// protocols share one read path (cleartext, or TLS decrypted in place) and
// one write path (encrypted as it leaves); the session never sees a socket.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "exchange/exchange.h"
#include "http/byte_buffer.h"

namespace pounce {

namespace tls {
class InfoSource;
struct SessionInfo;
}  // namespace tls

namespace h2 {

class Transport {
 public:
  // Where frames are serialized: the loop's output buffer, which
  // wire_send() hands to the socket (encrypting on TLS).
  virtual ByteBuffer& wire_output() = 0;
  // Sends what output() holds; what the kernel does not take waits in the
  // connection. May close the connection (a write error).
  virtual void wire_send() = 0;
  // Wire bytes handed to wire_send() that the kernel has not taken yet.
  virtual size_t wire_unsent() const = 0;

  // A DATA frame's payload, sent from where it is instead of copied into
  // wire_output() first: it goes after the first `at` bytes there.
  struct WireRef {
    size_t at;
    const char* data;
    size_t len;
  };
  static constexpr size_t kMaxWireRefs = 32;
  // Whether payloads may be referenced now (cleartext, with nothing queued
  // ahead that would need them copied anyway).
  virtual bool wire_can_reference() const = 0;
  // wire_send() with `n` (<= kMaxWireRefs) payloads in their places, in
  // order of `at`. Their memory need only last until this returns: what
  // the kernel does not take is copied.
  virtual void wire_send_gathered(const WireRef* refs, size_t n) = 0;

  virtual const PeerAddress& peer() = 0;
  virtual bool local_address(PeerAddress* out) = 0;
  virtual tls::InfoSource* tls_source() = 0;
  virtual const ProxyTlvs* proxy_tlvs() = 0;
  // The TLS facts, kept alive for a blocking handler; null on cleartext.
  virtual std::shared_ptr<const tls::SessionInfo> tls_snapshot() = 0;
  virtual std::string describe_peer() = 0;

  // The session has nothing more to say or hear: close the connection once
  // its output is out.
  virtual void wire_finish() = 0;
  // The session failed (out of memory, a flood): close now.
  virtual void wire_abort() = 0;
  // Whether reading, the connection's timeouts and the hand-off should be
  // decided again (the session's state changed outside a read).
  virtual void wire_refresh() = 0;
  // A stream needs an async loop (an async route, a WebSocket): the
  // connection moves there, whole, once nothing is in flight. False when
  // this loop is the place (it is an async loop, or there is none).
  virtual bool wire_request_move() = 0;

 protected:
  ~Transport() = default;
};

}  // namespace h2
}  // namespace pounce
