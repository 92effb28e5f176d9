// The live progress line on stderr, for long runs: which run, how far, and
// the rate so far. Only on a terminal: in a log file or CI output a line
// redrawn with '\r' four times a second is noise.
#pragma once

#include <cstdint>
#include <string>

namespace pounce::bench {

class ProgressLine {
 public:
  // Shown only when `wanted` and stderr is a TTY.
  explicit ProgressLine(bool wanted);
  ~ProgressLine() { clear(); }

  // `label` e.g. "round 1/3 hello pounce"; elapsed < 0 is the warm-up.
  void update(const std::string& label, double elapsed_s, double duration_s,
              uint64_t completed, const char* unit);
  void clear();
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool shown_ = false;
};

}  // namespace pounce::bench
