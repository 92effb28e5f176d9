#include "plugin/host_api.h"

#include <unistd.h>

#include <ctime>
#include <string>

#include "log/logger.h"
#include "plugin/instance_registry.h"
#include "plugin/metrics_api.h"
#include "plugin/request_response.h"
#include "plugin/stream_api.h"
#include "tls/session_info.h"

namespace pounce {

namespace {

// `level` comes from plugin code and is an int32_t: any value may arrive.
// An unknown one is logged as an error, where it is seen.
log::Level level_of(pounce_log_level_t level) {
  if (level == POUNCE_LOG_DEBUG) return log::Level::Debug;
  if (level == POUNCE_LOG_INFO) return log::Level::Info;
  if (level == POUNCE_LOG_WARN) return log::Level::Warn;
  return log::Level::Error;
}

void api_log(void* instance, pounce_log_level_t level, pounce_str_t message) {
  log::Level l = level_of(level);
  if (!log::enabled(l)) return;
  std::string name = instance_registry().name_of(instance);
  int len = static_cast<int>(message.data ? message.len : 0);
  log::writef(l, "plugin %s: %.*s", name.c_str(), len,
              message.data ? message.data : "");
  // The plugin may block right after logging (it runs inline on a worker):
  // hand the line to the output now rather than when the loop next sleeps.
  log::flush_thread();
}

int api_request_header_at(const pounce_request_t* req, pounce_str_t name,
                          size_t index, pounce_str_t* value) {
  if (!req || !req->head || !value || !name.data) return 0;
  std::string_view want(name.data, name.len);
  const http::RequestHead& h = *req->head;
  for (size_t i = 0; i < h.header_count; ++i) {
    const pounce_header_t& hd = h.headers[i];
    if (iequals(std::string_view(hd.name.data, hd.name.len), want) &&
        index-- == 0) {
      *value = hd.value;
      return 1;
    }
  }
  return 0;
}

int api_request_header(const pounce_request_t* req, pounce_str_t name,
                       pounce_str_t* value) {
  // The request id the host kept (from a trusted peer) or made is the
  // request's X-Request-ID, whatever an untrusted client sent.
  if (req && value && name.data && name.len == 12 &&
      iequals(std::string_view(name.data, name.len), "x-request-id")) {
    const std::string_view id =
        req->exchange ? req->exchange->request_id() : req->request_id;
    if (!id.empty()) {
      *value = {id.data(), id.size()};
      return 1;
    }
  }
  return api_request_header_at(req, name, 0, value);
}

int api_request_addr(const pounce_request_t* req, int which,
                     pounce_addr_t* out) {
  if (!req || !out) return POUNCE_ERR_INVALID;
  const PeerAddress* a = nullptr;
  PeerAddress local;
  if (!req->exchange) {
    // Blocking mode: fetched on the loop before the hand-off.
    a = which == 0 ? req->peer : which == 1 ? req->local : nullptr;
  } else if (which == 0) {
    a = &req->exchange->client();
  } else if (which == 1 && req->exchange->local_address(&local)) {
    a = &local;
  }
  if (!a || a->len == 0) return POUNCE_ERR_INVALID;
  return format_address(reinterpret_cast<const sockaddr*>(&a->addr), out);
}

int api_request_tls(const pounce_request_t* req, pounce_tls_info_t* out) {
  if (!req || !out || out->size < sizeof out->size) return POUNCE_ERR_INVALID;
  if (!req->tls) {
    tls::clear_abi(out);
    return 0;
  }
  const tls::SessionInfo* info = req->tls->tls_info();
  if (!info) {
    tls::clear_abi(out);
    return POUNCE_ERR_NOMEM;
  }
  tls::fill_abi(*info, out);
  return 1;
}

int api_response_status(pounce_response_t* res, int status) {
  if (!res) return POUNCE_ERR_INVALID;
  if (status < 200 || status > 599) {
    if (res->error == http::ErrorCode::None) {
      res->error = http::ErrorCode::PluginError;
      LOG_ERROR("plugin %s: invalid status %d; answering 500", res->plugin_name,
                status);
    }
    return POUNCE_ERR_INVALID;
  }
  res->status = status;
  return POUNCE_OK;
}

int api_response_header(pounce_response_t* res, pounce_str_t name,
                        pounce_str_t value) {
  return add_response_header(res, name, value);
}

// A response whose body the plugin set twice (response_file and
// response_body, or two files): a 500, as an invalid status is.
int reject_second_body(pounce_response_t* res, const char* call) {
  if (res->error == http::ErrorCode::None) {
    res->error = http::ErrorCode::PluginError;
    LOG_ERROR(
        "plugin %s: %s on a response that has a body already; "
        "answering 500",
        res->plugin_name, call);
  }
  return POUNCE_ERR_INVALID;
}

int api_response_body(pounce_response_t* res, const void* data, size_t len) {
  if (!res || (!data && len)) return POUNCE_ERR_INVALID;
  if (res->file) return reject_second_body(res, "response_body");
  if (!res->body.append(data, len)) {
    res->body.forget_failure();  // the body so far is intact
    return POUNCE_ERR_NOMEM;
  }
  return POUNCE_OK;
}

int api_response_file(pounce_response_t* res, int fd, uint64_t offset,
                      uint64_t length) {
  if (!res) {
    if (fd >= 0) ::close(fd);  // ours in every case (pounce.h)
    return POUNCE_ERR_INVALID;
  }
  if (res->file || !res->body.empty()) {
    if (fd >= 0) ::close(fd);
    return reject_second_body(res, "response_file");
  }
  exchange::OpenFile* file = nullptr;
  const char* why = nullptr;
  const int rc = adopt_plugin_file(fd, offset, length, &file, &why);
  if (rc == POUNCE_ERR_INVALID) {
    if (res->error == http::ErrorCode::None) {
      res->error = http::ErrorCode::PluginError;
      LOG_ERROR(
          "plugin %s: response_file with %s (fd %d, offset %llu, "
          "length %llu); answering 500",
          res->plugin_name, why, fd, static_cast<unsigned long long>(offset),
          static_cast<unsigned long long>(length));
    }
    return rc;
  }
  if (rc != POUNCE_OK) return rc;
  res->file = exchange::FileRef(file);
  res->file_offset = offset;
  res->file_length = length;
  return POUNCE_OK;
}

int api_response_early_hints(pounce_response_t* res,
                             const pounce_header_t* headers, size_t count) {
  if (!res || !headers || count == 0) return POUNCE_ERR_INVALID;
  if (!res->hints) return POUNCE_ERR_STATE;
  std::string lines;
  const int rc = format_early_hints(res, headers, count, &lines);
  if (rc != POUNCE_OK) return rc;
  res->hints->send_early_hints(lines);
  return POUNCE_OK;
}

uint64_t api_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

pounce_host_api_t make_table() {
  pounce_host_api_t t{};
  t.size = sizeof t;
  t.abi_major = POUNCE_ABI_MAJOR;
  t.abi_minor = POUNCE_ABI_MINOR;
  t.log = api_log;
  t.request_header = api_request_header;
  t.request_addr = api_request_addr;
  t.response_status = api_response_status;
  t.response_header = api_response_header;
  t.response_body = api_response_body;
  fill_stream_api(&t);
  t.now_ns = api_now_ns;
  t.request_header_at = api_request_header_at;
  t.request_tls = api_request_tls;
  fill_metrics_api(&t);
  t.response_file = api_response_file;
  t.response_early_hints = api_response_early_hints;
  return t;
}

}  // namespace

const pounce_host_api_t* host_api() {
  static const pounce_host_api_t table = make_table();
  return &table;
}

}  // namespace pounce
