#include "cli/options.h"
#include "http/forwarded.h"

#include <pounce/pounce.h>
#include <sched.h>
#include <sys/un.h>

#include <nlohmann/json.hpp>
#include "cli/cxxopts_include.h"
#include "log/access_format.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

namespace pounce {

namespace {

using nlohmann::json;

enum class Kind {
  Bool,     // --x / --no-x
  Text,     // any string
  Count,    // unsigned integer
  Seconds,  // non-negative number, fractions allowed
  Bytes,    // unsigned 64-bit integer
  List,     // repeatable string
};

struct OptionDef {
  const char* flag;
  Kind kind;
  const char* default_text;
  const char* help;
  // The accepted range of a number, inclusive: Count and Bytes in their
  // unit, Seconds in milliseconds. Every number has one, so that a value the
  // code was never meant to run with (a high-water mark of 1, which no
  // queue can drain below half of) stops the start with a message instead.
  uint64_t min = 0;
  uint64_t max = 0;
};

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kDayMs = 86400 * 1000;

// The one table of flags. The defaults in Config must match default_text,
// and docs/configuration.md lists the same rows.
constexpr OptionDef kOptions[] = {
    {"plugin", Kind::List, "", "Mount a plugin: [PREFIX=]PATH (repeatable)"},
    {"plugin-config", Kind::List, "{}",
     "JSON config for the plugin at PREFIX: PREFIX=JSON (repeatable)"},
    {"config", Kind::Text, "", "Read options from a JSON file"},
    {"static", Kind::List, "",
     "Serve the files of DIR at PREFIX: PREFIX=DIR (repeatable)"},
    {"static-cache-control", Kind::Text, "public, max-age=3600",
     "Cache-Control of static files (\"\" = none)"},
    {"static-follow-symlinks", Kind::Bool, "off",
     "Follow symlinks that leave a --static directory"},
    {"static-cache-entries", Kind::Count, "1024",
     "Open static files kept per worker (0 = none)", 0, 1000000},
    {"listen", Kind::List, "",
     "Listen on http://HOST:PORT or https://HOST:PORT (repeatable; replaces "
     "--host/--port)"},
    {"host", Kind::Text, "127.0.0.1", "Address to listen on"},
    {"port", Kind::Count, "8000", "Port to listen on (0 = any free port)", 0,
     65535},
    {"workers", Kind::Count, "1", "Worker threads (0 = number of CPUs)", 0,
     254},
    {"async-threads", Kind::Count, "1", "Async pool threads", 1, 254},
    {"blocking-threads", Kind::Count, "16",
     "Threads that run blocking-mode handlers", 1, 1024},
    {"blocking-queue", Kind::Count, "1024",
     "Blocking requests that may wait for a thread (then 503)", 0, 1000000},
    {"accept-mode", Kind::Text, "auto", "auto | reuseport | distributor"},
    {"cpu-affinity", Kind::Bool, "off",
     "Pin workers, then async threads, to the allowed CPUs"},
    {"backlog", Kind::Count, "2048", "listen() backlog", 1, 1 << 20},
    {"max-connections", Kind::Count, "10000",
     "Open connections, split across workers", 1, 100000000},
    {"keep-alive-timeout", Kind::Seconds, "5",
     "Seconds idle before the next request starts", 0, kDayMs},
    {"header-timeout", Kind::Seconds, "10",
     "Seconds from a head's first byte to its end", 1, kDayMs},
    {"request-timeout", Kind::Seconds, "30",
     "Seconds without body progress; async response-start limit", 1, kDayMs},
    {"write-timeout", Kind::Seconds, "30", "Seconds without write progress", 1,
     kDayMs},
    {"shutdown-timeout", Kind::Seconds, "10", "Seconds to drain on SIGTERM", 0,
     kDayMs},
    {"reload-timeout", Kind::Seconds, "30",
     "Seconds an old plugin generation may drain", 0, kDayMs},
    {"max-header-size", Kind::Bytes, "16384",
     "Bytes of request line + headers (and, separately, of trailers)", 64,
     16 * kMiB},
    {"max-headers", Kind::Count, "100", "Header fields per request", 1, 65535},
    {"max-body-size", Kind::Bytes, "1048576", "Bytes of request body", 0, kGiB},
    {"stream-high-water", Kind::Bytes, "65536",
     "Queued bytes before a stream write reports backpressure", 256, kGiB},
    {"stream-max-buffer", Kind::Bytes, "1048576",
     "Queued bytes past which a stream is closed", 256, kGiB},
    {"http2", Kind::Bool, "on",
     "HTTP/2: ALPN h2 on https listeners, h2c with prior knowledge on http "
     "ones"},
    {"h2-max-concurrent-streams", Kind::Count, "100",
     "HTTP/2 streams a client may have open at once", 1, 1u << 20},
    {"h2-initial-window-size", Kind::Bytes, "65535",
     "HTTP/2 flow-control window of each request stream", 1, 2147483647},
    {"h2-max-frame-size", Kind::Bytes, "16384",
     "Largest HTTP/2 frame payload the server accepts", 16384, 16777215},
    {"h2-max-header-list-size", Kind::Bytes, "",
     "Bytes of an HTTP/2 request's decoded header list (default and 0: "
     "--max-header-size)",
     0, 16 * kMiB},
    {"compression", Kind::Bool, "on", "zstd/gzip response compression"},
    {"compression-min-size", Kind::Bytes, "500",
     "Smaller known-length bodies are not compressed", 0, kGiB},
    {"gzip-level", Kind::Count, "1",
     "gzip level of response compression, 1 (fastest) to 9", 1, 9},
    {"zstd-level", Kind::Count, "3",
     "zstd level of response compression, 1 (fastest) to 19", 1, 19},
    {"server-timing", Kind::Bool, "off", "Add a Server-Timing header"},
    {"ws-max-message-size", Kind::Bytes, "16777216",
     "WebSocket message bytes, after decompression", 125, kGiB},
    {"ws-ping-interval", Kind::Seconds, "30",
     "Seconds between server pings (0 = off)", 0, kDayMs},
    {"ws-compression", Kind::Bool, "on", "WebSocket permessage-deflate"},
    {"ws-compression-level", Kind::Count, "1",
     "zlib level of WebSocket deflate, 1 (fastest) to 9", 1, 9},
    {"ws-message-timeout", Kind::Seconds, "60",
     "Seconds a fragmented WebSocket message may take to finish (0 = off)", 0,
     kDayMs},
    {"ws-buffer-budget", Kind::Bytes, "67108864",
     "Bytes of unfinished WebSocket messages buffered per async thread", kMiB,
     64 * kGiB},
    {"tls-cert", Kind::List, "",
     "PEM certificate chain (repeatable, paired with --tls-key in order; "
     "the first is the default, the others are chosen by SNI)"},
    {"tls-key", Kind::List, "",
     "PEM private key of the --tls-cert at the "
     "same position (repeatable)"},
    {"tls-ocsp", Kind::List, "",
     "DER OCSP response stapled for the --tls-cert at the same position "
     "(repeatable; \"\" for none)"},
    {"tls-min-version", Kind::Text, "1.2", "1.2 | 1.3"},
    {"tls-ciphers", Kind::Text, "",
     "TLS 1.2 cipher list (OpenSSL syntax; default: intermediate profile)"},
    {"tls-ciphersuites", Kind::Text, "",
     "TLS 1.3 cipher suites (OpenSSL syntax; default: OpenSSL's)"},
    {"tls-client-ca", Kind::Text, "",
     "PEM CA certificates that client certificates are verified against"},
    {"tls-client-auth", Kind::Text, "none", "none | optional | required"},
    {"tls-ticket-rotation", Kind::Seconds, "3600",
     "Seconds between session ticket key rotations", 1000, 30 * kDayMs},
    {"tls-session-tickets", Kind::Bool, "on",
     "TLS session tickets (TLS 1.3 and 1.2) for resumption"},
    {"tls-allow-expired", Kind::Bool, "off",
     "An expired certificate is a warning instead of a startup error"},
    {"forwarded-allow-ips", Kind::Text, "",
     "Peers (addresses, CIDR ranges, \"unix\") whose X-Forwarded-For, "
     "X-Forwarded-Proto, Forwarded and X-Request-ID are believed"},
    {"proxy-protocol", Kind::Bool, "off",
     "The default listener expects a PROXY protocol header (v1 or v2) first; "
     "--listen entries: ?proxy-protocol=1"},
    {"forwarded-hops", Kind::Count, "1",
     "How many trusted proxies stand in front: the client is the Nth "
     "address from the right",
     1, 64},
    {"rate-limit", Kind::Count, "0",
     "Requests per second per client address (0 = off); over it: 429", 0,
     10000000},
    {"rate-limit-burst", Kind::Count, "0",
     "Requests a client may make at once (0 = twice --rate-limit)", 0,
     100000000},
    {"rate-limit-table", Kind::Count, "100000",
     "Client addresses the rate limit remembers (least recent forgotten)", 16,
     100000000},
    {"request-id", Kind::Bool, "on",
     "X-Request-ID on every response (kept from a trusted peer, else "
     "generated)"},
    {"access-log", Kind::Bool, "on", "One line per request on stdout"},
    {"access-log-format", Kind::Text, "combined",
     "combined, or a template of $variables such as $tls_version "
     "(docs/configuration.md)"},
    {"access-log-file", Kind::Text, "",
     "Append the access log to this file instead of stdout (SIGUSR1 "
     "reopens it)"},
    {"error-log-file", Kind::Text, "",
     "Append the error log to this file instead of stderr (SIGUSR1 reopens "
     "it)"},
    {"supervise", Kind::Bool, "on",
     "Run the server as the child of a supervisor that restarts it"},
    {"restart-backoff-max", Kind::Seconds, "30",
     "Longest wait before restarting a child that died at startup", 500,
     kDayMs},
    {"log-level", Kind::Text, "info", "debug | info | warn | error"},
    // Operations (docs/operations.md).
    {"admin-listen", Kind::Text, "",
     "Admin listener (/healthz, /readyz, /status, /metrics): "
     "http://HOST:PORT or unix:PATH (default: off)"},
    {"drain-delay", Kind::Seconds, "0",
     "Seconds to keep serving after SIGTERM, with /readyz already 503", 0,
     kDayMs},
    {"health-check-path", Kind::Text, "",
     "Answer /readyz's check at this path on the main listeners (default: "
     "off)"},
    {"uds-mode", Kind::Text, "0660",
     "Octal mode of the Unix socket files the host creates"},
};

// Every number has a range: a flag added without one would accept only 0.
constexpr bool every_number_has_a_range() {
  for (const OptionDef& def : kOptions) {
    const bool number = def.kind == Kind::Count || def.kind == Kind::Bytes ||
                        def.kind == Kind::Seconds;
    if (number && (def.max == 0 || def.min > def.max)) return false;
  }
  return true;
}
static_assert(every_number_has_a_range());

std::string snake(const char* flag) {
  std::string s(flag);
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

const OptionDef* find_option_by_key(const std::string& key, bool* negated) {
  *negated = false;
  for (const OptionDef& def : kOptions) {
    if (snake(def.flag) == key) return &def;
    if (def.kind == Kind::Bool && "no_" + snake(def.flag) == key) {
      *negated = true;
      return &def;
    }
  }
  return nullptr;
}

cxxopts::Options build_cxxopts() {
  cxxopts::Options options("pounce-host",
                           "Pounce Host: an HTTP/1.1 application server that "
                           "serves plugins.\n\nUsage: pounce-host --plugin "
                           "[PREFIX=]PATH [options]\n       pounce-host bench "
                           "[options]   (see pounce-host bench --help)\n"
                           "       pounce-host check [options]   (validate "
                           "the configuration, bind nothing)\n"
                           "       pounce-host config show [options]   (the "
                           "effective configuration as JSON)\n");
  auto add = options.add_options();
  for (const OptionDef& def : kOptions) {
    std::string help = def.help;
    if (def.default_text[0] != '\0') {
      help += " (default: ";
      help += def.default_text;
      help += ")";
    }
    switch (def.kind) {
      case Kind::Bool:
        add(def.flag, help, cxxopts::value<bool>());
        add(std::string("no-") + def.flag,
            std::string("Turn off --") + def.flag, cxxopts::value<bool>());
        break;
      case Kind::List:
        add(def.flag, help, cxxopts::value<std::vector<std::string>>());
        break;
      default:
        add(def.flag, help, cxxopts::value<std::string>());
        break;
    }
  }
  add("h,help", "Print this help");
  add("version", "Print the version");
  return options;
}

// "0.001" for 1 ms: a range bound in seconds as a user writes it.
std::string seconds_text(uint64_t ms) {
  std::string t = std::to_string(ms / 1000);
  if (uint64_t frac = ms % 1000; frac != 0) {
    char buf[8];
    snprintf(buf, sizeof buf, ".%03u", static_cast<unsigned>(frac));
    t += buf;
    while (t.back() == '0') t.pop_back();
  }
  return t;
}

// The name of a setting in an error: the flag and its config-file key, since
// the value may have come from either.
std::string setting_name(const OptionDef& def) {
  return std::string("--") + def.flag + " (config key " + snake(def.flag) + ")";
}

// "MIN to MAX[ seconds]": the range of a number setting, as a user writes
// its values.
std::string range_text(const OptionDef& def) {
  if (def.kind == Kind::Seconds) {
    return seconds_text(def.min) + " to " + seconds_text(def.max) + " seconds";
  }
  return std::to_string(def.min) + " to " + std::to_string(def.max);
}

std::string out_of_range(const OptionDef& def, const std::string& value) {
  return setting_name(def) + ": " + value + " is out of range; it must be " +
         range_text(def);
}

// Whether `sec` seconds lie in the option's range; *ms gets them in
// milliseconds. Compared in seconds first, so that a huge value cannot
// overflow the conversion.
bool seconds_in_range(const OptionDef& def, double sec, uint64_t* ms) {
  if (!std::isfinite(sec) || sec < 0 ||
      sec > static_cast<double>(def.max) / 1000.0) {
    return false;
  }
  *ms = static_cast<uint64_t>(std::llround(sec * 1000.0));
  return *ms >= def.min && *ms <= def.max;
}

bool parse_unsigned(const std::string& text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v > max) return false;
  *out = v;
  return true;
}

// Converts one command-line value to its JSON form.
bool cli_value_to_json(const OptionDef& def, const std::string& text, json* out,
                       std::string* error) {
  switch (def.kind) {
    case Kind::Count:
    case Kind::Bytes: {
      const bool negative = text.size() > 1 && text[0] == '-';
      const std::string digits = negative ? text.substr(1) : text;
      if (digits.empty() ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        *error =
            std::string("--") + def.flag + ": not an unsigned integer: " + text;
        return false;
      }
      uint64_t v;
      if (negative || !parse_unsigned(digits, def.max, &v) || v < def.min) {
        *error = out_of_range(def, text);
        return false;
      }
      *out = v;
      return true;
    }
    case Kind::Seconds: {
      char* end = nullptr;
      double v = strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || std::isnan(v)) {
        *error =
            std::string("--") + def.flag + ": not a number of seconds: " + text;
        return false;
      }
      uint64_t ms;
      if (!seconds_in_range(def, v, &ms)) {
        *error = out_of_range(def, text);
        return false;
      }
      *out = v;
      return true;
    }
    default:
      *out = text;
      return true;
  }
}

// Reads a number setting (Count, Bytes or Seconds, the latter as
// milliseconds) and checks it against the option's range.
bool get_number(const OptionDef& def, const json& v, uint64_t* out,
                std::string* error) {
  const std::string name = setting_name(def);
  const bool seconds = def.kind == Kind::Seconds;
  uint64_t n = 0;
  bool in_range = true;
  if (seconds) {
    if (!v.is_number()) {
      *error = name + ": expected a number of seconds";
      return false;
    }
    in_range = seconds_in_range(def, v.get<double>(), &n);
  } else {
    if (!v.is_number_unsigned() &&
        !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      // A negative integer is a number out of range; anything else is not
      // a count at all.
      if (!v.is_number_integer()) {
        *error = name + ": expected an unsigned integer";
        return false;
      }
      in_range = false;
    } else {
      n = v.get<uint64_t>();
    }
  }
  if (!in_range || n < def.min || n > def.max) {
    *error = out_of_range(def, v.dump());
    return false;
  }
  *out = n;
  return true;
}

bool get_string(const json& v, const std::string& key, std::string* out,
                std::string* error) {
  if (!v.is_string()) {
    *error = key + ": expected a string";
    return false;
  }
  *out = v.get<std::string>();
  return true;
}

bool get_list(const json& v, const std::string& key,
              std::vector<std::string>* out, std::string* error) {
  out->clear();
  if (v.is_string()) {
    out->push_back(v.get<std::string>());
    return true;
  }
  if (!v.is_array()) {
    *error = key + ": expected an array of strings";
    return false;
  }
  for (const json& item : v) {
    if (!item.is_string()) {
      *error = key + ": expected an array of strings";
      return false;
    }
    out->push_back(item.get<std::string>());
  }
  return true;
}

bool apply_plugins(const std::vector<std::string>& items, Config* c,
                   std::string* error) {
  c->plugins.clear();
  for (const std::string& item : items) {
    PluginSpec spec;
    if (!parse_plugin_spec(item, &spec, error)) return false;
    c->plugins.push_back(std::move(spec));
  }
  return true;
}

bool apply_plugin_configs(const std::vector<std::string>& items, Config* c,
                          std::string* error) {
  c->plugin_configs.clear();
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      *error = "plugin_config: expected PREFIX=JSON, got: " + item;
      return false;
    }
    std::string prefix;
    if (!normalize_mount_prefix(item.substr(0, eq), &prefix)) {
      *error = "plugin_config: bad prefix in: " + item;
      return false;
    }
    std::string text = item.substr(eq + 1);
    if (!json::accept(text)) {
      *error = "plugin_config: not valid JSON for " + prefix + ": " + text;
      return false;
    }
    c->plugin_configs.emplace_back(prefix, text);
  }
  return true;
}

