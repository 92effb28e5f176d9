#include "net/accept_errors.h"

#include "log/logger.h"

namespace pounce {

void AcceptErrors::failed(int code, const char* text) {
  if (failures_ != 0 && code == code_) {
    ++failures_;
    return;
  }
  if (failures_ != 0) end();  // another error: a new episode
  code_ = code;
  text_ = text;
  failures_ = 1;
  started_ = std::chrono::steady_clock::now();
  LOG_WARN("accept: %s; %s (logged once until accepts work again)", text,
           consequence_);
}

void AcceptErrors::end() {
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_)
          .count();
  LOG_INFO("accept: working again after %llu failed attempts in %.1f s (%s)",
           static_cast<unsigned long long>(failures_), secs, text_);
  failures_ = 0;
}

}  // namespace pounce
