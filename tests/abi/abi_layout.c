/* Prints the binary layout of the plugin ABI: every struct's size, every
 * field's offset and size, the width of every enum type and the value of
 * every constant. Built once against the current header and once against
 * each frozen release header (tests/abi/vX.Y/), so that check_layout.py can
 * prove that a release only appended to what the previous one defined. */
#include <pounce/pounce.h>
#include <stddef.h>
#include <stdio.h>

#define SIZE(T) printf("sizeof %s %zu\n", #T, sizeof(T))
#define FIELD(T, f)                                                   \
  printf("field %s.%s offset=%zu size=%zu\n", #T, #f, offsetof(T, f), \
         sizeof(((T*)0)->f))
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c))

int main(void) {
  SIZE(pounce_plugin_abi_t);
  FIELD(pounce_plugin_abi_t, magic);
  FIELD(pounce_plugin_abi_t, major);
  FIELD(pounce_plugin_abi_t, minor);

  SIZE(pounce_str_t);
  FIELD(pounce_str_t, data);
  FIELD(pounce_str_t, len);

  SIZE(pounce_header_t);
  FIELD(pounce_header_t, name);
  FIELD(pounce_header_t, value);

  SIZE(pounce_addr_t);
  FIELD(pounce_addr_t, size);
  FIELD(pounce_addr_t, family);
  FIELD(pounce_addr_t, port);
  FIELD(pounce_addr_t, text);

#if POUNCE_ABI_MINOR >= 1
  SIZE(pounce_metric_def_t);
  FIELD(pounce_metric_def_t, size);
  FIELD(pounce_metric_def_t, type);
  FIELD(pounce_metric_def_t, name);
  FIELD(pounce_metric_def_t, help);
  FIELD(pounce_metric_def_t, label_names);
  FIELD(pounce_metric_def_t, label_count);
  FIELD(pounce_metric_def_t, buckets);
  FIELD(pounce_metric_def_t, bucket_count);
  SIZE(pounce_tls_info_t);
  FIELD(pounce_tls_info_t, size);
  FIELD(pounce_tls_info_t, resumed);
  FIELD(pounce_tls_info_t, version);
  FIELD(pounce_tls_info_t, cipher);
  FIELD(pounce_tls_info_t, sni);
  FIELD(pounce_tls_info_t, alpn);
  FIELD(pounce_tls_info_t, client_cert);
  FIELD(pounce_tls_info_t, verify_result);
  FIELD(pounce_tls_info_t, client_subject);
  FIELD(pounce_tls_info_t, client_issuer);
  FIELD(pounce_tls_info_t, client_serial);
  FIELD(pounce_tls_info_t, client_sha256);
  FIELD(pounce_tls_info_t, verify_text);
#endif

  SIZE(pounce_request_view_t);
  FIELD(pounce_request_view_t, size);
  FIELD(pounce_request_view_t, version_major);
  FIELD(pounce_request_view_t, version_minor);
  FIELD(pounce_request_view_t, reserved);
  FIELD(pounce_request_view_t, method);
  FIELD(pounce_request_view_t, target);
  FIELD(pounce_request_view_t, path);
  FIELD(pounce_request_view_t, mount_prefix);
  FIELD(pounce_request_view_t, path_info);
  FIELD(pounce_request_view_t, query);
  FIELD(pounce_request_view_t, headers);
  FIELD(pounce_request_view_t, header_count);
  FIELD(pounce_request_view_t, body);
  FIELD(pounce_request_view_t, trailers);
  FIELD(pounce_request_view_t, trailer_count);
  FIELD(pounce_request_view_t, handle);
#if POUNCE_ABI_MINOR >= 1
  FIELD(pounce_request_view_t, scheme);
  FIELD(pounce_request_view_t, authority);
#endif

  SIZE(pounce_host_api_t);
  FIELD(pounce_host_api_t, size);
  FIELD(pounce_host_api_t, abi_major);
  FIELD(pounce_host_api_t, abi_minor);
  FIELD(pounce_host_api_t, log);
  FIELD(pounce_host_api_t, request_header);
  FIELD(pounce_host_api_t, request_addr);
  FIELD(pounce_host_api_t, response_status);
  FIELD(pounce_host_api_t, response_header);
  FIELD(pounce_host_api_t, response_body);
  FIELD(pounce_host_api_t, stream_start);
  FIELD(pounce_host_api_t, stream_write);
  FIELD(pounce_host_api_t, stream_end);
  FIELD(pounce_host_api_t, stream_set_user);
  FIELD(pounce_host_api_t, stream_abort);
  FIELD(pounce_host_api_t, ws_send);
  FIELD(pounce_host_api_t, ws_ping);
  FIELD(pounce_host_api_t, ws_close);
  FIELD(pounce_host_api_t, ws_set_user);
  FIELD(pounce_host_api_t, timer_start);
  FIELD(pounce_host_api_t, timer_stop);
  FIELD(pounce_host_api_t, post);
  FIELD(pounce_host_api_t, now_ns);
#if POUNCE_ABI_MINOR >= 1
  FIELD(pounce_host_api_t, request_header_at);
  FIELD(pounce_host_api_t, request_tls);
  FIELD(pounce_host_api_t, metric_define);
  FIELD(pounce_host_api_t, metric_add);
  FIELD(pounce_host_api_t, metric_set);
  FIELD(pounce_host_api_t, metric_observe);
  FIELD(pounce_host_api_t, response_file);
  FIELD(pounce_host_api_t, stream_write_file);
  FIELD(pounce_host_api_t, response_early_hints);
#endif

  SIZE(pounce_init_args_t);
  FIELD(pounce_init_args_t, size);
  FIELD(pounce_init_args_t, config_json);
  FIELD(pounce_init_args_t, mount_prefix);
  FIELD(pounce_init_args_t, workers);
  FIELD(pounce_init_args_t, async_threads);
  FIELD(pounce_init_args_t, generation);
  FIELD(pounce_init_args_t, error);
  FIELD(pounce_init_args_t, error_cap);

  SIZE(pounce_route_mode_t);
  FIELD(pounce_route_mode_t, prefix);
  FIELD(pounce_route_mode_t, mode);

  SIZE(pounce_ws_upgrade_t);
  FIELD(pounce_ws_upgrade_t, size);
  FIELD(pounce_ws_upgrade_t, offered_protocols);
  FIELD(pounce_ws_upgrade_t, offered_count);
  FIELD(pounce_ws_upgrade_t, chosen_protocol);
  FIELD(pounce_ws_upgrade_t, reject_status);
  FIELD(pounce_ws_upgrade_t, user);

  SIZE(pounce_plugin_t);
  FIELD(pounce_plugin_t, size);
  FIELD(pounce_plugin_t, name);
  FIELD(pounce_plugin_t, version);
  FIELD(pounce_plugin_t, mode);
  FIELD(pounce_plugin_t, routes);
  FIELD(pounce_plugin_t, route_count);
  FIELD(pounce_plugin_t, init);
  FIELD(pounce_plugin_t, shutdown);
  FIELD(pounce_plugin_t, on_draining);
  FIELD(pounce_plugin_t, on_handle);
  FIELD(pounce_plugin_t, on_request);
  FIELD(pounce_plugin_t, on_body);
  FIELD(pounce_plugin_t, on_writable);
  FIELD(pounce_plugin_t, on_close);
  FIELD(pounce_plugin_t, on_ws_upgrade);
  FIELD(pounce_plugin_t, on_ws_open);
  FIELD(pounce_plugin_t, on_ws_message);
  FIELD(pounce_plugin_t, on_ws_close);
  FIELD(pounce_plugin_t, on_ws_writable);
#if POUNCE_ABI_MINOR >= 1
  FIELD(pounce_plugin_t, on_ws_upgrade_abandoned);
#endif

  /* Types that cross the ABI by value: their width is part of it. */
  SIZE(pounce_result_t);
  SIZE(pounce_mode_t);
  SIZE(pounce_log_level_t);
  SIZE(pounce_drain_reason_t);
  SIZE(pounce_ws_opcode_t);
  SIZE(pounce_close_reason_t);
  SIZE(pounce_stream_t);
  SIZE(pounce_ws_t);
  SIZE(pounce_timer_t);

  CONST(POUNCE_ABI_MAGIC);
  CONST(POUNCE_ABI_MAJOR);
  CONST(POUNCE_OK);
  CONST(POUNCE_HIGH_WATER);
  CONST(POUNCE_ERR_CLOSED);
  CONST(POUNCE_ERR_INVALID);
  CONST(POUNCE_ERR_STATE);
  CONST(POUNCE_ERR_NOMEM);
  CONST(POUNCE_ERR_TOO_LARGE);
  CONST(POUNCE_ERR_UNSUPPORTED);
  CONST(POUNCE_MODE_SYNC);
  CONST(POUNCE_MODE_ASYNC);
  CONST(POUNCE_LOG_DEBUG);
  CONST(POUNCE_LOG_INFO);
  CONST(POUNCE_LOG_WARN);
  CONST(POUNCE_LOG_ERROR);
  CONST(POUNCE_DRAIN_RELOAD);
  CONST(POUNCE_DRAIN_SHUTDOWN);
  CONST(POUNCE_WS_TEXT);
  CONST(POUNCE_WS_BINARY);
  CONST(POUNCE_CLOSE_DONE);
  CONST(POUNCE_CLOSE_PEER);
  CONST(POUNCE_CLOSE_TIMEOUT);
  CONST(POUNCE_CLOSE_OVERFLOW);
  CONST(POUNCE_CLOSE_SHUTDOWN);
  CONST(POUNCE_CLOSE_ERROR);
#if POUNCE_ABI_MINOR >= 1
  CONST(POUNCE_ABI_MINOR);
  CONST(POUNCE_MODE_BLOCKING);
  CONST(POUNCE_CLOSE_RESET);
  CONST(POUNCE_AF_UNSPEC);
  CONST(POUNCE_AF_UNIX);
  CONST(POUNCE_AF_INET);
  CONST(POUNCE_AF_INET6);
#endif
  return 0;
}
