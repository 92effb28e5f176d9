#include "plugin/stream_api.h"

namespace pounce {

namespace {

// The async pool is not part of this build yet: async plugins are refused at
// load time (see Server), so these entries can only be reached by a sync
// plugin calling them by mistake. They answer "unsupported", never crash.
int unsupported_start(pounce_stream_t, int, const pounce_header_t*, size_t,
                      int64_t) {
  return POUNCE_ERR_UNSUPPORTED;
}
int unsupported_write(pounce_stream_t, const void*, size_t) {
  return POUNCE_ERR_UNSUPPORTED;
}
int unsupported_end(pounce_stream_t, const pounce_header_t*, size_t) {
  return POUNCE_ERR_UNSUPPORTED;
}
int unsupported_set_user(uint64_t, void*) { return POUNCE_ERR_UNSUPPORTED; }
int unsupported_abort(pounce_stream_t) { return POUNCE_ERR_UNSUPPORTED; }
int unsupported_ws_send(pounce_ws_t, pounce_ws_opcode_t, const void*, size_t) {
  return POUNCE_ERR_UNSUPPORTED;
}
int unsupported_ws_ping(pounce_ws_t, const void*, size_t) {
  return POUNCE_ERR_UNSUPPORTED;
}
int unsupported_ws_close(pounce_ws_t, uint16_t, pounce_str_t) {
  return POUNCE_ERR_UNSUPPORTED;
}
pounce_timer_t unsupported_timer_start(uint64_t, uint64_t, uint64_t,
                                       pounce_timer_fn, void*) {
  return 0;
}
int unsupported_timer_stop(pounce_timer_t) { return POUNCE_ERR_UNSUPPORTED; }
int unsupported_post(uint64_t, pounce_callback_fn, void*) {
  return POUNCE_ERR_UNSUPPORTED;
}

}  // namespace

void fill_stream_api(pounce_host_api_t* t) {
  t->stream_start = unsupported_start;
  t->stream_write = unsupported_write;
  t->stream_end = unsupported_end;
  t->stream_set_user = unsupported_set_user;
  t->stream_abort = unsupported_abort;
  t->ws_send = unsupported_ws_send;
  t->ws_ping = unsupported_ws_ping;
  t->ws_close = unsupported_ws_close;
  t->ws_set_user = unsupported_set_user;
  t->timer_start = unsupported_timer_start;
  t->timer_stop = unsupported_timer_stop;
  t->post = unsupported_post;
}

}  // namespace pounce