// Applies one key of the merged configuration.
bool apply_key(const std::string& key, const json& value, Config* c,
               std::string* error) {
  bool negated = false;
  const OptionDef* def = find_option_by_key(key, &negated);
  if (!def) {
    *error = "unknown configuration key: " + key;
    return false;
  }
  uint64_t u = 0;
  std::string s;
  std::vector<std::string> list;
  if (def->kind == Kind::Bool) {
    if (!value.is_boolean()) {
      *error = key + ": expected true or false";
      return false;
    }
    bool b = value.get<bool>() != negated;
    std::string flag = def->flag;
    if (flag == "cpu-affinity")
      c->cpu_affinity = b;
    else if (flag == "compression")
      c->compression = b;
    else if (flag == "http2")
      c->http2 = b;
    else if (flag == "server-timing")
      c->server_timing = b;
    else if (flag == "ws-compression")
      c->ws_compression = b;
    else if (flag == "access-log")
      c->access_log = b;
    else if (flag == "supervise")
      c->supervise = b;
    else if (flag == "tls-session-tickets")
      c->tls_session_tickets = b;
    else if (flag == "tls-allow-expired")
      c->tls_allow_expired = b;
    else if (flag == "request-id")
      c->request_id = b;
    else if (flag == "proxy-protocol")
      c->proxy_protocol = b;
    else if (flag == "static-follow-symlinks")
      c->static_follow_symlinks = b;
    return true;
  }
  std::string flag = def->flag;
  if (flag == "plugin") {
    return get_list(value, key, &list, error) && apply_plugins(list, c, error);
  }
  if (flag == "plugin-config") {
    return get_list(value, key, &list, error) &&
           apply_plugin_configs(list, c, error);
  }
  if (flag == "static") {
    if (!get_list(value, key, &list, error)) return false;
    c->statics.clear();
    for (const std::string& item : list) {
      StaticSpec spec;
      if (!parse_static_spec(item, &spec, error)) return false;
      c->statics.push_back(std::move(spec));
    }
    return true;
  }
  if (flag == "static-cache-control") {
    if (!get_string(value, key, &s, error)) return false;
    for (unsigned char ch : s) {
      if (ch < 0x20 || ch == 0x7f) {
        *error = setting_name(*def) + ": a control character in the value";
        return false;
      }
    }
    c->static_cache_control = s;
    return true;
  }
  if (flag == "listen") {
    if (!get_list(value, key, &list, error)) return false;
    c->listens.clear();
    for (const std::string& url : list) {
      ListenSpec spec;
      if (!parse_listen_url(url, &spec, error)) return false;
      c->listens.push_back(std::move(spec));
    }
    c->listen_from_cli = true;
    return true;
  }
  if (flag == "tls-cert") return get_list(value, key, &c->tls_certs, error);
  if (flag == "tls-key") return get_list(value, key, &c->tls_keys, error);
  if (flag == "tls-ocsp") return get_list(value, key, &c->tls_ocsp, error);
  if (flag == "forwarded-allow-ips") {
    if (!get_string(value, key, &c->forwarded_allow_ips, error)) return false;
    http::AddressSet set;
    std::string why;
    if (!set.parse(c->forwarded_allow_ips, &why)) {
      *error = key + ": " + why;
      return false;
    }
    return true;
  }
  if (flag == "tls-ciphers")
    return get_string(value, key, &c->tls_ciphers, error);
  if (flag == "tls-ciphersuites")
    return get_string(value, key, &c->tls_ciphersuites, error);
  if (flag == "tls-client-ca")
    return get_string(value, key, &c->tls_client_ca, error);
  if (flag == "tls-min-version") {
    if (!get_string(value, key, &s, error)) return false;
    if (s != "1.2" && s != "1.3") {
      *error = key + ": expected 1.2 or 1.3, got " + s;
      return false;
    }
    c->tls_min_version = s;
    return true;
  }
  if (flag == "tls-client-auth") {
    if (!get_string(value, key, &s, error)) return false;
    if (s == "none")
      c->tls_client_auth = TlsClientAuth::None;
    else if (s == "optional")
      c->tls_client_auth = TlsClientAuth::Optional;
    else if (s == "required")
      c->tls_client_auth = TlsClientAuth::Required;
    else {
      *error = key + ": expected none, optional or required, got " + s;
      return false;
    }
    return true;
  }
  if (flag == "access-log-format") {
    if (!get_string(value, key, &s, error)) return false;
    std::string why;
    if (!log::AccessFormat::compile(s, &why)) {
      *error = setting_name(*def) + ": " + why;
      return false;
    }
    c->access_log_format = s;
    return true;
  }
  if (flag == "access-log-file") {
    return get_string(value, key, &c->access_log_file, error);
  }
  if (flag == "error-log-file") {
    return get_string(value, key, &c->error_log_file, error);
  }
  if (flag == "admin-listen") {
    if (!get_string(value, key, &s, error)) return false;
    c->admin = ListenSpec{};
    if (!s.empty()) {
      if (!parse_listen_url(s, &c->admin, error)) {
        *error = setting_name(*def) + ": " + *error;
        return false;
      }
      if (c->admin.tls) {
        *error = setting_name(*def) +
                 ": the admin listener speaks plain "
                 "HTTP (http://HOST:PORT or unix:PATH)";
        return false;
      }
      if (c->admin.proxy_protocol) {
        // Probes come straight from the balancer or the kubelet.
        *error = setting_name(*def) +
                 ": the admin listener takes no PROXY protocol header";
        return false;
      }
    }
    c->admin_listen = s;
    return true;
  }
  if (flag == "health-check-path") {
    if (!get_string(value, key, &s, error)) return false;
    if (!s.empty() && !normalize_mount_prefix(s, &c->health_check_path)) {
      *error = setting_name(*def) +
               ": expected an absolute path such as "
               "/healthz, got " +
               s;
      return false;
    }
    if (s.empty()) c->health_check_path.clear();
    return true;
  }
  if (flag == "uds-mode") {
    if (!get_string(value, key, &s, error)) return false;
    unsigned mode = 0;
    bool ok = !s.empty() && s.size() <= 4;
    for (char ch : s) {
      ok = ok && ch >= '0' && ch <= '7';
      mode = mode * 8 + static_cast<unsigned>(ch - '0');
    }
    if (!ok || mode > 0777) {
      *error = setting_name(*def) +
               ": expected an octal mode such as 0660, "
               "got " +
               s;
      return false;
    }
    c->uds_mode = mode;
    return true;
  }
  if (flag == "config") return get_string(value, key, &c->config_file, error);
  if (flag == "host") return get_string(value, key, &c->host, error);
  if (flag == "accept-mode") {
    if (!get_string(value, key, &s, error)) return false;
    if (s == "auto")
      c->accept_mode = AcceptMode::Auto;
    else if (s == "reuseport")
      c->accept_mode = AcceptMode::ReusePort;
    else if (s == "distributor")
      c->accept_mode = AcceptMode::Distributor;
    else {
      *error = key + ": expected auto, reuseport or distributor, got " + s;
      return false;
    }
    return true;
  }
  if (flag == "log-level") {
    if (!get_string(value, key, &s, error)) return false;
    if (!log::parse_level(s, &c->log_level)) {
      *error = key + ": expected debug, info, warn or error, got " + s;
      return false;
    }
    return true;
  }
  if (def->kind == Kind::Seconds) {
    uint64_t ms;
    if (!get_number(*def, value, &ms, error)) return false;
    if (flag == "keep-alive-timeout")
      c->keep_alive_timeout_ms = ms;
    else if (flag == "header-timeout")
      c->header_timeout_ms = ms;
    else if (flag == "request-timeout")
      c->request_timeout_ms = ms;
    else if (flag == "write-timeout")
      c->write_timeout_ms = ms;
    else if (flag == "shutdown-timeout")
      c->shutdown_timeout_ms = ms;
    else if (flag == "reload-timeout")
      c->reload_timeout_ms = ms;
    else if (flag == "ws-ping-interval")
      c->ws_ping_interval_ms = ms;
    else if (flag == "restart-backoff-max")
      c->restart_backoff_max_ms = ms;
    else if (flag == "ws-message-timeout")
      c->ws_message_timeout_ms = ms;
    else if (flag == "tls-ticket-rotation")
      c->tls_ticket_rotation_ms = ms;
    else if (flag == "drain-delay")
      c->drain_delay_ms = ms;
    return true;
  }
  // Count and Bytes: the table's range bounds each one, so the casts below
  // cannot truncate.
  if (!get_number(*def, value, &u, error)) return false;
  if (flag == "forwarded-hops") {
    c->forwarded_hops = static_cast<unsigned>(u);
  } else if (flag == "rate-limit") {
    c->rate_limit = u;
  } else if (flag == "rate-limit-burst") {
    c->rate_limit_burst = u;
  } else if (flag == "rate-limit-table") {
    c->rate_limit_table = u;
  } else if (flag == "port") {
    c->port = static_cast<uint16_t>(u);
  } else if (flag == "workers") {
    c->workers = static_cast<unsigned>(u);
  } else if (flag == "async-threads") {
    c->async_threads = static_cast<unsigned>(u);
  } else if (flag == "blocking-threads") {
    c->blocking_threads = static_cast<unsigned>(u);
  } else if (flag == "blocking-queue") {
    c->blocking_queue = u;
  } else if (flag == "backlog") {
    c->backlog = static_cast<int>(u);
  } else if (flag == "max-connections") {
    c->max_connections = u;
  } else if (flag == "max-header-size") {
    c->max_header_size = u;
  } else if (flag == "max-headers") {
    c->max_headers = u;
  } else if (flag == "max-body-size") {
    // The sync path holds a whole body in one buffer, and may answer with
    // a body as large: the table bounds it to 1 GiB, and
    // docs/configuration.md says what a larger upload needs.
    c->max_body_size = u;
  } else if (flag == "stream-high-water") {
    c->stream_high_water = u;
  } else if (flag == "stream-max-buffer") {
    c->stream_max_buffer = u;
  } else if (flag == "h2-max-concurrent-streams") {
    c->h2_max_concurrent_streams = static_cast<uint32_t>(u);
  } else if (flag == "h2-initial-window-size") {
    c->h2_initial_window_size = static_cast<uint32_t>(u);
  } else if (flag == "h2-max-frame-size") {
    c->h2_max_frame_size = static_cast<uint32_t>(u);
  } else if (flag == "h2-max-header-list-size") {
    c->h2_max_header_list_size = u;
  } else if (flag == "compression-min-size") {
    c->compression_min_size = u;
  } else if (flag == "gzip-level") {
    c->gzip_level = static_cast<int>(u);
  } else if (flag == "zstd-level") {
    c->zstd_level = static_cast<int>(u);
  } else if (flag == "ws-max-message-size") {
    c->ws_max_message_size = u;
  } else if (flag == "ws-compression-level") {
    c->ws_compression_level = static_cast<int>(u);
  } else if (flag == "ws-buffer-budget") {
    c->ws_buffer_budget = u;
  } else if (flag == "static-cache-entries") {
    c->static_cache_entries = u;
  }
  return true;
}

