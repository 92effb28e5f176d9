// pounce.hpp: a header-only C++20 wrapper over the C ABI in pounce.h.
//
// A plugin derives from pounce::Plugin, overrides the hooks it needs, and
// registers itself once with POUNCE_CPP_PLUGIN:
//
//   class Hello : public pounce::Plugin {
//    public:
//     explicit Hello(const pounce::InitArgs&) {}
//     void handle(const pounce::Request& req, pounce::Response& res) override {
//       res.header("Content-Type", "text/plain");
//       res.body("Hello from C++");
//     }
//   };
//   POUNCE_CPP_PLUGIN(Hello, pounce::PluginInfo{.name = "hello-cpp"})
//
// Every entry point catches exceptions, so none crosses the C ABI: a sync
// handler that throws answers 500; an async hook that throws aborts its
// stream (or closes its WebSocket with 1011).
//
// Threading is that of pounce.h: handle() runs concurrently on all workers;
// the async and WebSocket hooks of one connection run on its owning loop;
// Stream and WebSocket methods may be called from any thread.
//
// Build plugins with -fvisibility=hidden -fno-gnu-unique (the SDK's CMake
// function pounce_add_plugin and pkg-config file carry both), so that a hot
// reload can unmap the old copy.
#ifndef POUNCE_POUNCE_HPP
#define POUNCE_POUNCE_HPP

#include <pounce/pounce.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pounce {

namespace detail {
// Set once by the entry function, before any other hook can run.
inline const pounce_host_api_t* g_host = nullptr;
}  // namespace detail

inline const pounce_host_api_t& host() {
  return *detail::g_host;
}

inline pounce_str_t to_c(std::string_view s) {
  return {s.data(), s.size()};
}
inline std::string_view to_sv(pounce_str_t s) {
  return s.data ? std::string_view(s.data, s.len) : std::string_view();
}

// Logs through the host, prefixed with the plugin's name. Any thread.
inline void log(void* instance, pounce_log_level_t level,
                std::string_view message) {
  host().log(instance, level, to_c(message));
}

struct Header {
  std::string_view name;
  std::string_view value;
};

struct Address {
  std::string host;  // numeric, e.g. "127.0.0.1"
  uint16_t port = 0;
};

// The TLS session of a request's connection (ABI 1.1, request_tls). The
// views are valid until the hook that received the request returns.
struct TlsInfo {
  std::string_view version;  // "TLSv1.3"
  std::string_view cipher;   // "TLS_AES_128_GCM_SHA256"
  std::string_view sni;      // empty when the client sent no server name
  std::string_view alpn;     // "http/1.1", "h2"; empty when none was agreed
  bool resumed = false;
  // Client certificates: all empty / false / 0 without one.
  bool client_cert = false;
  int32_t verify_result = 0;     // 0 (verified) or an X509_V_ERR_* code
  std::string_view verify_text;  // "ok" or OpenSSL's text for the code
  std::string_view subject;      // RFC 2253
  std::string_view issuer;       // RFC 2253
  std::string_view serial;       // hex, upper case
  std::string_view sha256;       // 64 hex digits, lower case
};

// A request, valid during the hook that received it.
class Request {
 public:
  explicit Request(const pounce_request_view_t* v) : v_(v) {}

  std::string_view method() const { return to_sv(v_->method); }
  std::string_view target() const { return to_sv(v_->target); }
  std::string_view path() const { return to_sv(v_->path); }
  std::string_view mount_prefix() const { return to_sv(v_->mount_prefix); }
  // The path below the mount; "/" when the path is the mount itself.
  std::string_view path_info() const {
    std::string_view p = to_sv(v_->path_info);
    return p.empty() ? std::string_view("/") : p;
  }
  std::string_view query() const { return to_sv(v_->query); }
  std::string_view body() const { return to_sv(v_->body); }
  // The HTTP version: 1 (HTTP/1.x), later 2; minor is 0 or 1 for HTTP/1.
  int version_major() const { return v_->version_major; }
  int version_minor() const { return v_->version_minor; }
  // "http" (later "https"); empty from a 1.0 host.
  std::string_view scheme() const {
    return POUNCE_HAS_FIELD(v_, pounce_request_view_t, scheme)
               ? to_sv(v_->scheme)
               : std::string_view();
  }
  // The Host header (HTTP/2: :authority); empty when absent or from a 1.0
  // host.
  std::string_view authority() const {
    return POUNCE_HAS_FIELD(v_, pounce_request_view_t, authority)
               ? to_sv(v_->authority)
               : std::string_view();
  }

