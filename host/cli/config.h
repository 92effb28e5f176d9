// The frozen configuration: built once from the command line and the optional
// JSON file, then shared read-only by every thread (ARCHITECTURE.md §3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "log/logger.h"

namespace pounce {

enum class AcceptMode { Auto, ReusePort, Distributor };

struct PluginSpec {
  bool operator==(const PluginSpec&) const = default;
  std::string prefix;  // normalized: starts with '/', no trailing '/'
                       // except the root "/"
  std::string path;    // the .so path as given
};

// One --static mount: PREFIX=DIR (host/static/, docs/static-files.md).
struct StaticSpec {
  bool operator==(const StaticSpec&) const = default;
  std::string prefix;  // normalized, as PluginSpec's
  std::string dir;     // as given
};

// One listening address (--listen, or --host/--port): every worker serves
// every listener.
struct ListenSpec {
  bool operator==(const ListenSpec&) const = default;
  bool tls = false;   // https://
  std::string host;   // without brackets: "127.0.0.1", "::1"
  uint16_t port = 0;  // 0: the kernel picks, once per listener
  // unix:PATH (cleartext HTTP over a Unix stream socket); host and port are
  // then unused.
  std::string unix_path;
  // ?fd-name=NAME: under socket activation, the inherited socket whose
  // LISTEN_FDNAMES entry (FileDescriptorName= in the .socket unit) is NAME.
  std::string fd_name;
  // ?proxy-protocol=1: every connection starts with a PROXY protocol header
  // (v1 or v2) whose source address becomes the client's.
  bool proxy_protocol = false;
  bool is_unix() const { return !unix_path.empty(); }
  // "https://127.0.0.1:8443" with the given port (or `real_port` when set);
  // "unix:/run/pounce.sock" for a Unix socket.
  std::string url(uint16_t real_port = 0) const;
  // The text parse_listen_url reads back: url() plus the query options.
  std::string text() const;
};

// Parses "http://HOST:PORT", "https://HOST:PORT" ("[::1]" for IPv6) or
// "unix:PATH", each optionally followed by options as a query:
// "?fd-name=NAME&proxy-protocol=1".
bool parse_listen_url(const std::string& text, ListenSpec* out,
                      std::string* error);

enum class TlsClientAuth { None, Optional, Required };

struct Config {
  std::vector<PluginSpec> plugins;
  // Per-prefix JSON text for init(); mounts without one get "{}".
  std::vector<std::pair<std::string, std::string>> plugin_configs;
  std::string config_file;
  // Static file mounts; they route with the plugins' (longest prefix wins).
  std::vector<StaticSpec> statics;
  std::string static_cache_control = "public, max-age=3600";
  bool static_follow_symlinks = false;
  // Open files kept per worker (0: none, every request opens its file).
  uint64_t static_cache_entries = 1024;
  // Whether the plugin entries came from the command line, which a reload
  // does not override with the file's entries.
  bool plugins_from_cli = false;
  bool plugin_configs_from_cli = false;
  // The command-line values as JSON, merged again over the file on reload.
  std::string cli_json = "{}";

  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  // Resolved by validate(): the --listen URLs, or one listener made of
  // --host/--port (https when --tls-cert is given). Never empty.
  std::vector<ListenSpec> listens;
  bool listen_from_cli = false;  // --listen was given

  // TLS (host/tls/). Certificates and keys pair up in order; the first pair
  // is the default, the others are chosen by SNI. `tls_ocsp` entries pair up
  // with the certificates too ("" = none). Re-read on SIGHUP.
  std::vector<std::string> tls_certs;
  std::vector<std::string> tls_keys;
  std::vector<std::string> tls_ocsp;
  std::string tls_min_version = "1.2";  // "1.2" or "1.3"
  std::string tls_ciphers;       // TLS 1.2 cipher list; "" = intermediate
  std::string tls_ciphersuites;  // TLS 1.3 suites; "" = OpenSSL's defaults
  std::string tls_client_ca;
  TlsClientAuth tls_client_auth = TlsClientAuth::None;
  uint64_t tls_ticket_rotation_ms = 3600000;
  bool tls_session_tickets = true;
  bool tls_allow_expired = false;

  // Behind load balancers (pipeline/admission.h). Forwarding headers are
  // believed only from these peers ("" = none), for this many hops.
  std::string forwarded_allow_ips;
  unsigned forwarded_hops = 1;
  // --proxy-protocol: the default listener (--host/--port) expects a PROXY
  // protocol header; --listen entries say it with ?proxy-protocol=1.
  bool proxy_protocol = false;
  // Requests per second per client (0 = off), the bucket (0 = 2 × the
  // rate), and the clients remembered.
  uint64_t rate_limit = 0;
  uint64_t rate_limit_burst = 0;
  uint64_t rate_limit_table = 100000;
  // X-Request-ID: kept from a trusted peer, else generated; in the
  // response, the access log and request_header().
  bool request_id = true;
  // Whether any listener is https (then certificates are required).
  bool any_tls() const;
  unsigned workers = 1;  // resolved: 0 on the command line = CPU count
  unsigned async_threads = 1;
  // The pool that runs POUNCE_MODE_BLOCKING handlers, and how many requests
  // may wait for it before the host answers 503 BLOCKING_QUEUE_FULL.
  unsigned blocking_threads = 16;
  uint64_t blocking_queue = 1024;
  AcceptMode accept_mode = AcceptMode::Auto;
  bool cpu_affinity = false;
  int backlog = 2048;
  uint64_t max_connections = 10000;