bool read_json_file(const std::string& path, json* out, std::string* text,
                    std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read config file " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  try {
    *out = json::parse(*text);
  } catch (const json::parse_error& e) {
    // nlohmann's message names the line and column.
    *error = "config file " + path + ": " + e.what();
    return false;
  }
  if (!out->is_object()) {
    *error = "config file " + path + " is not a JSON object";
    return false;
  }
  return true;
}

// The 1-based line of `key` among the top-level keys of the JSON object in
// `text` (which parsed), or 0. nlohmann's DOM keeps no positions, so the
// text is scanned: strings are skipped whole, and a string at depth 1
// followed by ':' is a key, decoded by the JSON parser itself.
size_t top_level_key_line(const std::string& text, const std::string& key) {
  size_t line = 1;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\n') {
      ++line;
    } else if (ch == '{' || ch == '[') {
      ++depth;
    } else if (ch == '}' || ch == ']') {
      --depth;
    } else if (ch == '"') {
      const size_t start = i;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      if (depth != 1) continue;
      size_t j = i + 1;
      while (j < text.size() && isspace(static_cast<unsigned char>(text[j])))
        ++j;
      if (j >= text.size() || text[j] != ':') continue;
      json name =
          json::parse(text.substr(start, i + 1 - start), nullptr, false);
      if (name.is_string() && name.get<std::string>() == key) return line;
    }
  }
  return 0;
}