  // The FIRST header called `name`, compared case-insensitively. A field
  // may occur several times (HTTP/2 may split Cookie): see header_values().
  std::optional<std::string_view> header(std::string_view name) const {
    pounce_str_t value;
    if (host().request_header(v_->handle, to_c(name), &value)) {
      return to_sv(value);
    }
    return std::nullopt;
  }
  // Every value of the header called `name`, in arrival order, compared
  // case-insensitively (names may arrive in any case; HTTP/2 lower case).
  std::vector<std::string_view> header_values(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const pounce_header_t& h : headers()) {
      std::string_view n = to_sv(h.name);
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return ascii_lower(a) == ascii_lower(b);
          })) {
        out.push_back(to_sv(h.value));
      }
    }
    return out;
  }
  // Every header in arrival order.
  std::span<const pounce_header_t> headers() const {
    return {v_->headers, v_->header_count};
  }
  std::span<const pounce_header_t> trailers() const {
    return {v_->trailers, v_->trailer_count};
  }
  // A query parameter's raw (still percent-encoded) value.
  std::optional<std::string_view> query_param(std::string_view key) const {
    std::string_view q = query();
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      size_t eq = pair.find('=');
      if (pair.substr(0, eq) == key) {
        return eq == std::string_view::npos ? std::string_view()
                                            : pair.substr(eq + 1);
      }
      if (amp == std::string_view::npos) break;
      q.remove_prefix(amp + 1);
    }
    return std::nullopt;
  }
  std::optional<Address> remote_address() const { return address(0); }
  std::optional<Address> local_address() const { return address(1); }
  // The connection's TLS session; std::nullopt on cleartext, and from a
  // host older than ABI 1.1 (which has no request_tls).
  std::optional<TlsInfo> tls() const {
    if (!POUNCE_HOST_HAS(&host(), request_tls)) return std::nullopt;
    pounce_tls_info_t t{};
    t.size = sizeof t;
    if (host().request_tls(v_->handle, &t) != 1) return std::nullopt;
    TlsInfo info;
    info.version = to_sv(t.version);
    info.cipher = to_sv(t.cipher);
    info.sni = to_sv(t.sni);
    info.alpn = to_sv(t.alpn);
    info.resumed = t.resumed != 0;
    info.client_cert = t.client_cert != 0;
    info.verify_result = t.verify_result;
    info.verify_text = to_sv(t.verify_text);
    info.subject = to_sv(t.client_subject);
    info.issuer = to_sv(t.client_issuer);
    info.serial = to_sv(t.client_serial);
    info.sha256 = to_sv(t.client_sha256);
    return info;
  }

  const pounce_request_view_t* c_view() const { return v_; }

 private:
  static char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::optional<Address> address(int which) const {
    pounce_addr_t a{};
    a.size = sizeof a;
    if (host().request_addr(v_->handle, which, &a) != POUNCE_OK) {
      return std::nullopt;
    }
    return Address{a.text, a.port};
  }
  const pounce_request_view_t* v_;
};

