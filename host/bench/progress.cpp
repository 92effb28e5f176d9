#include "bench/progress.h"

#include <unistd.h>

#include <cstdio>

#include "bench/format.h"

namespace pounce::bench {

ProgressLine::ProgressLine(bool wanted)
    : enabled_(wanted && isatty(STDERR_FILENO)) {}

void ProgressLine::update(const std::string& label, double elapsed_s,
                          double duration_s, uint64_t completed,
                          const char* unit) {
  if (!enabled_) return;
  std::string rate =
      elapsed_s > 0.05
          ? format_count(static_cast<double>(completed) / elapsed_s) + " " +
                unit + "/s"
          : "...";
  // \r and "erase to end of line": the new text may be shorter.
  if (elapsed_s < 0) {
    fprintf(stderr, "\r\033[K%s  warm-up %.1fs", label.c_str(), -elapsed_s);
  } else {
    fprintf(stderr, "\r\033[K%s  %.1fs/%.0fs  %s", label.c_str(), elapsed_s,
            duration_s, rate.c_str());
  }
  fflush(stderr);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!shown_) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
  shown_ = false;
}

}  // namespace pounce::bench