bool validate(Config* c, std::string* error) {
  if (c->plugins.empty() && c->statics.empty()) {
    *error =
        "no plugin given: use --plugin [PREFIX=]PATH (or --static "
        "PREFIX=DIR)";
    return false;
  }
  // Plugins and static mounts share one routing table.
  for (size_t i = 0; i < c->statics.size(); ++i) {
    for (size_t j = i + 1; j < c->statics.size(); ++j) {
      if (c->statics[i].prefix == c->statics[j].prefix) {
        *error = "duplicate mount prefix " + c->statics[i].prefix + " (" +
                 c->statics[i].dir + " and " + c->statics[j].dir + ")";
        return false;
      }
    }
    for (const PluginSpec& p : c->plugins) {
      if (p.prefix == c->statics[i].prefix) {
        *error = "duplicate mount prefix " + p.prefix + " (" + p.path +
                 " and --static " + c->statics[i].dir + ")";
        return false;
      }
    }
  }
  for (size_t i = 0; i < c->plugins.size(); ++i) {
    for (size_t j = i + 1; j < c->plugins.size(); ++j) {
      if (c->plugins[i].prefix == c->plugins[j].prefix) {
        *error = "duplicate mount prefix " + c->plugins[i].prefix + " (" +
                 c->plugins[i].path + " and " + c->plugins[j].path + ")";
        return false;
      }
    }
  }
  for (const auto& [prefix, text] : c->plugin_configs) {
    bool mounted = false;
    for (const PluginSpec& p : c->plugins) mounted |= p.prefix == prefix;
    if (!mounted) {
      *error = "--plugin-config for " + prefix + ", where no plugin is mounted";
      return false;
    }
  }
  if (!c->listen_from_cli) {
    ListenSpec spec;
    spec.tls = !c->tls_certs.empty();
    spec.host = c->host;
    spec.port = c->port;
    spec.proxy_protocol = c->proxy_protocol;
    c->listens = {spec};
  } else if (c->proxy_protocol) {
    // Which of several listeners would it mean? Each says it itself.
    *error =
        "--proxy-protocol applies to the default listener; with --listen, "
        "add ?proxy-protocol=1 to the entries that expect it";
    return false;
  }
  if (c->tls_certs.size() != c->tls_keys.size()) {
    *error = "--tls-cert and --tls-key pair up in order: " +
             std::to_string(c->tls_certs.size()) + " certificates, " +
             std::to_string(c->tls_keys.size()) + " keys";
    return false;
  }
  if (c->tls_ocsp.size() > c->tls_certs.size()) {
    *error = "more --tls-ocsp files than --tls-cert certificates";
    return false;
  }
  if (c->any_tls() && c->tls_certs.empty()) {
    *error = "an https listener needs --tls-cert and --tls-key";
    return false;
  }
  if (c->tls_client_auth != TlsClientAuth::None && c->tls_client_ca.empty()) {
    *error = "--tls-client-auth needs --tls-client-ca";
    return false;
  }
  if (c->workers == 0) {
    // The CPUs this process may run on (taskset, cgroup cpusets), not all
    // the machine has: more workers than those only add switching.
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    c->workers = n > 0 ? static_cast<unsigned>(n) : 1;
  }
  if (c->async_threads == 0) {
    *error = "--async-threads must be at least 1";
    return false;
  }
  // Handles carry their loop's index in 8 bits (host/async/handles.h).
  if (c->workers + c->async_threads > 255) {
    *error = "--workers plus --async-threads must not exceed 255";
    return false;
  }
  if (c->stream_max_buffer < c->stream_high_water) {
    *error = "--stream-max-buffer must not be below --stream-high-water";
    return false;
  }
  if (c->h2_max_header_list_size == 0) {
    c->h2_max_header_list_size = c->max_header_size;
  }
  // One message of the largest size must fit, or no such message could
  // ever be received.
  if (c->ws_buffer_budget < c->ws_max_message_size) {
    *error = "--ws-buffer-budget must not be below --ws-max-message-size";
    return false;
  }
  return true;
}