  // Timeouts, in milliseconds (given in seconds; fractions allowed).
  uint64_t keep_alive_timeout_ms = 5000;
  uint64_t header_timeout_ms = 10000;
  uint64_t request_timeout_ms = 30000;
  uint64_t write_timeout_ms = 30000;
  uint64_t shutdown_timeout_ms = 10000;
  uint64_t reload_timeout_ms = 30000;

  size_t max_header_size = 16384;
  size_t max_headers = 100;
  uint64_t max_body_size = 1048576;
  size_t stream_high_water = 65536;
  size_t stream_max_buffer = 1048576;

  // HTTP/2 (host/h2/, docs/http2.md): ALPN h2 on https listeners, h2c with
  // prior knowledge on cleartext ones, and the SETTINGS the server sends.
  bool http2 = true;
  uint32_t h2_max_concurrent_streams = 100;
  uint32_t h2_initial_window_size = 65535;
  uint32_t h2_max_frame_size = 16384;
  // 0 on the command line: the same as max_header_size (validate() sets it).
  size_t h2_max_header_list_size = 0;

  bool compression = true;
  size_t compression_min_size = 500;
  // Levels of response compression (sync, blocking and streamed). gzip 1
  // as nginx's gzip_comp_level: level 6 spent 2.6x nginx's CPU on a 58 KiB
  // JSON body for 4% less output (issue 15, docs/performance.md).
  int gzip_level = 1;
  int zstd_level = 3;
  bool server_timing = false;

  uint64_t ws_max_message_size = 16777216;
  uint64_t ws_ping_interval_ms = 30000;
  bool ws_compression = true;
  // Small messages dominate WebSocket traffic: level 6 spends 3x the CPU of
  // level 1 on a 512-byte JSON message for a few percent of size
  // (docs/performance.md). nginx's gzip_comp_level defaults to 1 too.
  int ws_compression_level = 1;
  // An unfinished (fragmented) message must end within this (0 = no limit).
  uint64_t ws_message_timeout_ms = 60000;
  // Per async loop: bytes of message buffers beyond each socket's small
  // retained one, summed over its WebSockets (host/ws/message_budget.h).
  uint64_t ws_buffer_budget = 67108864;

  // A parent process owns the sockets and restarts the serving process
  // (host/server/supervisor.h).
  bool supervise = true;
  // The longest wait before restarting a child that died before it was ready.
  uint64_t restart_backoff_max_ms = 30000;

  // The admin listener (host/admin/): "" = off, else its URL as given;
  // `admin` is that URL parsed. Never https.
  std::string admin_listen;
  // Whether anything reads request durations (the access log, Server-Timing,
  // the metrics of the admin listener): then each request is timed.
  bool times_requests() const {
    return access_log || server_timing || !admin_listen.empty();
  }
  ListenSpec admin;
  // After SIGTERM, how long the host keeps serving new requests with
  // /readyz already 503, before the drain begins (a preStop delay).
  uint64_t drain_delay_ms = 0;
  // Answered on the main listeners like /readyz ("" = off); normalized.
  std::string health_check_path;
  // The mode of the Unix socket files the host creates (--uds-mode).
  unsigned uds_mode = 0660;

  bool access_log = true;
  // "combined" (today's line) or a template of $variables
  // (host/log/access_format.h), checked by the options parser.
  std::string access_log_format = "combined";
  // --access-log-file / --error-log-file: "" = stdout / stderr
  // (host/log/log_files.h).
  std::string access_log_file;
  std::string error_log_file;
  log::Level log_level = log::Level::Info;

  bool operator==(const Config&) const = default;

  // The JSON text given to init() for the mount at `prefix`.
  const std::string& plugin_config_for(const std::string& prefix) const;
};

// Turns "PREFIX=DIR" into a StaticSpec. Returns false with *error set when
// the prefix is malformed or the directory is missing.
bool parse_static_spec(const std::string& text, StaticSpec* out,
                       std::string* error);

// Turns "[PREFIX=]PATH" into a PluginSpec. Returns false with *error set when
// the prefix is malformed.
bool parse_plugin_spec(const std::string& text, PluginSpec* out,
                       std::string* error);

// Normalizes a mount prefix: "/api/" -> "/api", "" -> "/". Returns false
// when it does not start with '/' or holds a dot segment.
bool normalize_mount_prefix(const std::string& text, std::string* out);

}  // namespace pounce