// A sync response; the host copies everything passed in.
class Response {
 public:
  explicit Response(pounce_response_t* r) : r_(r) {}
  Response& status(int code) {
    host().response_status(r_, code);
    return *this;
  }
  Response& header(std::string_view name, std::string_view value) {
    host().response_header(r_, to_c(name), to_c(value));
    return *this;
  }
  // Appends to the body.
  Response& body(std::string_view data) {
    host().response_body(r_, data.data(), data.size());
    return *this;
  }
  // 1.1: the body is `length` bytes of the open file `fd` from `offset`,
  // sent without copying (pounce.h: response_file). The host owns `fd`
  // from here on, and closes it even when this fails. Returns POUNCE_OK,
  // POUNCE_ERR_INVALID (the response becomes a 500), POUNCE_ERR_NOMEM, or
  // POUNCE_ERR_UNSUPPORTED from a host older than 1.1 (fd closed too).
  int file(int fd, uint64_t offset, uint64_t length) {
    if (!POUNCE_HOST_HAS(&host(), response_file)) {
      if (fd >= 0) ::close(fd);
      return POUNCE_ERR_UNSUPPORTED;
    }
    return host().response_file(r_, fd, offset, length);
  }

  // Sends a 103 Early Hints with `headers` now, before the final response
  // (ABI 1.1, response_early_hints: its rules and results).
  // POUNCE_ERR_UNSUPPORTED on a host without it.
  int early_hints(std::span<const Header> headers) {
    if (!POUNCE_HOST_HAS(&host(), response_early_hints)) {
      return POUNCE_ERR_UNSUPPORTED;
    }
    std::vector<pounce_header_t> h;
    h.reserve(headers.size());
    for (const Header& x : headers) h.push_back({to_c(x.name), to_c(x.value)});
    return host().response_early_hints(r_, h.data(), h.size());
  }
  int early_hints(std::initializer_list<Header> headers) {
    return early_hints(
        std::span<const Header>(headers.begin(), headers.size()));
  }

 private:
  pounce_response_t* r_;
};

// An async response stream. Methods may be called from any thread; after
// on_close they return POUNCE_ERR_CLOSED.
class Stream {
 public:
  Stream() = default;
  Stream(pounce_stream_t handle, void* user) : h_(handle), user_(user) {}

  pounce_stream_t handle() const { return h_; }
  explicit operator bool() const { return h_ != 0; }
  // The data attached with set_user (as passed to the hook).
  template <typename T>
  T* user() const {
    return static_cast<T*>(user_);
  }
  // Owning loop only. When the host refuses (POUNCE_ERR_STATE off the
  // loop, POUNCE_ERR_CLOSED after close) the old value stays, and `user` is
  // still the caller's to free.
  int set_user(void* user) {
    int rc = host().stream_set_user(h_, user);
    if (rc == POUNCE_OK) user_ = user;
    return rc;
  }

  // content_length < 0: unknown (chunked).
  int start(int status, std::initializer_list<Header> headers,
            int64_t content_length = -1) const {
    std::vector<pounce_header_t> h;
    h.reserve(headers.size());
    for (const Header& x : headers) h.push_back({to_c(x.name), to_c(x.value)});
    return host().stream_start(h_, status, h.data(), h.size(), content_length);
  }
  // POUNCE_OK, POUNCE_HIGH_WATER (wait for on_writable) or an error.
  int write(std::string_view data) const {
    return host().stream_write(h_, data.data(), data.size());
  }
  // 1.1: the next `length` bytes are the open file `fd`'s from `offset`
  // (pounce.h: stream_write_file). The host owns `fd` from here on, and
  // closes it even when this fails. Returns as write(), or
  // POUNCE_ERR_UNSUPPORTED (a compressed stream, or a host older than 1.1;
  // fd closed too).
  int write_file(int fd, uint64_t offset, uint64_t length) const {
    if (!POUNCE_HOST_HAS(&host(), stream_write_file)) {
      if (fd >= 0) ::close(fd);
      return POUNCE_ERR_UNSUPPORTED;
    }
    return host().stream_write_file(h_, fd, offset, length);
  }
  int end() const { return host().stream_end(h_, nullptr, 0); }
  int end(std::initializer_list<Header> trailers) const {
    std::vector<pounce_header_t> t;
    for (const Header& x : trailers) t.push_back({to_c(x.name), to_c(x.value)});
    return host().stream_end(h_, t.data(), t.size());
  }
  int abort() const { return host().stream_abort(h_); }