// Merges the --config file (if any) with the command line, whose keys win,
// and applies the result.
bool build_config(const json& cli, Config* out, std::string* error) {
  Config c;
  json merged = json::object();
  std::string file_text;
  const std::string file =
      cli.contains("config") ? cli["config"].get<std::string>() : "";
  if (!file.empty() || cli.contains("config")) {
    if (!read_json_file(file, &merged, &file_text, error)) return false;
    if (merged.contains("config")) {
      *error = "\"config\" cannot be set inside a config file";
      return false;
    }
  }
  for (auto& [key, value] : cli.items()) {
    // A command-line flag replaces the file's key, including its --no- twin.
    merged.erase(key);
    merged.erase("no_" + key);
    merged[key] = value;
  }
  for (auto& [key, value] : merged.items()) {
    if (!apply_key(key, value, &c, error)) {
      // A key the file gave (the command line's cannot be unknown): say
      // where it is.
      if (!cli.contains(key) && !file.empty()) {
        const size_t line = top_level_key_line(file_text, key);
        *error += " (in " + file +
                  (line ? ", line " + std::to_string(line) : "") + ")";
      }
      return false;
    }
  }
  c.plugins_from_cli = cli.contains("plugin");
  c.plugin_configs_from_cli = cli.contains("plugin_config");
  c.cli_json = cli.dump();
  if (!validate(&c, error)) return false;
  *out = std::move(c);
  return true;
}

