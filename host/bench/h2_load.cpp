#include "bench/h2_load.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench/subprocess.h"

namespace pounce::bench {

namespace {

// How long h2load may take beyond its duration: connecting, and stopping
// the clients at the end.
constexpr double kSlackS = 30;

// "63,176" and "63176" alike (some builds group digits).
uint64_t number(std::string text) {
  std::string digits;
  for (char c : text) {
    if (c >= '0' && c <= '9') digits += c;
  }
  return digits.empty() ? 0 : std::strtoull(digits.c_str(), nullptr, 10);
}

// The words of a line, split on blanks and commas.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::string w;
  for (char c : line) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!w.empty()) out.push_back(w);
      w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

// In a line such as "requests: 10 total, 10 started, ...": the number
// before `label`, 0 when absent.
uint64_t count_before(const std::vector<std::string>& w,
                      const std::string& label) {
  for (size_t i = 1; i < w.size(); ++i) {
    if (w[i] == label) return number(w[i - 1]);
  }
  return 0;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// The parts of a workload's HTTP/1 request that h2load can send.
struct RequestParts {
  std::string method, target, content_type, body;
};

RequestParts parts_of(const std::string& request) {
  RequestParts p;
  size_t head_end = request.find("\r\n\r\n");
  std::string head = request.substr(0, head_end);
  if (head_end != std::string::npos) p.body = request.substr(head_end + 4);
  std::istringstream in(head);
  std::string line;
  std::getline(in, line);
  std::istringstream first(line);
  first >> p.method >> p.target;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(tolower(c));
    if (name == "content-type") {
      size_t v = line.find_first_not_of(' ', colon + 1);
      p.content_type = v == std::string::npos ? "" : line.substr(v);
    }
  }
  return p;
}

std::string milliseconds(double seconds) {
  return std::to_string(std::max<long long>(1, std::llround(seconds * 1000))) +
         "ms";
}

std::string tail(const std::string& text, size_t max = 1500) {
  return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

}  // namespace

double parse_h2load_duration_us(const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return -1;
  std::string unit(end);
  if (unit == "us") return v;
  if (unit == "ms") return v * 1e3;
  if (unit == "s") return v * 1e6;
  return -1;
}

H2LoadOutput parse_h2load_output(const std::string& text) {
  H2LoadOutput out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> w = words(line);
    if (w.empty()) continue;
    if (starts_with(line, "Application protocol:") && w.size() >= 3) {
      out.protocol = w[2];
    } else if (starts_with(line, "TLS Protocol:") && w.size() >= 3) {
      out.tls_version = w[2];
    } else if (starts_with(line, "Cipher:") && w.size() >= 2) {
      out.tls_cipher = w[1];
    } else if (starts_with(line, "Server Temp Key:") && w.size() >= 4) {
      out.tls_group = w[3];
    } else if (starts_with(line, "finished in") && w.size() >= 3) {
      out.finished_s = parse_h2load_duration_us(w[2]) / 1e6;
    } else if (starts_with(line, "requests:")) {
      out.parsed = true;
      out.total = count_before(w, "total");
      out.started = count_before(w, "started");
      out.done = count_before(w, "done");
      out.succeeded = count_before(w, "succeeded");
      out.failed = count_before(w, "failed");
      out.errored = count_before(w, "errored");
      out.timeout = count_before(w, "timeout");
    } else if (starts_with(line, "status codes:")) {
      out.status_2xx = count_before(w, "2xx");
      out.status_3xx = count_before(w, "3xx");
      out.status_4xx = count_before(w, "4xx");
      out.status_5xx = count_before(w, "5xx");
    } else if (starts_with(line, "traffic:")) {
      // traffic: 2.41MB (2528363) total, 556.31KB (569663) headers (space
      // savings 90.31%), 802.04KB (821288) data
      auto exact = [&](const std::string& label) -> uint64_t {
        for (size_t i = 1; i < w.size(); ++i) {
          if (w[i] == label && w[i - 1].front() == '(') return number(w[i - 1]);
        }
        return 0;
      };
      out.traffic_bytes = exact("total");
      out.header_bytes = exact("headers");
      out.data_bytes = exact("data");
    } else if (starts_with(line, "time for request:") && w.size() >= 6) {
      out.request_min_us = parse_h2load_duration_us(w[3]);
      out.request_max_us = parse_h2load_duration_us(w[4]);
      out.request_mean_us = parse_h2load_duration_us(w[5]);
    }
  }
  return out;
}