 private:
  pounce_stream_t h_ = 0;
  void* user_ = nullptr;
};

// An open WebSocket. Methods may be called from any thread.
class WebSocket {
 public:
  WebSocket() = default;
  WebSocket(pounce_ws_t handle, void* user) : h_(handle), user_(user) {}

  pounce_ws_t handle() const { return h_; }
  template <typename T>
  T* user() const {
    return static_cast<T*>(user_);
  }
  // As Stream::set_user: the old value stays when the host refuses.
  int set_user(void* user) {
    int rc = host().ws_set_user(h_, user);
    if (rc == POUNCE_OK) user_ = user;
    return rc;
  }
  int send_text(std::string_view text) const {
    return host().ws_send(h_, POUNCE_WS_TEXT, text.data(), text.size());
  }
  int send_binary(std::string_view data) const {
    return host().ws_send(h_, POUNCE_WS_BINARY, data.data(), data.size());
  }
  int send(pounce_ws_opcode_t op, std::string_view data) const {
    return host().ws_send(h_, op, data.data(), data.size());
  }
  int ping(std::string_view payload = {}) const {
    return host().ws_ping(h_, payload.data(), payload.size());
  }
  int close(uint16_t code = 1000, std::string_view reason = {}) const {
    return host().ws_close(h_, code, to_c(reason));
  }

 private:
  pounce_ws_t h_ = 0;
  void* user_ = nullptr;
};

// The upgrade decision, before the 101.
class WsUpgrade {
 public:
  explicit WsUpgrade(pounce_ws_upgrade_t* u) : u_(u) {}
  std::span<const pounce_str_t> offered_protocols() const {
    return {u_->offered_protocols, u_->offered_count};
  }
  // Picks the offered subprotocol at `index`.
  void choose_protocol(size_t index) {
    u_->chosen_protocol = static_cast<int32_t>(index);
  }
  // Refuses the upgrade with `status` (>= 400). Free what set_user
  // attached before returning: the host forgets it.
  void reject(int status) { u_->reject_status = status; }
  // Handed back by on_ws_close, or by on_ws_upgrade_abandoned when the
  // upgrade could not complete.
  void set_user(void* user) { u_->user = user; }

 private:
  pounce_ws_upgrade_t* u_;
};

