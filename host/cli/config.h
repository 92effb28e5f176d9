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

struct Config {
  std::vector<PluginSpec> plugins;
  // Per-prefix JSON text for init(); mounts without one get "{}".
  std::vector<std::pair<std::string, std::string>> plugin_configs;
  std::string config_file;
  // Whether the plugin entries came from the command line, which a reload
  // does not override with the file's entries.
  bool plugins_from_cli = false;
  bool plugin_configs_from_cli = false;
  // The command-line values as JSON, merged again over the file on reload.
  std::string cli_json = "{}";

  std::string host = "127.0.0.1";
  uint16_t port = 8000;
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

  bool compression = true;
  size_t compression_min_size = 500;
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

  bool access_log = true;
  log::Level log_level = log::Level::Info;

  bool operator==(const Config&) const = default;

  // The JSON text given to init() for the mount at `prefix`.
  const std::string& plugin_config_for(const std::string& prefix) const;
};

// Turns "[PREFIX=]PATH" into a PluginSpec. Returns false with *error set when
// the prefix is malformed.
bool parse_plugin_spec(const std::string& text, PluginSpec* out,
                       std::string* error);

// Normalizes a mount prefix: "/api/" -> "/api", "" -> "/". Returns false
// when it does not start with '/' or holds a dot segment.
bool normalize_mount_prefix(const std::string& text, std::string* out);

}  // namespace pounce