LoadResult load_result_of(const H2LoadOutput& out, double duration_s,
                          const std::optional<std::string>& expected_body) {
  LoadResult r;
  r.elapsed_s = duration_s;
  LoadCounters& c = r.counters;
  if (!out.parsed) {
    c.protocol_errors = 1;
    return r;
  }
  c.completed = out.done;
  c.non_2xx = out.status_3xx + out.status_4xx + out.status_5xx;
  // Streams that got no status at all (reset, connection lost) are failed
  // without a status code; errored and timed-out requests too.
  uint64_t with_status = out.status_2xx + c.non_2xx;
  uint64_t lost = out.done > with_status ? out.done - with_status : 0;
  c.read_errors = std::max(lost, out.errored) + out.timeout;
  // A server that fell back to HTTP/1.1 (or that h2load could not reach:
  // no protocol line, nothing done) is not measured over HTTP/2.
  if (out.protocol != "h2" && out.protocol != "h2c") c.protocol_errors += 1;
  if (out.done == 0) c.connect_errors += 1;
  r.connected = c.connect_errors == 0 && c.protocol_errors == 0;
  r.tls.version = out.tls_version;
  r.tls.cipher = out.tls_cipher;
  r.tls.group = out.tls_group;
  r.tls.alpn = out.tls_version.empty() ? "" : out.protocol;
  c.bytes_read = out.traffic_bytes;
  c.response_bytes = out.header_bytes + out.data_bytes;
  // h2load does not look at bodies: their size must add up. Streams still
  // in flight when the window closed may have had DATA counted without
  // being done, so up to (started - done) bodies more are allowed.
  if (expected_body && out.status_2xx > 0 && with_status == out.done &&
      c.non_2xx == 0) {
    const uint64_t size = expected_body->size();
    const uint64_t least = out.done * size;
    const uint64_t in_flight =
        out.started > out.done ? out.started - out.done : 0;
    const uint64_t most = least + in_flight * size;
    if (out.data_bytes < least || out.data_bytes > most) {
      c.wrong_body = out.status_2xx;
    }
  }
  return r;
}

std::vector<std::string> h2load_argv(const H2LoadConfig& config,
                                     double duration_s,
                                     const std::string& body_file) {
  std::vector<std::string> argv;
  if (config.pin_cpu >= 0) {
    argv = {"taskset", "-c", std::to_string(config.pin_cpu)};
  }
  RequestParts p = parts_of(config.request);
  unsigned threads = std::min(config.threads, config.connections);
  for (const std::string& a :
       {std::string("h2load"), std::string("-c"),
        std::to_string(config.connections), std::string("-m"),
        std::to_string(config.streams), std::string("-t"),
        std::to_string(threads), std::string("-D"), milliseconds(duration_s)}) {
    argv.push_back(a);
  }
  if (!body_file.empty()) {
    argv.push_back("-d");
    argv.push_back(body_file);
  }
  if (!p.content_type.empty()) {
    argv.push_back("-H");
    argv.push_back("content-type: " + p.content_type);
  }
  argv.push_back(config.scheme + "://" + config.host + ":" +
                 std::to_string(config.port) + p.target);
  return argv;
}

LoadResult run_h2load(const H2LoadConfig& config,
                      const std::function<void(bool)>& window,
                      H2LoadOutput* out, std::string* error) {
  *out = H2LoadOutput{};
  RequestParts p = parts_of(config.request);
  std::string body_file;
  if (!p.body.empty()) {
    // h2load -d posts a file's bytes.
    body_file = config.work_dir + "/h2load-body";
    std::ofstream f(body_file, std::ios::binary | std::ios::trunc);
    f << p.body;
    if (!f.good()) {
      *error = "cannot write " + body_file;
      return load_result_of(*out, config.duration_s, config.expected_body);
    }
  } else if (p.method != "GET") {
    *error = "h2load sends GET, or POST with -d: cannot send " + p.method +
             " without a body";
    return load_result_of(*out, config.duration_s, config.expected_body);
  }
  auto run = [&](double seconds) {
    auto timeout =
        std::chrono::milliseconds(std::llround((seconds + kSlackS) * 1000));
    return capture(h2load_argv(config, seconds, body_file), timeout);
  };
  if (config.warmup_s > 0) run(config.warmup_s);
  if (window) window(true);
  Captured c = run(config.duration_s);
  if (window) window(false);
  *out = parse_h2load_output(c.output);
  if (c.status != 0 || !out->parsed) {
    *error = "h2load " +
             (c.status < 0 ? std::string("could not run or timed out")
                           : "exited with status " + std::to_string(c.status)) +
             (out->parsed ? "" : ", no summary") + ":\n" + tail(c.output);
  } else if (out->protocol != "h2" && out->protocol != "h2c") {
    *error = "h2load did not speak HTTP/2 (application protocol '" +
             out->protocol + "'):\n" + tail(c.output);
  }
  return load_result_of(*out, config.duration_s, config.expected_body);
}

std::string h2load_version() {
  if (find_in_path("h2load").empty()) return "";
  return first_line(capture({"h2load", "--version"}).output);
}

}  // namespace pounce::bench
