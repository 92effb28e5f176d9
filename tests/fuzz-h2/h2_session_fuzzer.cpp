// libFuzzer target for the HTTP/2 server session (issue 13 §3): raw frames,
// after the client preface, into h2::Session with the host's nghttp2
// callbacks attached, on a real worker EventLoop with real plugins mounted
// (hello at /, echo at /echo): HPACK into request views, validation,
// routing, sync handlers, the response pipeline, flow control, the frame
// budgets, and teardown with streams in any state.
//
// Each input runs on the loop's own thread (as a connection's input does),
// posted there and waited for. The transport under the session is a stub
// whose socket takes everything: what the session writes is dropped.
//
// Input: the first byte picks where the frames are split into two feeds
// (a frame cut across reads); the rest are the frames.
#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "cli/config.h"
#include "h2/session.h"
#include "h2/transport.h"
#include "log/logger.h"
#include "net/event_loop.h"
#include "plugin/generation.h"
#include "plugin/host_api.h"

namespace {

using namespace pounce;

class StubTransport final : public h2::Transport {
 public:
  explicit StubTransport(EventLoop* loop) : loop_(loop) {
    auto* in = reinterpret_cast<sockaddr_in*>(&peer_.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(40000);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer_.len = sizeof(sockaddr_in);
  }
  ByteBuffer& wire_output() override { return loop_->out(); }
  void wire_send() override { loop_->out().clear(); }
  size_t wire_unsent() const override { return 0; }
  bool wire_can_reference() const override { return true; }
  void wire_send_gathered(const h2::Transport::WireRef* refs,
                          size_t n) override {
    // Every referenced byte is read, so that a payload whose memory went
    // away before the send is a sanitizer's report.
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < refs[i].len; ++j) checksum += refs[i].data[j];
    }
    loop_->out().clear();
  }
  const PeerAddress& peer() override { return peer_; }
  bool local_address(PeerAddress* out) override {
    *out = peer_;
    return true;
  }
  tls::InfoSource* tls_source() override { return nullptr; }
  const ProxyTlvs* proxy_tlvs() override { return nullptr; }
  std::shared_ptr<const tls::SessionInfo> tls_snapshot() override {
    return nullptr;
  }
  std::string describe_peer() override { return "127.0.0.1:40000"; }
  void wire_finish() override { finished = true; }
  void wire_abort() override { finished = true; }
  void wire_refresh() override {}
  bool wire_request_move() override { return false; }

  bool finished = false;
  unsigned checksum = 0;

 private:
  EventLoop* loop_;
  PeerAddress peer_;
};

struct Harness {
  Config config;
  std::unique_ptr<Generation> generation;
  std::unique_ptr<EventLoop> loop;

  Harness() {
    config.workers = 1;
    config.async_threads = 0;
    config.h2_max_header_list_size = config.max_header_size;
    config.access_log = false;
    config.log_level = log::Level::Error;
    config.plugins = {{"/", POUNCE_FUZZ_HELLO}, {"/echo", POUNCE_FUZZ_ECHO}};
    log::set_level(config.log_level);
    std::string error;
    generation = Generation::build(config, 1, 1, host_api(), &error);
    if (!generation) {
      fprintf(stderr, "h2 fuzzer: cannot load the plugins: %s\n",
              error.c_str());
      abort();
    }
    loop = std::make_unique<EventLoop>(config, 0, "fuzz");
    loop->set_generation(generation.get());
    loop->start(-1);
  }

  // Runs `fn` on the loop's thread and waits for it.
  template <typename F>
  void run(F fn) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    loop->post([&] {
      fn();
      std::lock_guard<std::mutex> lock(m);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done; });
  }
};

Harness& harness() {
  // Never destroyed: the loop thread runs until the process exits.
  static Harness* h = new Harness;
  return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Harness& h = harness();
  const size_t frames = size - 1;
  const size_t cut = frames == 0 ? 0 : data[0] % (frames + 1);
  const char* in = reinterpret_cast<const char*>(data + 1);
  h.run([&] {
    EventLoop* loop = h.loop.get();
    StubTransport t(loop);
    std::unique_ptr<h2::Session> s = h2::Session::create(loop, &t);
    if (!s) return;
    s->feed(h2::kClientPreface.data(), h2::kClientPreface.size(), 0);
    if (!t.finished && cut > 0) s->feed(in, cut, 0);
    if (!t.finished && frames > cut) s->feed(in + cut, frames - cut, 0);
    // A graceful end, then the connection's close, as Connection does.
    if (!t.finished) s->begin_drain();
    s->on_transport_closed();
    s.reset();
    loop->out().clear();
  });
  return 0;
}
