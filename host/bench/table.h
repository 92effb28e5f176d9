// The final table: one row per workload and server, medians over the
// rounds, with n/a rows for what a server cannot serve and a warning for
// every run that answered with errors.
#pragma once

#include <string>

#include "bench/run_record.h"

namespace pounce::bench {

std::string render_table(const RunRecord& run);

}  // namespace pounce::bench