// The value of one setting of `c` as the config file writes it.
json setting_value(const OptionDef& def, const Config& c) {
  const std::string flag = def.flag;
  auto seconds = [](uint64_t ms) { return static_cast<double>(ms) / 1000.0; };
  auto listen_texts = [](const std::vector<ListenSpec>& specs) {
    json a = json::array();
    for (const ListenSpec& l : specs) a.push_back(l.text());
    return a;
  };
  if (flag == "plugin") {
    json a = json::array();
    for (const PluginSpec& p : c.plugins) a.push_back(p.prefix + "=" + p.path);
    return a;
  }
  if (flag == "plugin-config") {
    json a = json::array();
    for (const auto& [prefix, text] : c.plugin_configs)
      a.push_back(prefix + "=" + text);
    return a;
  }
  if (flag == "static") {
    json a = json::array();
    for (const StaticSpec& st : c.statics)
      a.push_back(st.prefix + "=" + st.dir);
    return a;
  }
  if (flag == "static-cache-control") return c.static_cache_control;
  if (flag == "static-follow-symlinks") return c.static_follow_symlinks;
  if (flag == "static-cache-entries") return c.static_cache_entries;
  if (flag == "listen") return listen_texts(c.listens);
  if (flag == "host") return c.host;
  if (flag == "port") return c.port;
  if (flag == "workers") return c.workers;
  if (flag == "async-threads") return c.async_threads;
  if (flag == "blocking-threads") return c.blocking_threads;
  if (flag == "blocking-queue") return c.blocking_queue;
  if (flag == "accept-mode") {
    return c.accept_mode == AcceptMode::ReusePort     ? "reuseport"
           : c.accept_mode == AcceptMode::Distributor ? "distributor"
                                                      : "auto";
  }
  if (flag == "cpu-affinity") return c.cpu_affinity;
  if (flag == "backlog") return c.backlog;
  if (flag == "max-connections") return c.max_connections;
  if (flag == "keep-alive-timeout") return seconds(c.keep_alive_timeout_ms);
  if (flag == "header-timeout") return seconds(c.header_timeout_ms);
  if (flag == "request-timeout") return seconds(c.request_timeout_ms);
  if (flag == "write-timeout") return seconds(c.write_timeout_ms);
  if (flag == "shutdown-timeout") return seconds(c.shutdown_timeout_ms);
  if (flag == "reload-timeout") return seconds(c.reload_timeout_ms);
  if (flag == "max-header-size") return c.max_header_size;
  if (flag == "max-headers") return c.max_headers;
  if (flag == "max-body-size") return c.max_body_size;
  if (flag == "stream-high-water") return c.stream_high_water;
  if (flag == "stream-max-buffer") return c.stream_max_buffer;
  if (flag == "compression") return c.compression;
  if (flag == "compression-min-size") return c.compression_min_size;
  if (flag == "gzip-level") return c.gzip_level;
  if (flag == "zstd-level") return c.zstd_level;
  if (flag == "server-timing") return c.server_timing;
  if (flag == "ws-max-message-size") return c.ws_max_message_size;
  if (flag == "ws-ping-interval") return seconds(c.ws_ping_interval_ms);
  if (flag == "ws-compression") return c.ws_compression;
  if (flag == "ws-compression-level") return c.ws_compression_level;
  if (flag == "ws-message-timeout") return seconds(c.ws_message_timeout_ms);
  if (flag == "ws-buffer-budget") return c.ws_buffer_budget;
  if (flag == "tls-cert") return c.tls_certs;
  if (flag == "tls-key") return c.tls_keys;
  if (flag == "tls-ocsp") return c.tls_ocsp;
  if (flag == "tls-min-version") return c.tls_min_version;
  if (flag == "tls-ciphers") return c.tls_ciphers;
  if (flag == "tls-ciphersuites") return c.tls_ciphersuites;
  if (flag == "tls-client-ca") return c.tls_client_ca;
  if (flag == "tls-client-auth") {
    return c.tls_client_auth == TlsClientAuth::Required   ? "required"
           : c.tls_client_auth == TlsClientAuth::Optional ? "optional"
                                                          : "none";
  }
  if (flag == "tls-ticket-rotation") return seconds(c.tls_ticket_rotation_ms);
  if (flag == "tls-session-tickets") return c.tls_session_tickets;
  if (flag == "tls-allow-expired") return c.tls_allow_expired;
  if (flag == "http2") return c.http2;
  if (flag == "h2-max-concurrent-streams") return c.h2_max_concurrent_streams;
  if (flag == "h2-initial-window-size") return c.h2_initial_window_size;
  if (flag == "h2-max-frame-size") return c.h2_max_frame_size;
  if (flag == "h2-max-header-list-size") {
    // Unset means --max-header-size: shown as the value in effect.
    return c.h2_max_header_list_size ? c.h2_max_header_list_size
                                     : c.max_header_size;
  }
  if (flag == "forwarded-allow-ips") return c.forwarded_allow_ips;
  if (flag == "forwarded-hops") return c.forwarded_hops;
  if (flag == "rate-limit") return c.rate_limit;
  if (flag == "rate-limit-burst") return c.rate_limit_burst;
  if (flag == "rate-limit-table") return c.rate_limit_table;
  if (flag == "request-id") return c.request_id;
  if (flag == "proxy-protocol") return c.proxy_protocol;
  if (flag == "access-log") return c.access_log;
  if (flag == "access-log-format") return c.access_log_format;
  if (flag == "access-log-file") return c.access_log_file;
  if (flag == "error-log-file") return c.error_log_file;
  if (flag == "supervise") return c.supervise;
  if (flag == "restart-backoff-max") return seconds(c.restart_backoff_max_ms);
  if (flag == "log-level") return std::string(log::level_name(c.log_level));
  if (flag == "admin-listen") return c.admin_listen;
  if (flag == "drain-delay") return seconds(c.drain_delay_ms);
  if (flag == "health-check-path") return c.health_check_path;
  if (flag == "uds-mode") {
    char text[8];
    snprintf(text, sizeof text, "0%03o", c.uds_mode);
    return text;
  }
  return nullptr;  // a flag this function does not know: the test catches it
}

}  // namespace