// A timer on the loop that owns a stream or WebSocket. Start it on the
// owning loop (elsewhere start() returns false: the host's timer_start
// answers 0 off the loop). Destroying or stopping it cancels it; it is
// cancelled by the host when its owner closes, so keep it in the
// per-connection state.
//
// The callback may re-arm the timer (start() again: "retry later"), stop
// it, or destroy it (by freeing the state that holds it): the closure that
// is running, and everything it captured, stays alive until it returns.
//
// Destroying (or stopping) it from another thread is safe: the callback
// never runs after the destructor returned (the destructor waits for a
// callback that is running right now, so do not destroy a Timer while
// holding a lock its callback takes), and the host's timer is stopped on
// the owning loop's next turn.
class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() {
    if (!core_) return;  // never armed: the host never saw this Timer
    // The host answers POUNCE_ERR_STATE off the owning loop, which is how
    // the Timer learns which thread destroys it.
    pounce_timer_t last = last_id_;
    int rc = last ? host().timer_stop(last) : POUNCE_OK;
    if (rc != POUNCE_ERR_STATE) {
      // On the owning loop: the host let go of the timer. If fire() is on
      // the stack, it holds core_->mutex on this thread and frees core_.
      core_->timer = nullptr;
      if (firing_) {
        firing_->destroyed = true;
      } else {
        delete core_;
      }
      return;
    }
    // Another thread: the host may fire the timer until the loop stops it.
    // Unhook it first, waiting out a callback that runs right now...
    {
      std::lock_guard<std::mutex> lock(core_->mutex);
      core_->timer = nullptr;
    }
    // ...then stop it and free the core on the loop, after which the host
    // never passes it again. A refused post means the owner is gone, and
    // with it (before its handle died) every timer it had.
    Core* core = core_;
    struct Stop {
      Core* core;
      pounce_timer_t id;
    };
    auto* stop = new Stop{core, last};
    int posted = host().post(
        owner_,
        [](void* p) {
          auto* st = static_cast<Stop*>(p);
          host().timer_stop(st->id);
          delete st->core;
          delete st;
        },
        stop);
    if (posted != POUNCE_OK) {
      delete stop;
      delete core;
    }
  }

  bool start(uint64_t owner, uint64_t delay_ms, uint64_t repeat_ms,
             std::function<void()> fn) {
    stop();
    if (!core_) core_ = new Core(this);
    // From inside the callback, fn_ is empty (fire() holds the running
    // closure), so this assignment destroys nothing that is running.
    fn_ = std::move(fn);
    repeating_ = repeat_ms != 0;
    ++arms_;
    owner_ = owner;
    id_ = host().timer_start(owner, delay_ms, repeat_ms, &Timer::fire, core_);
    if (id_) last_id_ = id_;
    return id_ != 0;
  }
  // From another thread the stop is queued to the loop: the callback may
  // still run once before it lands.
  void stop() {
    if (id_ && host().timer_stop(id_) == POUNCE_ERR_STATE) {
      pounce_timer_t id = id_;
      static_assert(sizeof(void*) >= sizeof(pounce_timer_t));
      host().post(
          owner_,
          [](void* p) {
            host().timer_stop(
                static_cast<pounce_timer_t>(reinterpret_cast<uintptr_t>(p)));
          },
          reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
    }
    id_ = 0;
  }
  bool active() const { return id_ != 0; }

 private:
  // What the host holds as the timer's `user`: it outlives the Timer until
  // the host can no longer fire it.
  struct Core {
    explicit Core(Timer* t) : timer(t) {}
    Timer* timer;  // nullptr once the Timer is gone; guarded by `mutex`
    // Held by fire() for the whole callback and by a destructor on another
    // thread while it unhooks `timer`: the one place two threads meet.
    std::mutex mutex;
  };
  // What fire() must know after the callback, which may have destroyed the
  // Timer: it lives on fire()'s stack.
  struct Firing {
    bool destroyed = false;
  };

  static void fire(void* p, pounce_timer_t) {
    auto* core = static_cast<Core*>(p);
    std::unique_lock<std::mutex> lock(core->mutex);
    Timer* t = core->timer;
    if (!t) return;  // destroyed on another thread; the loop stops it next
    if (!t->repeating_) t->id_ = 0;
    // The callback runs from this local: whatever it does to the Timer
    // (start() replacing fn_, the destructor) cannot free it mid-call.
    std::function<void()> running = std::move(t->fn_);
    t->fn_ = nullptr;
    const uint64_t arms = t->arms_;
    Firing firing;
    t->firing_ = &firing;
    try {
      running();
    } catch (...) {
      // A timer callback has nobody to report to; swallowing keeps the
      // exception from crossing the C ABI.
    }
    if (firing.destroyed) {
      // Destroyed on this loop by the callback: the core is ours to free.
      lock.unlock();
      delete core;
      return;  // `running` is freed here, after the call
    }
    t->firing_ = nullptr;
    // Still the same arming: a repeating timer keeps its closure. A re-armed
    // timer already has its new one; a stopped or fired one-shot timer never
    // calls it again, so its captures are released here.
    if (t->arms_ == arms && t->id_ != 0) t->fn_ = std::move(running);
  }
  pounce_timer_t id_ = 0;
  pounce_timer_t last_id_ = 0;  // the last armed id, even after stop()
  uint64_t owner_ = 0;
  bool repeating_ = false;
  uint64_t arms_ = 0;  // start() calls, to tell a re-arm from the callback
  Firing* firing_ = nullptr;
  Core* core_ = nullptr;
  std::function<void()> fn_;
};

