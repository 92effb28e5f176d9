// One client connection of the load generator: connects, reconnects after a
// close or an error, and writes without copying in the common case (the
// kernel takes the whole write at once). What is sent and how responses are
// read is up to the subclass: HttpConnection, SseConnection.
//
// With --tls the connection runs a TlsStream between the socket and the
// subclass: it is open (and traffic starts) once the handshake is done;
// send() takes plaintext and on_read() gets plaintext, as in cleartext.
//
// Lives on its LoadThread's loop; the thread owns it and destroys it only
// after every handle is closed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bench/tls_client.h"

namespace pounce::bench {

class LoadThread;

class Connection {
 public:
  explicit Connection(LoadThread& thread);
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void open();      // first connect
  void shutdown();  // end of run: close for good
  bool is_open() const { return state_ == State::Open; }
  // uv_hrtime() of the latest connect attempt.
  uint64_t connect_started_ns() const { return connect_started_ns_; }

  // The run has begun (or the connection opened after it began).
  virtual void start_traffic() = 0;
  // Open loop: send one request due at `intended_ns`. Only called while
  // has_capacity().
  virtual void send_scheduled(uint64_t /*intended_ns*/) {}
  virtual bool has_capacity() const { return false; }
  // Requests (or messages) sent and not answered yet.
  virtual uint64_t in_flight() const { return 0; }
  // Open loop: gives up on what is in flight at `now` (LoadThread::abandon
  // for each), at a reset or at the end of the window.
  virtual void abandon_in_flight(uint64_t /*now*/) {}

  // Whether the connection is in the thread's with-capacity list.
  bool offered = false;

 protected:
  virtual void on_read(const char* data, size_t len, uint64_t now) = 0;
  // The peer closed. Return true when that was an error (requests lost).
  virtual bool on_eof() = 0;
  // The socket is gone, for any reason: drop what was in flight.
  virtual void on_reset() = 0;

  void send(const char* data, size_t len);
  // A reset or an early close: counts the requests it loses (at least one
  // event) in read_errors.
  void count_lost_requests();
  // Closes and connects again: at once after an orderly close, after a short
  // pause after an error (a dead server must not make the client spin).
  void reconnect(bool after_error);

  LoadThread& thread_;

 private:
  enum class State { Idle, Connecting, Handshaking, Open, Closing, Done };

  void connect();
  // The connection can carry requests (after the TLS handshake, if any).
  void established();
  void close_socket();
  void flush_queued();
  // Writes bytes as they go on the wire (ciphertext with --tls).
  void send_raw(const char* data, size_t len);
  // --tls: what the socket read, through the TlsStream.
  void on_tls_input(const char* data, size_t len, uint64_t now);
  void flush_tls();
  void tls_failed(bool handshake);
  bool has_socket() const {
    return state_ == State::Connecting || state_ == State::Handshaking ||
           state_ == State::Open;
  }
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_closed(uv_handle_t* h);
  static void on_retry(uv_timer_t* t);

  State state_ = State::Idle;
  bool reconnect_after_close_ = false;
  bool retry_delay_ = false;
  bool first_attempt_ = true;
  // The first connect succeeded and its TLS handshake is under way: the
  // thread hears about the first connection only when it is done.
  bool first_pending_ = false;
  uint64_t connect_started_ns_ = 0;
  std::unique_ptr<TlsStream> tls_;  // null: cleartext
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  uv_timer_t retry_timer_{};
  bool write_busy_ = false;
  std::string writing_;  // owned by an in-flight uv_write
  std::string queued_;   // behind it, in order
};

}  // namespace pounce::bench