std::string config_to_json(const Config& config) {
  json out = json::object();
  for (const OptionDef& def : kOptions) {
    const std::string flag = def.flag;
    // `config` cannot appear in a file; `listen` replaces --host/--port
    // only when it was given (validate() fills it in otherwise).
    if (flag == "config") continue;
    if (flag == "listen" && !config.listen_from_cli) continue;
    out[snake(def.flag)] = setting_value(def, config);
  }
  // Replacing invalid UTF-8 (a path is bytes) instead of throwing.
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

bool Config::any_tls() const {
  for (const ListenSpec& l : listens) {
    if (l.tls) return true;
  }
  return false;
}

std::string ListenSpec::url(uint16_t real_port) const {
  if (is_unix()) return "unix:" + unix_path;
  std::string text = tls ? "https://" : "http://";
  const uint16_t p = real_port ? real_port : port;
  if (host.find(':') != std::string::npos) {
    text += "[" + host + "]";
  } else {
    text += host;
  }
  return text + ":" + std::to_string(p);
}

std::string ListenSpec::text() const {
  std::string t = url();
  char separator = '?';
  if (!fd_name.empty()) {
    t += separator + ("fd-name=" + fd_name);
    separator = '&';
  }
  if (proxy_protocol) t += separator + std::string("proxy-protocol=1");
  return t;
}

namespace {

// The options after '?': "fd-name=NAME", "proxy-protocol=1|0" ('&' between
// several).
bool parse_listen_options(const std::string& text, const std::string& query,
                          ListenSpec* spec, std::string* error) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string item = query.substr(start, end - start);
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const std::string value =
        eq == std::string::npos ? std::string() : item.substr(eq + 1);
    if (name == "fd-name") {
      // LISTEN_FDNAMES separates names with ':'; systemd allows at most
      // 255 characters.
      if (value.empty() || value.size() > 255 ||
          value.find(':') != std::string::npos) {
        *error = "--listen " + text +
                 ": fd-name must be 1 to 255 characters "
                 "without ':'";
        return false;
      }
      spec->fd_name = value;
    } else if (name == "proxy-protocol") {
      if (value != "1" && value != "0") {
        *error = "--listen " + text + ": proxy-protocol must be 1 or 0";
        return false;
      }
      spec->proxy_protocol = value == "1";
    } else {
      *error = "--listen " + text + ": unknown option \"" + name +
               "\" (known: fd-name, proxy-protocol)";
      return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

bool parse_listen_url(const std::string& text, ListenSpec* out,
                      std::string* error) {
  ListenSpec spec;
  std::string rest;
  std::string address = text;
  const size_t question = text.find('?');
  if (question != std::string::npos) {
    address = text.substr(0, question);
    if (!parse_listen_options(text, text.substr(question + 1), &spec, error))
      return false;
  }
  if (address.rfind("unix:", 0) == 0) {
    spec.unix_path = address.substr(5);
    // sockaddr_un's sun_path: 108 bytes with the terminating NUL.
    constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;
    if (spec.unix_path.empty() || spec.unix_path[0] != '/' ||
        spec.unix_path.size() > kMaxPath ||
        spec.unix_path.find('\0') != std::string::npos) {
      *error = "--listen " + text +
               ": expected unix:/ABSOLUTE/PATH of at "
               "most " +
               std::to_string(kMaxPath) + " bytes";
      return false;
    }
    *out = std::move(spec);
    return true;
  }
  if (address.rfind("http://", 0) == 0) {
    rest = address.substr(7);
  } else if (address.rfind("https://", 0) == 0) {
    spec.tls = true;
    rest = address.substr(8);
  } else {
    *error = "--listen " + text +
             ": expected http://HOST:PORT, https://HOST:PORT or unix:PATH";
    return false;
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() ||
        rest[close + 1] != ':') {
      *error = "--listen " + text + ": expected [IPV6]:PORT";
      return false;
    }
    spec.host = rest.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string::npos ||
        rest.find(':') != colon) {  // an IPv6 address needs brackets
      *error = "--listen " + text + ": expected HOST:PORT (IPv6 as [::1]:PORT)";
      return false;
    }
    spec.host = rest.substr(0, colon);
  }
  uint64_t port;
  if (spec.host.empty() ||
      !parse_unsigned(rest.substr(colon + 1), 65535, &port)) {
    *error =
        "--listen " + text + ": expected a host and a port from 0 to 65535";
    return false;
  }
  spec.port = static_cast<uint16_t>(port);
  *out = std::move(spec);
  return true;
}

const std::string& Config::plugin_config_for(const std::string& prefix) const {
  static const std::string kEmpty = "{}";
  for (const auto& [p, text] : plugin_configs) {
    if (p == prefix) return text;
  }
  return kEmpty;
}

bool normalize_mount_prefix(const std::string& text, std::string* out) {
  std::string p = text.empty() ? "/" : text;
  if (p[0] != '/') return false;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  // Segments are compared against normalized paths, which never hold dot
  // segments, empty segments only where the client sent them, and no
  // control characters.
  size_t start = 1;
  while (start < p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string_view seg(p.data() + start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  for (unsigned char ch : p) {
    if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '%')
      return false;
  }
  *out = p;
  return true;
}

bool parse_static_spec(const std::string& text, StaticSpec* out,
                       std::string* error) {
  const size_t eq = text.find('=');
  if (text.empty() || text[0] != '/' || eq == std::string::npos ||
      eq + 1 >= text.size()) {
    *error = "--static " + text + ": expected PREFIX=DIR";
    return false;
  }
  if (!normalize_mount_prefix(text.substr(0, eq), &out->prefix)) {
    *error = "--static " + text + ": bad prefix " + text.substr(0, eq);
    return false;
  }
  out->dir = text.substr(eq + 1);
  return true;
}

bool parse_plugin_spec(const std::string& text, PluginSpec* out,
                       std::string* error) {
  // "PREFIX=PATH" when the text starts with '/' and has a '='; otherwise the
  // whole text is the path. (A path with '=' in it: write "/=PATH".)
  std::string prefix = "/";
  std::string path = text;
  size_t eq = text.find('=');
  if (!text.empty() && text[0] == '/' && eq != std::string::npos) {
    prefix = text.substr(0, eq);
    path = text.substr(eq + 1);
  }
  if (path.empty()) {
    *error = "--plugin " + text + ": no path";
    return false;
  }
  if (!normalize_mount_prefix(prefix, &out->prefix)) {
    *error = "--plugin " + text + ": bad prefix " + prefix;
    return false;
  }
  out->path = path;
  return true;
}

std::string help_text() {
  return build_cxxopts().help();
}

CliOutcome parse_command_line(int argc, char** argv, Config* config,
                              std::string* error) {
  cxxopts::Options options = build_cxxopts();
  json cli = json::object();
  try {
    cxxopts::ParseResult result = options.parse(argc, argv);
    if (!result.unmatched().empty()) {
      *error = "unexpected argument: " + result.unmatched().front();
      return CliOutcome::Error;
    }
    if (result.count("help")) {
      fputs(options.help().c_str(), stdout);
      return CliOutcome::Exit;
    }
    if (result.count("version")) {
      printf("pounce-host %s (plugin ABI %d.%d)\n", POUNCE_VERSION,
             POUNCE_ABI_MAJOR, POUNCE_ABI_MINOR);
      return CliOutcome::Exit;
    }
    for (const OptionDef& def : kOptions) {
      std::string key = snake(def.flag);
      if (def.kind == Kind::Bool) {
        bool on = result.count(def.flag) && result[def.flag].as<bool>();
        bool off = result.count(std::string("no-") + def.flag) &&
                   result[std::string("no-") + def.flag].as<bool>();
        if (on && off) {
          *error = std::string("both --") + def.flag + " and --no-" + def.flag +
                   " given";
          return CliOutcome::Error;
        }
        if (on || off) cli[key] = on;
        continue;
      }
      if (!result.count(def.flag)) continue;
      if (def.kind == Kind::List) {
        cli[key] = result[def.flag].as<std::vector<std::string>>();
        continue;
      }
      json v;
      if (!cli_value_to_json(def, result[def.flag].as<std::string>(), &v,
                             error)) {
        return CliOutcome::Error;
      }
      cli[key] = v;
    }
  } catch (const cxxopts::exceptions::exception& e) {
    *error = e.what();
    return CliOutcome::Error;
  }

  if (!build_config(cli, config, error)) return CliOutcome::Error;
  return CliOutcome::Run;
}

bool reload_plugin_entries(const Config& current, Config* next,
                           bool* restart_needed, std::string* error) {
  *next = current;
  *restart_needed = false;
  if (current.config_file.empty()) return true;
  Config fresh;
  if (!build_config(json::parse(current.cli_json), &fresh, error)) return false;
  next->plugins = fresh.plugins;
  next->plugin_configs = fresh.plugin_configs;
  // Static mounts are routes of the generation too.
  next->statics = fresh.statics;
  // Everything else needs a restart: compare it with what is running.
  fresh.plugins = current.plugins;
  fresh.plugin_configs = current.plugin_configs;
  fresh.statics = current.statics;
  *restart_needed = !(fresh == current);
  return true;
}

}  // namespace pounce