// Runs fn on the loop that owns `owner`. Any thread. The closure is freed
// after it ran, or at once when the owner is gone (returns false then).
inline bool post(uint64_t owner, std::function<void()> fn) {
  auto* heap = new std::function<void()>(std::move(fn));
  int rc = host().post(
      owner,
      [](void* p) {
        auto* f = static_cast<std::function<void()>*>(p);
        try {
          (*f)();
        } catch (...) {
        }
        delete f;
      },
      heap);
  if (rc != POUNCE_OK) {
    delete heap;
    return false;
  }
  return true;
}

struct InitArgs {
  std::string_view config_json;
  std::string_view mount_prefix;
  uint32_t workers;
  uint32_t async_threads;
  uint64_t generation;
  // The host's own struct, for calls that take it (Metric::define).
  const pounce_init_args_t* raw = nullptr;
};

// A plugin-defined metric (ABI 1.1), shown by the host's /metrics with a
// `mount` label. Define it in the plugin's constructor (from its InitArgs);
// update it from any thread. Label values go in the order of the names.
class Metric {
 public:
  Metric() = default;
  // std::nullopt from a host older than ABI 1.1, or when the host refused
  // the definition (it logs why).
  static std::optional<Metric> define(
      const InitArgs& args, pounce_metric_type_t type, const char* name,
      const char* help, std::initializer_list<const char*> label_names = {},
      std::initializer_list<double> buckets = {}) {
    if (!args.raw || !POUNCE_HOST_HAS(&host(), metric_define)) {
      return std::nullopt;
    }
    pounce_metric_def_t def{};
    def.size = sizeof def;
    def.type = type;
    def.name = name;
    def.help = help;
    def.label_names = label_names.begin();
    def.label_count = label_names.size();
    def.buckets = buckets.begin();
    def.bucket_count = buckets.size();
    Metric m;
    if (host().metric_define(args.raw, &def, &m.m_) != POUNCE_OK) {
      return std::nullopt;
    }
    return m;
  }
  bool add(double value,
           std::initializer_list<std::string_view> labels = {}) const {
    return call(host().metric_add, value, labels);
  }
  bool set(double value,
           std::initializer_list<std::string_view> labels = {}) const {
    return call(host().metric_set, value, labels);
  }
  bool observe(double value,
               std::initializer_list<std::string_view> labels = {}) const {
    return call(host().metric_observe, value, labels);
  }

 private:
  using Fn = int (*)(pounce_metric_t*, const pounce_str_t*, size_t, double);
  bool call(Fn fn, double value,
            std::initializer_list<std::string_view> labels) const {
    if (!m_ || labels.size() > 8) return false;
    pounce_str_t v[8];
    size_t n = 0;
    for (std::string_view l : labels) v[n++] = {l.data(), l.size()};
    return fn(m_, v, n, value) == POUNCE_OK;
  }
  pounce_metric_t* m_ = nullptr;
};

struct RouteInfo {
  const char* prefix;
  pounce_mode_t mode;
};

struct PluginInfo {
  const char* name = "plugin";
  const char* version = "0.0.0";
  // POUNCE_MODE_SYNC, POUNCE_MODE_ASYNC or POUNCE_MODE_BLOCKING (handle()
  // on the host's blocking pool); `routes` may override it per prefix.
  pounce_mode_t mode = POUNCE_MODE_SYNC;
  // Set when the plugin overrides the WebSocket hooks.
  bool websocket = false;
  std::initializer_list<RouteInfo> routes = {};
};

// The base of a C++ plugin. One object per mount (the instance).
class Plugin {
 public:
  virtual ~Plugin() = default;

  // Sync mode: a worker thread, concurrently on all workers. Blocking mode:
  // a thread of the host's blocking pool, concurrently on all of them; it
  // may block (its worker serves other connections meanwhile).
  virtual void handle(const Request&, Response& res) { res.status(404); }

  // Async mode, on the owning loop.
  virtual void on_request(Stream stream, const Request&) {
    stream.start(404, {{"Content-Type", "text/plain"}}, 10);
    stream.write("Not Found\n");
    stream.end();
  }
  virtual void on_body(Stream, std::string_view, bool) {}
  virtual void on_writable(Stream) {}
  virtual void on_close(Stream, pounce_close_reason_t) {}

  // WebSocket (set PluginInfo::websocket), on the owning loop.
  virtual void on_ws_upgrade(const Request&, WsUpgrade&) {}
  virtual void on_ws_open(WebSocket) {}
  virtual void on_ws_message(WebSocket, pounce_ws_opcode_t, std::string_view) {}
  virtual void on_ws_close(WebSocket, uint16_t, std::string_view) {}
  virtual void on_ws_writable(WebSocket) {}
  // The upgrade was accepted but could not complete (ABI 1.1): free what
  // WsUpgrade::set_user attached. Not called by a 1.0 host.
  virtual void on_ws_upgrade_abandoned(void* /*user*/) {}

  // Main thread.
  virtual void on_draining(pounce_drain_reason_t, uint64_t) {}

  // Logs with this instance's plugin name.
  void log(pounce_log_level_t level, std::string_view message) {
    pounce::log(this, level, message);
  }
};

namespace detail {

template <typename T>
struct Adapter {
  static Plugin* self(void* instance) { return static_cast<Plugin*>(instance); }

  static void* init(const pounce_init_args_t* a) {
    try {
      InitArgs args{to_sv(a->config_json), to_sv(a->mount_prefix), a->workers,
                    a->async_threads,      a->generation,          a};
      return static_cast<Plugin*>(new T(args));
    } catch (const std::exception& e) {
      if (a->error && a->error_cap)
        snprintf(a->error, a->error_cap, "%s", e.what());
    } catch (...) {
      if (a->error && a->error_cap)
        snprintf(a->error, a->error_cap, "exception");
    }
    return nullptr;
  }
  static void shutdown(void* instance) {
    try {
      delete self(instance);
    } catch (...) {
    }
  }
  static void on_draining(void* instance, pounce_drain_reason_t reason,
                          uint64_t deadline_ns) {
    try {
      self(instance)->on_draining(reason, deadline_ns);
    } catch (...) {
    }
  }
  static int on_handle(void* instance, const pounce_request_view_t* req,
                       pounce_response_t* res) {
    try {
      Response r(res);
      self(instance)->handle(Request(req), r);
      return 0;
    } catch (const std::exception& e) {
      log(instance, POUNCE_LOG_ERROR,
          std::string("handler threw: ") + e.what());
    } catch (...) {
      log(instance, POUNCE_LOG_ERROR, "handler threw");
    }
    return 1;  // the host answers 500
  }
  static int on_request(void* instance, pounce_stream_t s,
                        const pounce_request_view_t* req) {
    try {
      self(instance)->on_request(Stream(s, nullptr), Request(req));
      return 0;
    } catch (const std::exception& e) {
      log(instance, POUNCE_LOG_ERROR,
          std::string("on_request threw: ") + e.what());
    } catch (...) {
      log(instance, POUNCE_LOG_ERROR, "on_request threw");
    }
    host().stream_abort(s);
    return 0;
  }
  static void on_body(void* instance, pounce_stream_t s, void* user,
                      const void* data, size_t len, int last) {
    try {
      self(instance)->on_body(
          Stream(s, user),
          std::string_view(static_cast<const char*>(data), len), last != 0);
    } catch (...) {
      host().stream_abort(s);
    }
  }
  static void on_writable(void* instance, pounce_stream_t s, void* user) {
    try {
      self(instance)->on_writable(Stream(s, user));
    } catch (...) {
      host().stream_abort(s);
    }
  }
  static void on_close(void* instance, pounce_stream_t s, void* user,
                       pounce_close_reason_t reason) {
    try {
      self(instance)->on_close(Stream(s, user), reason);
    } catch (...) {
    }
  }
  static int on_ws_upgrade(void* instance, const pounce_request_view_t* req,
                           pounce_ws_upgrade_t* up) {
    try {
      WsUpgrade u(up);
      self(instance)->on_ws_upgrade(Request(req), u);
      return 0;
    } catch (...) {
      up->reject_status = 500;
      return 0;
    }
  }
  static void on_ws_open(void* instance, pounce_ws_t ws, void* user) {
    try {
      self(instance)->on_ws_open(WebSocket(ws, user));
    } catch (...) {
      host().ws_close(ws, 1011, to_c("internal error"));
    }
  }
  static void on_ws_message(void* instance, pounce_ws_t ws, void* user,
                            pounce_ws_opcode_t op, const void* data,
                            size_t len) {
    try {
      self(instance)->on_ws_message(
          WebSocket(ws, user), op,
          std::string_view(static_cast<const char*>(data), len));
    } catch (...) {
      host().ws_close(ws, 1011, to_c("internal error"));
    }
  }
  static void on_ws_close(void* instance, pounce_ws_t ws, void* user,
                          uint16_t code, pounce_str_t reason) {
    try {
      self(instance)->on_ws_close(WebSocket(ws, user), code, to_sv(reason));
    } catch (...) {
    }
  }
  static void on_ws_writable(void* instance, pounce_ws_t ws, void* user) {
    try {
      self(instance)->on_ws_writable(WebSocket(ws, user));
    } catch (...) {
      host().ws_close(ws, 1011, to_c("internal error"));
    }
  }

  static void on_ws_upgrade_abandoned(void* instance, void* user) {
    try {
      self(instance)->on_ws_upgrade_abandoned(user);
    } catch (...) {
    }
  }

  static const pounce_plugin_t* descriptor(const PluginInfo& info) {
    static std::vector<pounce_route_mode_t> routes;
    static pounce_plugin_t d{};
    routes.clear();
    for (const RouteInfo& r : info.routes) {
      routes.push_back(
          {{r.prefix, std::char_traits<char>::length(r.prefix)}, r.mode});
    }
    // POUNCE_PLUGIN_MIN_HOST_MINOR 0 keeps the descriptor 1.0-sized, as a
    // 1.0 host requires; the 1.1 hooks are then absent.
    d.size = POUNCE_PLUGIN_SIZE;
    d.name = {info.name, std::char_traits<char>::length(info.name)};
    d.version = {info.version, std::char_traits<char>::length(info.version)};
    d.mode = info.mode;
    d.routes = routes.data();
    d.route_count = routes.size();
    d.init = &init;
    d.shutdown = &shutdown;
    d.on_draining = &on_draining;
    d.on_handle = &on_handle;
    d.on_request = &on_request;
    d.on_body = &on_body;
    d.on_writable = &on_writable;
    d.on_close = &on_close;
    if (info.websocket) {
      d.on_ws_upgrade = &on_ws_upgrade;
      d.on_ws_open = &on_ws_open;
      d.on_ws_message = &on_ws_message;
      d.on_ws_close = &on_ws_close;
      d.on_ws_writable = &on_ws_writable;
#if POUNCE_PLUGIN_MIN_HOST_MINOR >= 1
      d.on_ws_upgrade_abandoned = &on_ws_upgrade_abandoned;
#endif
    }
    return &d;
  }
};

}  // namespace detail
}  // namespace pounce

// Registers `Class` (derived from pounce::Plugin, constructible from
// const pounce::InitArgs&) as this shared object's plugin. Use once.
#define POUNCE_CPP_PLUGIN(Class, ...)                                  \
  POUNCE_DECLARE_PLUGIN_ABI();                                         \
  extern "C" POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry( \
      const pounce_host_api_t* h) {                                    \
    ::pounce::detail::g_host = h;                                      \
    return ::pounce::detail::Adapter<Class>::descriptor(__VA_ARGS__);  \
  }

#endif  // POUNCE_POUNCE_HPP
